"""Pathway-model fit time against cohort size (issue 11: linear to 8,000 patients).

    python -m benchmarks.bench_pathway_scaling [--sizes 1000,2000,4000,8000] [--draws 500]

Cohorts are simulated from the bundled ``cog_like`` specification (the pathway generator of
``relapse-model cohorts``) at each size; each is fitted once small (to compile and load the
caches for that size), then timed: 2 chains x ``draws`` after as many tuning steps, default
sampler, seed 1, in this process. Reports wall, sampling seconds, leapfrog steps per draw and
the log-log slope of fit time (1 = linear), with the load average at each fit's start.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000,8000")
    parser.add_argument("--draws", type=int, default=500)
    args = parser.parse_args(argv)

    from relapse_model.cohort.cohort import Cohort
    from relapse_model.models.pathway.model import PathwayModel
    from relapse_model.reference.generator import simulate_reference_cohort
    from relapse_model.reference.spec import bundled_specs

    spec = {s.name: s for s in bundled_specs()}["cog_like"]
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        frame = simulate_reference_cohort(n, spec.study_list(), spec.generator_parameters(), spec.seed)
        cohort = Cohort.from_frame(frame, source=f"simulated cog_like n={n}")
        PathwayModel().fit(cohort, draws=10, tune=10, chains=1, random_seed=1, progressbar=False)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        model = PathwayModel().fit(cohort, draws=args.draws, tune=args.draws, chains=2, random_seed=1,
                                   progressbar=False)
        wall = time.perf_counter() - t0
        checks = model.check().set_index("diagnostic")["value"]
        stats = model.posterior["sample_stats"]
        rows.append((n, wall, float(model.posterior.attrs["sampling_seconds"]), float(stats["n_steps"].mean()),
                     float(checks["max R-hat"]), float(checks["min bulk ESS"]), int(checks["divergences"]), load))
        print(f"{n:>6} patients: fit {wall:6.1f} s, sampling {rows[-1][2]:6.1f} s, {rows[-1][3]:.1f} steps/draw, "
              f"R-hat {rows[-1][4]:.4f}, min bulk ESS {rows[-1][5]:.0f}, divergences {rows[-1][6]}, load {load:.2f}",
              flush=True)
    ns = np.array([r[0] for r in rows], float)
    if len(rows) >= 2:
        fit_slope = np.polyfit(np.log(ns), np.log([r[1] for r in rows]), 1)[0]
        per_step = np.polyfit(np.log(ns), np.log([r[2] / r[3] for r in rows]), 1)[0]
        print(f"log-log slope of fit time {fit_slope:.2f}; of sampling time per leapfrog step {per_step:.2f}")


if __name__ == "__main__":
    main()

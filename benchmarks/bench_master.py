"""Master protocols through the pathway model: 10,000 simulated protocols of
``reports/trials/pedal_master.toml`` (4 subtrials, pathway outcomes from posterior draws), one
scenario, on one process; target <= 10 s on 2 cores. Also a single-arm Simon trial and a
two-arm response trial of 10,000 replicates each.

There is no peer tool to time against (FACTS' platform engine is closed, the basket-trial
packages are binary only and know no pathway): the figures are absolute, with the machine's
load average beside them.

Usage: ``python -m benchmarks.bench_master [--fit FIT]``. Without ``--fit`` it fits the pathway
model to the BFM-like cohort once (2 chains x 500 draws, a few minutes) and keeps the fit in
``.cache/bench/pathway_bfm.nc``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from benchmarks.timing import best_of

CACHE = Path(".cache/bench/pathway_bfm.nc")


def _model(fit: str | None):
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models import RelapseModel
    from relapse_model.models.pathway.model import PathwayModel

    if fit:
        return RelapseModel.load(fit)
    if CACHE.is_file():
        return RelapseModel.load(CACHE)
    model = PathwayModel().fit(load_bundled("bfm_like"), draws=500, tune=500, chains=2, random_seed=1,
                               progressbar=False)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    model.save(CACHE)
    return model


def main(fit: str | None = None, n_trials: int = 10_000) -> None:
    from relapse_model.simulate.engine import operating_characteristics, simulate_trials
    from relapse_model.simulate.spec import load_trial_spec

    model = _model(fit)
    for name in ("pedal_master", "venetoclax_single_arm", "dnx_response"):
        spec = load_trial_spec(f"reports/trials/{name}.toml")
        simulate_trials(model, spec, seed=0, n_trials=250, scenarios=("no_effect",), curves=False)   # warm up
        seconds = best_of(lambda spec=spec: simulate_trials(model, spec, seed=1, n_trials=n_trials,
                                                            scenarios=("no_effect",), curves=False), repeat=3)
        ds = simulate_trials(model, spec, seed=1, n_trials=n_trials, scenarios=("no_effect",), curves=False)
        oc = operating_characteristics(ds)
        p = float(oc["P(success)"].iloc[-1])
        print(f"{name}: {n_trials:,} replicates (no_effect) in {seconds:.2f} s, best of 3, one process "
              f"(load average {os.getloadavg()[0]:.2f}); P(success) {p:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", default=None)
    parser.add_argument("--n-trials", type=int, default=10_000)
    args = parser.parse_args()
    main(args.fit, args.n_trials)

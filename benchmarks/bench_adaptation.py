"""nutpie's mass-matrix adaptation on the default model: ESS, steps per draw, divergences.

The default fit (``RelapseModel().build(cog_like)``, 4 chains x 1000 tuning + 1000 draws,
``target_accept`` 0.95, nutpie on Numba) is sampled for each seed with each adaptation of
``nutpie.sample`` (``"diag"``, nutpie's default and the package's, from draw and gradient
variance; ``"draw_diag"``, from draw variance only as Stan and PyMC do; ``"low_rank"``), in one
process after one compilation. Per run: the lowest bulk ESS over all posterior elements and
where it is, leapfrog steps per draw, divergences and seconds of sampling, then the median
per adaptation.

Run with ``python -m benchmarks.bench_adaptation`` (``--seeds 1,2,3``, ``--adaptations
diag,draw_diag``, ``--model pathway`` for the pathway model's default fit instead). About 10 s
per run on 2 cores (the pathway model: about 30 s). Sampling seconds from one process on a
possibly shared machine: compare them within a run, not across runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.bench_model import lowest_bulk_ess, steps_per_draw

ADAPTATIONS = ("diag", "draw_diag", "low_rank")
MODELS = ("default", "pathway")
SEEDS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


def run(adaptations: tuple[str, ...], seeds: tuple[int, ...], model: str = "default") -> list[dict]:
    """One fit per adaptation and seed of ``model`` ("default" or "pathway"); one row per fit."""
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models.model import RelapseModel
    from relapse_model.models.pathway.model import PathwayModel
    from relapse_model.models.sampling import sample_posterior

    pymc_model = (PathwayModel() if model == "pathway" else RelapseModel()).build(load_bundled("cog_like"))
    rows = []
    for adaptation in adaptations:
        for seed in seeds:
            t0 = time.perf_counter()
            tree = sample_posterior(pymc_model, random_seed=seed, sampler="nutpie", log_likelihood=False,
                                    options={"adaptation": adaptation})
            ess, where = lowest_bulk_ess(tree)
            stats = tree["sample_stats"]
            row = {"adaptation": adaptation, "seed": seed, "min_ess_bulk": ess, "lowest": where,
                   "steps": steps_per_draw(tree), "divergences": int(stats["diverging"].sum()),
                   "sampling_s": float(tree.attrs["sampling_seconds"]), "wall_s": time.perf_counter() - t0}
            rows.append(row)
            print(f"{adaptation:>10} seed {seed}: min bulk ESS {ess:6.0f} ({where}), {row['steps']:4.1f} steps/draw, "
                  f"{row['divergences']} div, sampling {row['sampling_s']:4.1f} s", flush=True)
    return rows


def summary(rows: list[dict]) -> str:
    """Median per adaptation, as a table that fits 100 columns."""
    lines = [f"{'adaptation':>10} {'runs':>4} {'min ESS (median, range)':>24} {'steps':>6} "
             f"{'runs w/ div':>11} {'sampling s':>10} {'ESS/s':>6}"]
    for adaptation in dict.fromkeys(r["adaptation"] for r in rows):
        mine = [r for r in rows if r["adaptation"] == adaptation]
        ess = [r["min_ess_bulk"] for r in mine]
        secs = statistics.median(r["sampling_s"] for r in mine)
        spread = f"{statistics.median(ess):.0f} ({min(ess):.0f}-{max(ess):.0f})"
        lines.append(f"{adaptation:>10} {len(mine):>4} {spread:>24} "
                     f"{statistics.median(r['steps'] for r in mine):>6.1f} "
                     f"{sum(r['divergences'] > 0 for r in mine):>11} {secs:>10.1f} "
                     f"{statistics.median(ess) / secs:>6.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_adaptation", description=__doc__.splitlines()[0])
    parser.add_argument("--adaptations", default=",".join(ADAPTATIONS))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--model", choices=MODELS, default="default")
    args = parser.parse_args(argv)
    adaptations = tuple(a for a in args.adaptations.split(",") if a)
    unknown = [a for a in adaptations if a not in ADAPTATIONS]
    if unknown:
        parser.error(f"--adaptations: {', '.join(unknown)}: not one of {', '.join(ADAPTATIONS)}")
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s)
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers")
    text = summary(run(adaptations, seeds, args.model))
    print(text)
    return text


if __name__ == "__main__":
    main()

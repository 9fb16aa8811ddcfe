"""One warm fit of the pathway model on a bundled cohort (4 chains x 1,000 draws + 1,000 tune),
its wall time and convergence diagnostics.

    python -m benchmarks.bench_pathway_fit [cohort] [--save DRAWS.npz]

Compile once first (a 2-chain, 20-draw fit) so the timed fit is warm.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main(argv: list[str]) -> None:
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models.pathway.model import PathwayModel

    names = [a for a in argv if not a.startswith("--") and not a.endswith(".npz")]
    cohort = load_bundled(names[0] if names else "cog_like")
    PathwayModel().fit(cohort, random_seed=1, progressbar=False, draws=20, tune=20, chains=2)
    t0 = time.perf_counter()
    model = PathwayModel().fit(cohort, random_seed=1, progressbar=False)
    seconds = time.perf_counter() - t0
    tree = model.posterior
    stats = tree["sample_stats"]
    print(f"{len(cohort)} patients: fit {seconds:.1f} s (sampling {tree.attrs['sampling_seconds']:.1f} s, "
          f"log-likelihood {tree.attrs['log_likelihood_seconds']:.1f} s)")
    print(f"mean tree depth {float(stats['depth' if 'depth' in stats else 'tree_depth'].mean()):.2f}, mean steps {float(stats['n_steps'].mean()):.1f}")
    print(model.check().to_string())
    print("log_likelihood pathway:", tree["log_likelihood"]["pathway"].shape)
    if "--save" in argv:
        post = tree["posterior"].to_dataset()
        np.savez(argv[argv.index("--save") + 1], **{k: post[k].to_numpy() for k in post.data_vars})


if __name__ == "__main__":
    main(sys.argv[1:])

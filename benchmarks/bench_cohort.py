"""Cohort loading and stemness scoring, against peers on the same data in the same run.

- load + validate a large cohort vs ``pandas.read_csv`` of the same file (the floor: parsing only);
- vectorised LSC17 scoring vs a plain Python loop over samples and genes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.timing import best_of
from relapse_model.cohort import load_cohort
from relapse_model.reference.generator import simulate_reference_cohort
from relapse_model.reference.spec import bundled_specs
from relapse_model.scores.stemness import stemness_score
from relapse_model.scores.weights import LSC17_WEIGHTS


def main(n_patients: int = 20_000, n_samples: int = 20_000) -> None:
    spec = {s.name: s for s in bundled_specs()}["cog_like"]
    with tempfile.TemporaryDirectory(dir=Path(".cache") if Path(".cache").is_dir() else None) as tmp:
        path = Path(tmp) / "big.csv"
        t_gen = best_of(lambda: simulate_reference_cohort(n_patients, spec.study_list(),
                                                        spec.generator_parameters(), 1), 1)
        simulate_reference_cohort(n_patients, spec.study_list(), spec.generator_parameters(), 1).to_csv(path, index=False)
        t_read = best_of(lambda: pd.read_csv(path))
        t_load = best_of(lambda: load_cohort(path))
    print(f"cohort generator: {n_patients} patients in {t_gen:.2f} s")
    print(f"load+validate {n_patients} patients: {t_load:.2f} s; pandas.read_csv alone {t_read:.3f} s; "
          f"ratio {t_load / t_read:.1f}x the parse-only floor")

    rng = np.random.default_rng(0)
    expr = pd.DataFrame(rng.normal(7, 1.5, (n_samples, 17)), columns=list(LSC17_WEIGHTS))

    def naive() -> list[float]:
        rows = expr.to_dict("records")
        return [sum(w * r[g] for g, w in LSC17_WEIGHTS.items()) for r in rows]

    t_vec = best_of(lambda: stemness_score(expr, "lsc17"))
    t_loop = best_of(naive)
    assert np.allclose(stemness_score(expr, "lsc17").to_numpy(), naive())
    print(f"LSC17 for {n_samples} samples: vectorised {t_vec * 1e3:.1f} ms, Python loop "
          f"{t_loop * 1e3:.1f} ms: {t_loop / t_vec:.0f}x faster")


if __name__ == "__main__":
    main()

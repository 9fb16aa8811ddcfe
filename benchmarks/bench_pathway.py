"""The pathway model: fit time and convergence on the bundled cohorts, landmark-prediction time,
and the LOO comparison with the one-step competing-risk model on one endpoint (EFS).

    python -m benchmarks pathway            # both cohorts, 4 chains x 1,000 draws (about 8 min)
    python -m benchmarks.bench_pathway --medium  # both cohorts, 2 chains x 500 draws
    python -m benchmarks.bench_pathway --quick   # bfm_like only, 2 x 300 draws

The pathway model and the one-step model are likelihoods of different observations (whole paths
vs first event), so their ELPDs are not comparable; each model's PSIS-LOO predictions of EFS at
12, 36 and 60 months are (:func:`relapse_model.checks.loo.loo_efs_accuracy`). The one-step model
with MRD among its covariates uses information from after re-induction (MRD is measured in
remission, so "MRD unknown" mostly means no response), which predictions at relapse do not
have: it is shown beside the fair comparison, without MRD.
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from relapse_model.checks.loo import loo_efs_accuracy, loo_table
from relapse_model.cohort.bundled import load_bundled
from relapse_model.common.tables import markdown_table
from relapse_model.models import RelapseModel

VARIANTS = {
    "pathway (whole paths)": {"outcome": "pathway"},
    "one-step competing + cure, no MRD": {"include_mrd": False},
    "one-step competing + cure, with MRD (after re-induction)": {},
}


def _fit(settings: dict, cohort, sampler: dict):
    t0 = time.perf_counter()
    model = RelapseModel(**settings).fit(cohort, progressbar=False, **sampler)
    return model, time.perf_counter() - t0


def compare(name: str, sampler: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    cohort = load_bundled(name)
    fits, rows = {}, []
    for label, settings in VARIANTS.items():
        model, seconds = _fit(settings, cohort, sampler)
        checks = model.check().set_index("diagnostic")["value"]
        fits[label] = model
        rows.append({"cohort": name, "model": label, "fit s": round(seconds), "max R-hat": round(checks["max R-hat"], 3),
                     "min bulk ESS": int(checks["min bulk ESS"]), "divergences": int(checks["divergences"])})
    accuracy = loo_efs_accuracy(fits, cohort).assign(cohort=name)
    own = loo_table(fits)[["model", "elpd_loo", "se", "p_loo"]]
    return pd.DataFrame(rows).merge(own, on="model"), accuracy


def landmark_timing(model, cohort, draws: int = 1000) -> float:
    t0 = time.perf_counter()
    model.predict(cohort, times=[12, 36, 60], landmark=6.0, max_draws=draws, replicates=10)
    return time.perf_counter() - t0


def main(quick: bool = False, medium: bool = False) -> None:
    sampler = ({"draws": 300, "tune": 300, "chains": 2, "random_seed": 1} if quick else
               {"draws": 500, "tune": 500, "chains": 2, "random_seed": 1} if medium else
               {"draws": 1000, "tune": 1000, "chains": 4, "random_seed": 1})
    fits, scores = [], []
    for name in (["bfm_like"] if quick else ["bfm_like", "cog_like"]):
        f, s = compare(name, sampler)
        fits.append(f)
        scores.append(s)
    print("## Fits\n\n" + markdown_table(pd.concat(fits, ignore_index=True)))
    table = pd.concat(scores, ignore_index=True)[["cohort", "model", "harrell_c", "uno_c", "mean_auc",
                                                  "integrated_brier", "pareto k > 0.7", "n"]]
    print("\n## LOO predictions of EFS (12, 36, 60 months)\n\n" + markdown_table(table.round(3)))
    cohort = load_bundled("cog_like" if not quick else "bfm_like")
    model = RelapseModel(outcome="pathway").fit(cohort, progressbar=False, **sampler)
    print(f"\nlandmark predictions (6 months; 12/36/60) for {len(cohort)} patients x "
          f"{min(1000, sampler['draws'] * sampler['chains'])} draws x 10 paths: {landmark_timing(model, cohort):.1f} s")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv, medium="--medium" in sys.argv)

"""Prior sensitivity: how far effects and headline probabilities move under other priors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relapse_model.cohort.cohort import Cohort


def prior_sensitivity(reference, alternative, cohort: Cohort, horizons: tuple[float, ...] = (12.0, 60.0)) -> dict[str, pd.DataFrame]:
    """Compare two fits of the same model and data that differ only in their priors.

    Parameters
    ----------
    reference, alternative : RelapseModel
        E.g. fitted with ``priors/default.toml`` and ``priors/weak.toml``.
    cohort : Cohort
        Patients whose average probabilities are the headline numbers.

    Returns
    -------
    dict
        ``"effects"``: each effect's posterior median and 95% CrI under both priors, the ratio
        of medians and the shift in units of the reference posterior's log-scale width;
        ``"probabilities"``: cohort-average relapse incidence, EFS and cure at each horizon under
        both priors and the absolute difference.
    """
    a, b = reference.hazard_ratios(), alternative.hazard_ratios()
    merged = a.merge(b, on=["term", "covariate", "scale"], suffixes=("_ref", "_alt"))
    width = (np.log(merged["posterior_upper_ref"]) - np.log(merged["posterior_lower_ref"])) / 3.92
    effects = pd.DataFrame({
        "term": merged["term"], "covariate": merged["covariate"], "scale": merged["scale"],
        "median (reference)": merged["posterior_median_ref"],
        "95% CrI (reference)": [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(merged.posterior_lower_ref, merged.posterior_upper_ref)],
        "median (alternative)": merged["posterior_median_alt"],
        "95% CrI (alternative)": [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(merged.posterior_lower_alt, merged.posterior_upper_alt)],
        "ratio of medians": merged["posterior_median_alt"] / merged["posterior_median_ref"],
        "shift (reference posterior SDs)": np.log(merged["posterior_median_alt"] / merged["posterior_median_ref"]) / width,
    })
    pa = reference.predict(cohort, list(horizons)).sel(estimate="mean")
    pb = alternative.predict(cohort, list(horizons)).sel(estimate="mean")
    rows = []
    for var in pa.data_vars:
        hs = pa["horizon"].to_numpy() if "horizon" in pa[var].dims else [np.nan]
        for h in hs:
            sel = {"horizon": h} if "horizon" in pa[var].dims else {}
            va, vb = float(pa[var].sel(sel).mean()), float(pb[var].sel(sel).mean())
            rows.append({"quantity": str(var), "horizon": h, "reference": va, "alternative": vb,
                         "difference": vb - va})
    return {"effects": effects, "probabilities": pd.DataFrame(rows)}

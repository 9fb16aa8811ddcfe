"""Effect tables: posterior and prior of every covariate effect on its natural scale."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.cohort.vocabulary import CYTOGENETICS, RISK_GROUP_OF
from relapse_model.models.design import EFFECT_GROUPS
from relapse_model.priors.spec import PriorSet

SCALES = {
    "cure": "odds ratio of cure",
    "relapse": "hazard ratio of relapse (non-cured)",
    "death": "hazard ratio of death without relapse",
}


def _quantiles(x: np.ndarray, interval: float) -> tuple[float, float, float]:
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    return tuple(float(v) for v in np.exp(np.quantile(x, [0.5, lo, hi])))  # type: ignore[return-value]


def effect_table(posterior: xr.Dataset, priors: PriorSet, config: dict[str, Any],
                 interval: float = 0.95, prior_draws: int = 20_000) -> pd.DataFrame:
    """Rows: term (section), covariate, scale, posterior median/lower/upper, prior median/lower/upper."""
    rows = []
    rng = np.random.default_rng(0)
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    hierarchy = "cure" if config["cure"] else "relapse"

    def add(section: str, name: str, draws: np.ndarray, prior: tuple[float, float, float], scale: str | None = None):
        med, low, up = _quantiles(draws, interval)
        rows.append({"term": section, "covariate": name, "scale": scale or SCALES[section],
                     "posterior_median": med, "posterior_lower": low, "posterior_upper": up,
                     "prior_median": prior[0], "prior_lower": prior[1], "prior_upper": prior[2]})

    sections = [("cure", "cure_covariate")] if config["cure"] else []
    sections += [("relapse", "relapse_covariate")]
    if config["outcome"] == "competing":
        sections += [("death", "death_covariate")]
    for section, dim in sections:
        var = f"{section}_beta"
        if var not in posterior:
            continue
        for cov in posterior[dim].to_numpy():
            p = priors[section, str(cov)]
            q = np.exp(p.quantiles((0.5, lo, hi)))
            add(section, str(cov), posterior[var].sel({dim: cov}).to_numpy().ravel(), tuple(q))

    if not config.get("hierarchy", True):
        return pd.DataFrame(rows)
    # cytogenetic classes: prior by simulation through the hierarchy
    group_prior = {g: priors[hierarchy, f"risk_group.{g}"].sample(rng, prior_draws) for g in EFFECT_GROUPS}
    class_sd = priors[hierarchy, "class_sd"].sample(rng, prior_draws)
    for cls in CYTOGENETICS:
        group = RISK_GROUP_OF[cls]
        centre = group_prior[group] if group in group_prior else np.zeros(prior_draws)
        prior = centre + class_sd * rng.standard_normal(prior_draws)
        q = tuple(float(v) for v in np.exp(np.quantile(prior, [0.5, lo, hi])))
        add(hierarchy, f"cytogenetics: {cls}", posterior[f"{hierarchy}_class"].sel(cytogenetics=cls).to_numpy().ravel(),
            q, SCALES[hierarchy] + " vs intermediate risk")
    return pd.DataFrame(rows)

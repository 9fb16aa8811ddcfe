"""Effect tables: posterior and prior of every covariate effect on its natural scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.models.hierarchy import CLASS_SD_KEY, GROUP_PRIOR_KEYS, Names, class_effects
from relapse_model.models.spec import ModelSpec
from relapse_model.priors.spec import PriorSet

SCALES = {
    "cure": "odds ratio of cure",
    "relapse": "hazard ratio of relapse (non-cured)",
    "death": "hazard ratio of death without relapse",
}


def ratio_quantiles(log_values: np.ndarray, interval: float) -> tuple[float, float, float]:
    """Median and equal-tailed interval of ``exp(log_values)``."""
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    return tuple(float(v) for v in np.exp(np.quantile(log_values, [0.5, lo, hi])))  # type: ignore[return-value]


def effect_row(section: str, name: str, posterior: tuple[float, float, float], prior: tuple[float, float, float],
               scale: str) -> dict[str, object]:
    """One row of an effect table (posterior and prior median, lower, upper)."""
    return {"term": section, "covariate": name, "scale": scale,
            "posterior_median": posterior[0], "posterior_lower": posterior[1], "posterior_upper": posterior[2],
            "prior_median": prior[0], "prior_lower": prior[1], "prior_upper": prior[2]}


def class_prior_draws(priors: PriorSet, section: str, n_draws: int) -> np.ndarray:
    """Class effects (n_draws, n_classes) simulated through the hierarchy from its priors."""
    rng = np.random.default_rng(0)
    groups = np.column_stack([priors[section, k].sample(rng, n_draws) for k in GROUP_PRIOR_KEYS])
    class_sd = priors[section, CLASS_SD_KEY].sample(rng, n_draws)
    return class_effects(groups, class_sd, rng.standard_normal((len(CYTOGENETICS), n_draws)).T)


def effect_table(posterior: xr.Dataset, priors: PriorSet, spec: ModelSpec,
                 interval: float = 0.95, prior_draws: int = 20_000) -> pd.DataFrame:
    """Rows: term (section), covariate, scale, posterior median/lower/upper, prior median/lower/upper."""
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    sections = (["cure"] if spec.cure else []) + ["relapse"] + (["death"] if spec.competing else [])
    rows = []
    for section in sections:
        names = Names(section)
        if names.beta not in posterior:
            continue
        for cov in posterior[names.covariate_dim].to_numpy():
            prior = tuple(float(v) for v in np.exp(priors[section, str(cov)].quantiles((0.5, lo, hi))))
            draws = posterior[names.beta].sel({names.covariate_dim: cov}).to_numpy().ravel()
            rows.append(effect_row(section, str(cov), ratio_quantiles(draws, interval), prior, SCALES[section]))
    if not spec.hierarchy:
        return pd.DataFrame(rows)
    section = spec.hierarchy_section
    prior_classes = class_prior_draws(priors, section, prior_draws)
    for j, cls in enumerate(CYTOGENETICS):
        draws = posterior[Names(section).class_effect].sel(cytogenetics=cls).to_numpy().ravel()
        rows.append(effect_row(section, f"cytogenetics: {cls}", ratio_quantiles(draws, interval),
                         ratio_quantiles(prior_classes[:, j], interval), SCALES[section] + " vs intermediate risk"))
    return pd.DataFrame(rows)

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


def effect_view(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The effect table per scale, as printed: readable effect names, posterior median (95% CrI)
    beside the prior's median (95% interval)."""
    from relapse_model.models.labels import label

    def ratio(m: float, lo: float, hi: float) -> str:
        return "" if m != m else f"{m:.2f} ({lo:.2f}-{hi:.2f})"

    views = {}
    for scale, part in table.groupby("scale", sort=False):
        views[str(scale)] = pd.DataFrame({
            "effect": [label(c) for c in part["covariate"]],
            "posterior median (95% CrI)": [ratio(*v) for v in
                                           zip(part.posterior_median, part.posterior_lower, part.posterior_upper)],
            "prior median (95%)": [ratio(*v) for v in zip(part.prior_median, part.prior_lower, part.prior_upper)],
        })
    return views


def effect_text(table: pd.DataFrame) -> str:
    """The effect table as printed by ``print(model.hazard_ratios())``: one block per scale."""
    from relapse_model.common.display import render_table

    return "\n".join(render_table(view, scale[0].upper() + scale[1:]) for scale, view in effect_view(table).items())


def readable_effects(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` printing as :func:`effect_text` (the data unchanged)."""
    from relapse_model.common.display import readable

    return readable(table, effect_text)

"""The pathway model's effect table: every transition effect on its natural scale, posterior
beside prior (the same columns as :func:`relapse_model.models.effects.effect_table`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.models.effects import class_prior_draws, effect_row, ratio_quantiles
from relapse_model.models.hierarchy import Names
from relapse_model.models.pathway.build import TRANSPLANT_MODIFIERS
from relapse_model.priors.spec import PriorSet

#: Coefficient vectors: (posterior section, priors section, scale).
SECTIONS = (
    ("refractory", "refractory", "odds ratio of refractory disease (vs response)"),
    ("early_death", "early_death", "odds ratio of early death (vs response)"),
    ("remission_cure", "remission_cure", "odds ratio of cure in remission"),
)
#: Transplant and relapsed-state effects: (posterior variable, priors section, key, label, scale).
SCALARS = (
    ("transplant_cure_shift", "transplant_cure", "shift", "transplant (MRD-neg., at 3 months)",
     "transplant: odds ratio of cure after vs before"),
    ("transplant_relapse_log_hr", "transplant_relapse", "log_hazard_ratio", "transplant (non-cured)",
     "transplant: hazard ratio of relapse after vs before"),
    ("rr_death_second_relapse_log_hr", "refractory_death", "second_relapse", "second relapse vs refractory",
     "hazard ratio of death in the relapsed/refractory state"),
)
TRANSPLANT_MODIFIER_SCALE = "transplant: modifiers of its odds ratio of cure"
#: Scales of the class effects (against the intermediate risk group), per section.
CLASS_SCALES = {"refractory": "class vs intermediate risk: OR of refractory disease",
                "remission_cure": "class vs intermediate risk: OR of cure in remission"}


def _prior(priors: PriorSet, section: str, key: str, interval: float) -> tuple[float, float, float]:
    lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
    return tuple(float(v) for v in np.exp(priors[section, key].quantiles((0.5, lo, hi))))  # type: ignore[return-value]


def pathway_effect_table(posterior: xr.Dataset, priors: PriorSet, *, hierarchy: bool = True,
                         interval: float = 0.95, prior_draws: int = 20_000) -> pd.DataFrame:
    """Rows: term, covariate, scale, posterior median/lower/upper, prior median/lower/upper.

    Odds and hazard ratios: medians and equal-tailed intervals of the exponentiated draws.
    Cytogenetic classes act on the refractory odds and on the cure in remission, against the
    intermediate risk group. The transplant's odds ratio of cure is that of an MRD-negative
    responder transplanted 3 months after the assessment (its modifiers follow).
    """
    rows = []
    for section, prior_section, scale in SECTIONS:
        names = Names(section)
        for cov in posterior[names.covariate_dim].to_numpy():
            draws = posterior[names.beta].sel({names.covariate_dim: cov}).to_numpy().ravel()
            rows.append(effect_row(section, str(cov), ratio_quantiles(draws, interval),
                                   _prior(priors, prior_section, str(cov), interval), scale))
    for name, section, key, label, scale in SCALARS:
        rows.append(effect_row(section, label, ratio_quantiles(posterior[name].to_numpy().ravel(), interval),
                               _prior(priors, section, key, interval), scale))
    for key in TRANSPLANT_MODIFIERS:
        draws = posterior["transplant_cure_modifier"].sel(transplant_modifier=key).to_numpy().ravel()
        rows.append(effect_row("transplant_cure", key, ratio_quantiles(draws, interval),
                               _prior(priors, "transplant_cure", key, interval), TRANSPLANT_MODIFIER_SCALE))
    for section, scale in CLASS_SCALES.items():
        name = Names(section).class_effect
        if not hierarchy or name not in posterior:
            continue
        prior_classes = class_prior_draws(priors, section, prior_draws)
        for j, cls in enumerate(CYTOGENETICS):
            draws = posterior[name].sel(cytogenetics=cls).to_numpy().ravel()
            rows.append(effect_row(section, f"cytogenetics: {cls}", ratio_quantiles(draws, interval),
                                   ratio_quantiles(prior_classes[:, j], interval), scale))
    return pd.DataFrame(rows)

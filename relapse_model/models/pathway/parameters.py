"""Posterior (or true, for fake data) parameters of the pathway model as NumPy arrays, one row per draw,
and the per-patient predictors they imply."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import xarray as xr

from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.models.design import Design
from relapse_model.models.hierarchy import CLASS_SD_KEY, GROUP_PRIOR_KEYS, STUDY_SD_KEY, class_effects
from relapse_model.models.pathway.build import MRD_COVARIATES, TRANSPLANT_MODIFIERS, WEIBULLS
from relapse_model.models.pathway.likelihood import PathwayPredictors, Weibull
from relapse_model.priors.spec import PriorSet


@dataclass(frozen=True)
class PathwayParameters:
    """Draws (S leading) of every parameter; names as in the posterior.

    ``*_beta`` columns follow ``response_covariates`` (refractory, early death) or
    ``cure_covariates`` (remission cure); ``*_class`` are over all cytogenetic classes and
    ``*_study`` over the fitted studies (no columns when there is one study or no hierarchy).
    ``weibull`` maps a transition (``build.WEIBULLS``) to (log shape, log scale) arrays.
    """

    response_covariates: tuple[str, ...]
    cure_covariates: tuple[str, ...]
    refractory_intercept: np.ndarray
    refractory_beta: np.ndarray
    refractory_class: np.ndarray
    refractory_study: np.ndarray
    early_death_intercept: np.ndarray
    early_death_beta: np.ndarray
    mrd_positive_log_odds: np.ndarray
    mrd_unknown_log_odds: np.ndarray
    remission_cure_intercept: np.ndarray
    remission_cure_beta: np.ndarray
    remission_cure_class: np.ndarray
    remission_cure_study: np.ndarray
    transplant_cure_shift: np.ndarray
    transplant_cure_modifier: np.ndarray
    transplant_relapse_log_hr: np.ndarray
    rr_death_second_relapse_log_hr: np.ndarray
    weibull: dict[str, tuple[np.ndarray, np.ndarray]]

    @property
    def n_draws(self) -> int:
        return len(self.refractory_intercept)

    def thin(self, max_draws: int) -> PathwayParameters:
        """At most ``max_draws`` evenly spaced draws."""
        if self.n_draws <= max_draws:
            return self
        return self.take(np.linspace(0, self.n_draws - 1, max_draws).round().astype(int))

    def take(self, draws: np.ndarray) -> PathwayParameters:
        """The given draws, in that order (repeats allowed: one draw per simulated trial)."""
        changes = {f.name: getattr(self, f.name)[draws] for f in fields(self)
                   if isinstance(getattr(self, f.name), np.ndarray)}
        changes["weibull"] = {k: (a[draws], b[draws]) for k, (a, b) in self.weibull.items()}
        return replace(self, **changes)


def _flat(ds: xr.Dataset, name: str) -> np.ndarray:
    da = ds[name].stack(sample=("chain", "draw"))
    return np.moveaxis(da.to_numpy(), -1, 0)


def from_posterior(ds: xr.Dataset) -> PathwayParameters:
    """Parameters from the posterior group of a fitted pathway model (chains stacked)."""
    s = len(ds["chain"]) * len(ds["draw"])
    zeros = np.zeros((s, 0))
    return PathwayParameters(
        response_covariates=tuple(str(c) for c in ds["refractory_covariate"].to_numpy()),
        cure_covariates=tuple(str(c) for c in ds["remission_cure_covariate"].to_numpy()),
        refractory_intercept=_flat(ds, "refractory_intercept"), refractory_beta=_flat(ds, "refractory_beta"),
        refractory_class=_flat(ds, "refractory_class") if "refractory_class" in ds else zeros,
        refractory_study=_flat(ds, "refractory_study") if "refractory_study" in ds else zeros,
        early_death_intercept=_flat(ds, "early_death_intercept"), early_death_beta=_flat(ds, "early_death_beta"),
        mrd_positive_log_odds=_flat(ds, "mrd_positive_log_odds"),
        mrd_unknown_log_odds=_flat(ds, "mrd_unknown_log_odds"),
        remission_cure_intercept=_flat(ds, "remission_cure_intercept"),
        remission_cure_beta=_flat(ds, "remission_cure_beta"),
        remission_cure_class=_flat(ds, "remission_cure_class") if "remission_cure_class" in ds else zeros,
        remission_cure_study=_flat(ds, "remission_cure_study") if "remission_cure_study" in ds else zeros,
        transplant_cure_shift=_flat(ds, "transplant_cure_shift"),
        transplant_cure_modifier=_flat(ds, "transplant_cure_modifier"),
        transplant_relapse_log_hr=_flat(ds, "transplant_relapse_log_hr"),
        rr_death_second_relapse_log_hr=_flat(ds, "rr_death_second_relapse_log_hr"),
        weibull={k: (_flat(ds, f"{k}_log_shape"), _flat(ds, f"{k}_log_scale")) for k in WEIBULLS},
    )


@dataclass(frozen=True)
class PatientPredictors:
    """Per-draw, per-patient predictors (S, n) of the design's patients, MRD left out of the cure
    predictor so a simulator can add the MRD category it draws."""

    eta_refractory: np.ndarray
    eta_early_death: np.ndarray
    eta_cure_without_mrd: np.ndarray
    mrd_cure_effects: np.ndarray      # (S, 2): positive, unknown


def patient_predictors(params: PathwayParameters, design: Design) -> PatientPredictors:
    """Linear predictors of each patient under each draw."""
    def cols(names):
        return design.X[:, [design.covariates.index(c) for c in names]]

    eta_n = params.refractory_intercept[:, None] + params.refractory_beta @ cols(params.response_covariates).T
    eta_e = params.early_death_intercept[:, None] + params.early_death_beta @ cols(params.response_covariates).T
    base = [c for c in params.cure_covariates if c not in MRD_COVARIATES]
    beta = params.remission_cure_beta[:, [params.cure_covariates.index(c) for c in base]]
    mrd = params.remission_cure_beta[:, [params.cure_covariates.index(c) for c in MRD_COVARIATES]]
    eta_c = params.remission_cure_intercept[:, None] + beta @ cols(base).T
    return PatientPredictors(eta_n + _class_and_study(params.refractory_class, params.refractory_study, design),
                             eta_e, eta_c + _class_and_study(params.remission_cure_class, params.remission_cure_study,
                                                             design), mrd)


def _class_and_study(klass: np.ndarray, study: np.ndarray, design: Design) -> np.ndarray:
    """(S, n) class and study effects of the design's patients (0 without the hierarchy)."""
    out = klass[:, design.class_index] if klass.shape[1] else np.zeros((len(klass), design.n))
    if study.shape[1]:
        known = design.study_index >= 0          # a study unseen at fit time gets the mean (0)
        out = out.copy()
        out[:, known] += study[:, design.study_index[known]]
    return out


def likelihood_predictors(params: PathwayParameters, eta_n, eta_e, eta_c, delta) -> PathwayPredictors:
    """A :class:`PathwayPredictors` of NumPy arrays, draws along the first axis (scalars as (S, 1))."""
    def wb(key):
        shape, scale = params.weibull[key]
        return Weibull(shape[:, None], scale[:, None])

    return PathwayPredictors(
        eta_n, eta_e, (params.mrd_positive_log_odds[:, None], params.mrd_unknown_log_odds[:, None]), eta_c,
        wb("relapse"), wb("death"), wb("transplant"), delta, params.transplant_relapse_log_hr[:, None],
        wb("transplant_death"), wb("rr_death"), params.rr_death_second_relapse_log_hr[:, None], wb("rr_transplant"))


def from_priors(priors: PriorSet, response_covariates: tuple[str, ...], cure_covariates: tuple[str, ...],
                n_studies: int, n_draws: int = 1000, seed: int = 0) -> PathwayParameters:
    """Draws from the priors in the posterior's layout (prior-predictive checks)."""
    rng = np.random.default_rng(seed)

    def one(section, key):
        return priors[section, key].sample(rng, n_draws)

    def many(section, keys):
        return np.column_stack([one(section, k) for k in keys]) if keys else np.zeros((n_draws, 0))

    def hierarchy(section):
        klass = class_effects(many(section, GROUP_PRIOR_KEYS), one(section, CLASS_SD_KEY),
                              rng.normal(size=(n_draws, len(CYTOGENETICS))))
        study = (one(section, STUDY_SD_KEY)[:, None] * rng.normal(size=(n_draws, n_studies)) if n_studies > 1
                 else np.zeros((n_draws, 0)))
        return klass, study

    klass, study = hierarchy("refractory")
    cure_class, cure_study = hierarchy("remission_cure")
    return PathwayParameters(
        response_covariates, cure_covariates,
        refractory_intercept=one("refractory", "intercept"), refractory_beta=many("refractory", response_covariates),
        refractory_class=klass, refractory_study=study,
        early_death_intercept=one("early_death", "intercept"), early_death_beta=many("early_death", response_covariates),
        mrd_positive_log_odds=one("mrd", "positive_log_odds"), mrd_unknown_log_odds=one("mrd", "unknown_log_odds"),
        remission_cure_intercept=one("remission_cure", "intercept"),
        remission_cure_beta=many("remission_cure", cure_covariates),
        remission_cure_class=cure_class, remission_cure_study=cure_study,
        transplant_cure_shift=one("transplant_cure", "shift"),
        transplant_cure_modifier=many("transplant_cure", TRANSPLANT_MODIFIERS),
        transplant_relapse_log_hr=one("transplant_relapse", "log_hazard_ratio"),
        rr_death_second_relapse_log_hr=one("refractory_death", "second_relapse"),
        weibull={k: (one(s, "weibull_log_shape"), one(s, "weibull_log_scale")) for k, s in WEIBULLS.items()},
    )

"""Parameter draws in one plain-NumPy layout, from the posterior or from the priors.

Prediction, prior-predictive checks and outcome simulation all read this layout, so they run
identically on posterior draws, prior draws or hand-built parameters (fast tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.models.design import Design
from relapse_model.models.hierarchy import (CLASS_SD_KEY, CURE_INTERCEPT, GROUP_PRIOR_KEYS, STUDY_SD_KEY, Names,
                                            class_effects)
from relapse_model.models.spec import ModelSpec
from relapse_model.priors.spec import PriorSet


@dataclass(frozen=True)
class CauseParameters:
    """Baseline and covariate effects of one cause-specific hazard, ``S`` draws each.

    ``baseline`` is ``{"log_shape": (S,), "log_scale": (S,)}`` (Weibull) or
    ``{"log_rate": (S, J)}`` (piecewise exponential); ``beta`` is ``(S, len(covariates))``.
    ``class_effect`` (S, n_classes) and ``study_effect`` (S, n_studies) are present only when the
    hierarchy acts on this hazard (models without a cure fraction).
    """

    baseline: dict[str, np.ndarray]
    covariates: tuple[str, ...]
    beta: np.ndarray
    class_effect: np.ndarray | None = None
    study_effect: np.ndarray | None = None


@dataclass(frozen=True)
class ParameterDraws:
    """All parameters of a fitted (or prior) model, ``S`` draws."""

    baseline_kind: str
    grid: tuple[float, ...]
    relapse: CauseParameters
    death: CauseParameters | None = None
    cure_intercept: np.ndarray | None = None
    cure_covariates: tuple[str, ...] = ()
    cure_beta: np.ndarray | None = None
    cure_class: np.ndarray | None = None
    cure_study: np.ndarray | None = None
    study_sd: np.ndarray | None = field(default=None)

    @property
    def n_draws(self) -> int:
        return int(self.relapse.beta.shape[0])

    @property
    def has_cure(self) -> bool:
        return self.cure_intercept is not None

    def thin(self, max_draws: int) -> ParameterDraws:
        """Evenly spaced subset of at most ``max_draws`` draws (deterministic)."""
        if self.n_draws <= max_draws:
            return self
        idx = np.linspace(0, self.n_draws - 1, max_draws).round().astype(int)
        return _take(self, idx)


def _take(obj: Any, idx: np.ndarray) -> Any:
    if isinstance(obj, np.ndarray):
        return obj[idx]
    if isinstance(obj, dict):
        return {k: _take(v, idx) for k, v in obj.items()}
    if isinstance(obj, (ParameterDraws, CauseParameters)):
        return type(obj)(**{f: _take(getattr(obj, f), idx) if f not in ("baseline_kind", "grid", "covariates", "cure_covariates")
                            else getattr(obj, f) for f in obj.__dataclass_fields__})
    return obj


def _flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    da = posterior[name]
    return da.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()


def _posterior_baseline(posterior: xr.Dataset, names: Names, kind: str) -> dict[str, np.ndarray]:
    if kind == "weibull":
        return {"log_shape": _flat(posterior, names.log_shape), "log_scale": _flat(posterior, names.log_scale)}
    return {"log_rate": _flat(posterior, names.log_rate)}


def _posterior_hierarchy(posterior: xr.Dataset, names: Names, n: int) -> tuple[np.ndarray, np.ndarray]:
    study = (_flat(posterior, names.study_effect) if names.study_effect in posterior
             else np.zeros((n, posterior.sizes.get("study", 1))))
    return _flat(posterior, names.class_effect), study


def from_posterior(posterior: xr.Dataset, spec: ModelSpec) -> ParameterDraws:
    """Read the draws of a fitted model's ``posterior`` group."""
    def cause(section: str, covariates: tuple[str, ...], hierarchy: bool) -> CauseParameters:
        names = Names(section)
        base = _posterior_baseline(posterior, names, spec.baseline)
        n = next(iter(base.values())).shape[0]
        beta = _flat(posterior, names.beta) if covariates else np.zeros((n, 0))
        cls, study = _posterior_hierarchy(posterior, names, n) if hierarchy else (None, None)
        return CauseParameters(base, covariates, beta, cls, study)

    relapse = cause("relapse", spec.relapse_terms, spec.hierarchy and not spec.cure)
    death = cause("death", spec.death_covariates, False) if spec.competing else None
    kwargs: dict[str, Any] = {}
    if spec.cure:
        n, names = relapse.beta.shape[0], Names("cure")
        covs = tuple(str(c) for c in posterior[names.covariate_dim].to_numpy())
        kwargs = dict(cure_intercept=_flat(posterior, CURE_INTERCEPT), cure_covariates=covs,
                      cure_beta=_flat(posterior, names.beta) if covs else np.zeros((n, 0)))
        if spec.hierarchy:
            kwargs["cure_class"], kwargs["cure_study"] = _posterior_hierarchy(posterior, names, n)
    return ParameterDraws(spec.baseline, spec.grid, relapse, death, **kwargs)


def _prior_hierarchy(priors: PriorSet, section: str, rng: np.random.Generator, n_draws: int,
                     n_studies: int) -> tuple[np.ndarray, np.ndarray]:
    groups = np.column_stack([priors[section, k].sample(rng, n_draws) for k in GROUP_PRIOR_KEYS])
    class_sd = priors[section, CLASS_SD_KEY].sample(rng, n_draws)
    cls = class_effects(groups, class_sd, rng.standard_normal((n_draws, len(CYTOGENETICS))))
    study = (priors[section, STUDY_SD_KEY].sample(rng, n_draws)[:, None] * rng.standard_normal((n_draws, n_studies))
             if n_studies > 1 else np.zeros((n_draws, max(n_studies, 1))))
    return cls, study


def from_priors(priors: PriorSet, spec: ModelSpec, covariates: tuple[str, ...],
                n_studies: int, n_draws: int, seed: int) -> ParameterDraws:
    """Draw every parameter from its prior (prior-predictive checks, simulation-based calibration)."""
    rng = np.random.default_rng(seed)

    def draw(section: str, key: str) -> np.ndarray:
        return priors[section, key].sample(rng, n_draws)

    def baseline(section: str) -> dict[str, np.ndarray]:
        if spec.baseline == "weibull":
            return {"log_shape": draw(section, "weibull_log_shape"), "log_scale": draw(section, "weibull_log_scale")}
        first = draw(section, "piecewise_log_rate")
        sd = draw(section, "piecewise_rw_sd")
        steps = sd[:, None] * rng.standard_normal((n_draws, len(spec.grid) - 1))
        return {"log_rate": np.cumsum(np.column_stack([first, steps]), axis=1)}

    def betas(section: str, names: tuple[str, ...]) -> np.ndarray:
        return np.column_stack([draw(section, c) for c in names]) if names else np.zeros((n_draws, 0))

    r_cov = spec.relapse_terms
    cls_r, study_r = (_prior_hierarchy(priors, "relapse", rng, n_draws, n_studies)
                      if spec.hierarchy and not spec.cure else (None, None))
    relapse = CauseParameters(baseline("relapse"), r_cov, betas("relapse", r_cov), cls_r, study_r)
    death = None
    if spec.competing:
        death = CauseParameters(baseline("death"), spec.death_covariates, betas("death", spec.death_covariates))
    kwargs: dict[str, Any] = {}
    if spec.cure:
        cls, study = _prior_hierarchy(priors, "cure", rng, n_draws, n_studies) if spec.hierarchy else (None, None)
        kwargs = dict(cure_intercept=draw("cure", "intercept"), cure_covariates=covariates,
                      cure_beta=betas("cure", covariates), cure_class=cls, cure_study=study)
    return ParameterDraws(spec.baseline, spec.grid, relapse, death, **kwargs)


def linear_predictors(params: ParameterDraws, design: Design) -> dict[str, np.ndarray]:
    """``eta_cure``, ``eta_relapse``, ``eta_death``: arrays (S, n) for the design's patients.

    A study not seen at fit time (index -1) gets the typical study's effect, 0.
    """
    def hier(cls: np.ndarray | None, study: np.ndarray | None) -> np.ndarray | float:
        if cls is None:  # model without the class / study hierarchy
            return 0.0
        out = cls[:, design.class_index]
        if study is not None:
            known = design.study_index >= 0
            extra = np.zeros_like(out)
            extra[:, known] = study[:, design.study_index[known]]
            out = out + extra
        return out

    def lin(cov: tuple[str, ...], beta: np.ndarray) -> np.ndarray:
        if not cov:
            return np.zeros((beta.shape[0], design.n))
        cols = [design.covariates.index(c) for c in cov]
        return beta @ design.X[:, cols].T

    out = {"eta_relapse": lin(params.relapse.covariates, params.relapse.beta)}
    if params.relapse.class_effect is not None:
        out["eta_relapse"] = out["eta_relapse"] + hier(params.relapse.class_effect, params.relapse.study_effect)
    if params.death is not None:
        out["eta_death"] = lin(params.death.covariates, params.death.beta)
    if params.has_cure:
        out["eta_cure"] = (params.cure_intercept[:, None] + lin(params.cure_covariates, params.cure_beta)
                           + hier(params.cure_class, params.cure_study))
    return out

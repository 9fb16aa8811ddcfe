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
from relapse_model.models.design import CLASS_GROUP_INDEX, EFFECT_GROUPS, Design
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


def from_posterior(posterior: xr.Dataset, config: dict[str, Any]) -> ParameterDraws:
    """Read the draws of a fitted model's ``posterior`` group."""
    def cause(section: str, covariates: tuple[str, ...], hierarchy: bool) -> CauseParameters:
        if config["baseline"] == "weibull":
            base = {"log_shape": _flat(posterior, f"{section}_log_shape"),
                    "log_scale": _flat(posterior, f"{section}_log_scale")}
        else:
            base = {"log_rate": _flat(posterior, f"{section}_log_rate")}
        n = next(iter(base.values())).shape[0]
        beta = _flat(posterior, f"{section}_beta") if covariates else np.zeros((n, 0))
        cls = _flat(posterior, f"{section}_class") if hierarchy else None
        study = (_flat(posterior, f"{section}_study") if hierarchy and f"{section}_study" in posterior
                 else (np.zeros((n, posterior.sizes.get("study", 1))) if hierarchy else None))
        return CauseParameters(base, covariates, beta, cls, study)

    cure = bool(config["cure"])
    hierarchy = bool(config.get("hierarchy", True))
    relapse = cause("relapse", tuple(config["relapse_covariates"]), hierarchy and not cure)
    death = cause("death", tuple(config["death_covariates"]), False) if config["outcome"] == "competing" else None
    kwargs: dict[str, Any] = {}
    if cure:
        n = relapse.beta.shape[0]
        covs = tuple(str(c) for c in posterior["cure_covariate"].to_numpy())
        kwargs = dict(cure_intercept=_flat(posterior, "cure_intercept"), cure_covariates=covs,
                      cure_beta=_flat(posterior, "cure_beta") if covs else np.zeros((n, 0)))
        if hierarchy:
            kwargs |= dict(cure_class=_flat(posterior, "cure_class"),
                           cure_study=(_flat(posterior, "cure_study") if "cure_study" in posterior
                                       else np.zeros((n, posterior.sizes.get("study", 1)))))
    return ParameterDraws(config["baseline"], tuple(config["grid"]), relapse, death, **kwargs)


def from_priors(priors: PriorSet, config: dict[str, Any], covariates: tuple[str, ...],
                n_studies: int, n_draws: int, seed: int) -> ParameterDraws:
    """Draw every parameter from its prior (prior-predictive checks, simulation-based calibration)."""
    rng = np.random.default_rng(seed)
    n_int = len(config["grid"])

    def draw(section: str, key: str) -> np.ndarray:
        return priors[section, key].sample(rng, n_draws)

    def baseline(section: str) -> dict[str, np.ndarray]:
        if config["baseline"] == "weibull":
            return {"log_shape": draw(section, "weibull_log_shape"), "log_scale": draw(section, "weibull_log_scale")}
        first = draw(section, "piecewise_log_rate")
        sd = draw(section, "piecewise_rw_sd")
        steps = sd[:, None] * rng.standard_normal((n_draws, n_int - 1))
        return {"log_rate": np.cumsum(np.column_stack([first, steps]), axis=1)}

    def hierarchy(section: str) -> tuple[np.ndarray, np.ndarray]:
        groups = np.column_stack([np.zeros(n_draws)] + [draw(section, f"risk_group.{g}") for g in EFFECT_GROUPS])
        cls = groups[:, CLASS_GROUP_INDEX] + draw(section, "class_sd")[:, None] * rng.standard_normal((n_draws, len(CYTOGENETICS)))
        study = (draw(section, "study_sd")[:, None] * rng.standard_normal((n_draws, n_studies))
                 if n_studies > 1 else np.zeros((n_draws, max(n_studies, 1))))
        return cls, study

    def betas(section: str, names: tuple[str, ...]) -> np.ndarray:
        return np.column_stack([draw(section, c) for c in names]) if names else np.zeros((n_draws, 0))

    cure = bool(config["cure"])
    nested = bool(config.get("hierarchy", True))
    r_cov = tuple(config["relapse_covariates"])
    cls_r, study_r = hierarchy("relapse") if nested and not cure else (None, None)
    relapse = CauseParameters(baseline("relapse"), r_cov, betas("relapse", r_cov), cls_r, study_r)
    death = None
    if config["outcome"] == "competing":
        d_cov = tuple(config["death_covariates"])
        death = CauseParameters(baseline("death"), d_cov, betas("death", d_cov))
    kwargs: dict[str, Any] = {}
    if cure:
        cls, study = hierarchy("cure") if nested else (None, None)
        kwargs = dict(cure_intercept=draw("cure", "intercept"), cure_covariates=covariates,
                      cure_beta=betas("cure", covariates), cure_class=cls, cure_study=study)
    return ParameterDraws(config["baseline"], tuple(config["grid"]), relapse, death, **kwargs)


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

"""Posterior (or prior) predictions: per-patient relapse incidence, event-free survival, cure.

All curves are computed after sampling from parameter draws, never inside the sampler (which
would bloat the trace). With cure fraction pi, relapse hazard of the non-cured (survival S_R)
and death-without-relapse hazard (survival S_D):

- event-free survival   EFS(t) = (pi + (1 - pi) S_R(t)) S_D(t)
- relapse incidence     F_R(t) = integral of S_D d[(1 - pi)(1 - S_R)], summed on a fine grid
  with the geometric-mean S_D of each step (exact for constant hazards, no singularity at 0
  for a Weibull shape below 1)
- death without relapse F_D(t) = 1 - EFS(t) - F_R(t)

For the single-endpoint cure model, survival S(t) = pi + (1 - pi) S_R(t).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from relapse_model.common.intervals import estimate_coords, summarise_draws
from relapse_model.models import baselines as bl
from relapse_model.models.design import Design
from relapse_model.models.parameters import CauseParameters, ParameterDraws, linear_predictors


def baseline_cumulative_hazard(cause: CauseParameters, kind: str, grid: tuple[float, ...],
                               t: np.ndarray) -> np.ndarray:
    """H0 of one cause at times ``t``: array (S, len(t))."""
    t = np.asarray(t, dtype=float)
    if kind == "weibull":
        with np.errstate(divide="ignore"):
            log_t = np.log(t)[None, :]
        return bl.weibull_cumulative_hazard(log_t, cause.baseline["log_shape"][:, None],
                                            cause.baseline["log_scale"][:, None])
    exposure = bl.PiecewiseGrid(grid).exposure(t)                      # (T, J)
    return np.exp(cause.baseline["log_rate"]) @ exposure.T               # (S, T)


def _integration_grid(horizons: np.ndarray, extra: float | None) -> np.ndarray:
    top = float(np.max(horizons))
    fine = np.r_[0.0, np.geomspace(1e-3, max(top, 1e-3), 400)]
    pts = [fine, horizons] + ([np.array([extra])] if extra is not None else [])
    return np.unique(np.concatenate(pts))


def patient_curves(params: ParameterDraws, design: Design, horizons: np.ndarray,
                   conditional_on: float | None = None,
                   offsets: dict[str, np.ndarray] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Draw-level predictions, arrays (S, n, H) and ``cure_probability`` (S, n).

    With ``conditional_on = s``, probabilities are conditional on being event-free (alive, for
    the single-endpoint model) at ``s`` months, and the cure probability is P(cured | event-free
    at s) = pi / (pi + (1 - pi) S_R(s)). ``offsets`` are added to the linear predictors
    (``eta_cure``, ``eta_relapse``, ``eta_death``; arrays broadcastable to (S, n)), e.g. the
    effects of an added agent. ``progress(done, total)`` is called with the patients done as
    each block of patients is finished.
    """
    eta = linear_predictors(params, design)
    for key, value in (offsets or {}).items():
        eta[key] = eta[key] + value
    return curves_from_eta(params, eta, horizons, conditional_on, progress)


#: Patients per block are chosen so each (draws, patients, grid) array stays near 64 MB.
_BLOCK_ELEMENTS = 8_000_000


def curves_from_eta(params: ParameterDraws, eta: dict[str, np.ndarray], horizons: np.ndarray,
                    conditional_on: float | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """As :func:`patient_curves`, from linear predictors already computed (arrays (S, n)).

    Patients are processed in blocks (each patient's curves are independent), which bounds
    memory without changing any number.
    """
    horizons = np.asarray(horizons, dtype=float)
    n_draws, n = np.broadcast_shapes(*(np.shape(v) for v in eta.values()))
    per_block = max(1, _BLOCK_ELEMENTS // (n_draws * len(_integration_grid(horizons, conditional_on))))
    if n <= per_block:
        out = _curves_from_eta(params, eta, horizons, conditional_on)
        if progress is not None:
            progress(n, n)
        return out
    parts = []
    for i in range(0, n, per_block):
        parts.append(_curves_from_eta(params, {k: np.broadcast_to(v, (n_draws, n))[:, i:i + per_block]
                                               for k, v in eta.items()}, horizons, conditional_on))
        if progress is not None:
            progress(min(i + per_block, n), n)
    return {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}


def _curves_from_eta(params: ParameterDraws, eta: dict[str, np.ndarray], horizons: np.ndarray,
                     conditional_on: float | None) -> dict[str, np.ndarray]:
    grid = _integration_grid(horizons, conditional_on)
    at = np.searchsorted(grid, horizons)
    h_r = baseline_cumulative_hazard(params.relapse, params.baseline_kind, params.grid, grid)
    s_r = np.exp(-h_r[:, None, :] * np.exp(eta["eta_relapse"])[:, :, None])       # (S, n, T)
    pi = 1.0 / (1.0 + np.exp(-eta["eta_cure"]))[:, :, None] if params.has_cure else np.zeros((1, 1, 1))
    relapse_free = pi + (1.0 - pi) * s_r
    out: dict[str, np.ndarray] = {}
    if params.death is None:
        surv = relapse_free
        ref = None
        if conditional_on is not None:
            ref = surv[:, :, [np.searchsorted(grid, conditional_on)]]
            surv = surv / ref
        out["survival"] = surv[:, :, at]
    else:
        h_d = baseline_cumulative_hazard(params.death, params.baseline_kind, params.grid, grid)
        s_d = np.exp(-h_d[:, None, :] * np.exp(eta["eta_death"])[:, :, None])
        efs = relapse_free * s_d
        s_d_mid = np.sqrt(s_d[:, :, 1:] * s_d[:, :, :-1])
        d_relapse = (1.0 - pi) * (s_r[:, :, :-1] - s_r[:, :, 1:]) * s_d_mid
        cif_r = np.concatenate([np.zeros(efs.shape[:2] + (1,)), np.cumsum(d_relapse, axis=2)], axis=2)
        cif_d = np.clip(1.0 - efs - cif_r, 0.0, 1.0)
        if conditional_on is not None:
            k = np.searchsorted(grid, conditional_on)
            ref = efs[:, :, [k]]
            cif_r = (cif_r - cif_r[:, :, [k]]) / ref
            cif_d = (cif_d - cif_d[:, :, [k]]) / ref
            efs = efs / ref
        out |= {"relapse_incidence": cif_r[:, :, at], "death_without_relapse": cif_d[:, :, at],
                "event_free_survival": efs[:, :, at]}
    if params.has_cure:
        pi2 = pi[:, :, 0]
        if conditional_on is not None:
            k = np.searchsorted(grid, conditional_on)
            pi2 = pi2 / relapse_free[:, :, k]
        out["cure_probability"] = pi2
    return out


def summarise(draws: dict[str, np.ndarray], patient_ids: list[str], horizons: np.ndarray,
              interval: float = 0.95) -> xr.Dataset:
    """Posterior mean and equal-tailed credible interval of each prediction, as a Dataset whose
    variables carry an ``estimate`` dimension (``mean``, ``lower``, ``upper``)."""
    data_vars = {name: summarise_draws(arr, ("patient", "horizon")[: arr.ndim - 1], interval)
                 for name, arr in draws.items()}
    ds = xr.Dataset(data_vars, coords={"patient": list(patient_ids), "horizon": np.asarray(horizons, float),
                                       **estimate_coords()})
    ds["horizon"].attrs["units"] = "months since first relapse"
    ds.attrs["credible_interval"] = interval
    return ds

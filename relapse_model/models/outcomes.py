"""Drawing outcomes from model parameters: the model's own generative code.

Used for parameter-recovery tests, posterior-predictive checks and the virtual-trial engine.
Event times come from inverting each cause's cumulative hazard at an Exp(1) draw (closed form
for Weibull, piecewise linear for the piecewise-exponential baseline).
"""

from __future__ import annotations

import numpy as np

from relapse_model.models.design import Design
from relapse_model.models.parameters import CauseParameters, ParameterDraws, linear_predictors


def inverse_cumulative_hazard(cause: CauseParameters, kind: str, grid: tuple[float, ...],
                              target: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Times t with H0(t) = target for each element; ``draw`` gives each element's draw index."""
    if kind == "weibull":
        shape = np.exp(cause.baseline["log_shape"][draw])
        scale = np.exp(cause.baseline["log_scale"][draw])
        return scale * target ** (1.0 / shape)
    rates = np.exp(cause.baseline["log_rate"][draw])                     # (..., J)
    cuts = np.asarray(grid, dtype=float)
    widths = np.r_[np.diff(cuts), np.inf]
    cum_at_cut = np.concatenate([np.zeros(rates.shape[:-1] + (1,)),
                                 np.cumsum(rates[..., :-1] * widths[:-1], axis=-1)], axis=-1)
    j = (cum_at_cut <= target[..., None]).sum(axis=-1) - 1               # interval of the target
    base = np.take_along_axis(cum_at_cut, j[..., None], -1)[..., 0]
    rate = np.take_along_axis(rates, j[..., None], -1)[..., 0]
    return cuts[j] + (target - base) / rate


def simulate_outcomes(params: ParameterDraws, design: Design, rng: np.random.Generator,
                      draw: int | np.ndarray = 0, censor_months: np.ndarray | float = np.inf) -> dict[str, np.ndarray]:
    """Simulate each patient's outcome under one parameter draw per patient.

    Parameters
    ----------
    params : ParameterDraws
    design : Design
    rng : numpy.random.Generator
    draw : int or array (n,)
        Index of the parameter draw used for each patient.
    censor_months : float or array (n,)
        Administrative censoring time of each patient.

    Returns
    -------
    dict
        ``time``, ``cause`` (0 censored, 1 relapse, 2 death without relapse; the single-endpoint
        model uses 1 for its event), ``cured`` (bool) and the uncensored ``relapse_time``,
        ``death_time``.
    """
    n = design.n
    draw = np.broadcast_to(np.asarray(draw), (n,))
    eta = linear_predictors(params, design)
    pick = (draw, np.arange(n))
    cured = np.zeros(n, dtype=bool)
    if params.has_cure:
        pi = 1.0 / (1.0 + np.exp(-eta["eta_cure"][pick]))
        cured = rng.random(n) < pi
    target = rng.exponential(1.0, n) / np.exp(eta["eta_relapse"][pick])
    relapse_time = inverse_cumulative_hazard(params.relapse, params.baseline_kind, params.grid, target, draw)
    relapse_time = np.where(cured, np.inf, relapse_time)
    death_time = np.full(n, np.inf)
    if params.death is not None:
        target_d = rng.exponential(1.0, n) / np.exp(eta["eta_death"][pick])
        death_time = inverse_cumulative_hazard(params.death, params.baseline_kind, params.grid, target_d, draw)
    censor = np.broadcast_to(np.asarray(censor_months, dtype=float), (n,))
    time = np.minimum(np.minimum(relapse_time, death_time), censor)
    cause = np.where(time == relapse_time, 1, np.where(time == death_time, 2, 0))
    # a cured patient never censored has time = inf = relapse_time: that is no event
    cause = np.where(np.isfinite(time), cause, 0)
    return {"time": time, "cause": cause.astype(np.int64), "cured": cured,
            "relapse_time": relapse_time, "death_time": death_time}


def with_simulated_outcomes(data, sim: dict[str, np.ndarray]):
    """A copy of cohort data whose outcome columns hold simulated outcomes.

    Cause 1 becomes a second relapse, cause 2 a death without relapse, 0 a censored follow-up;
    after a simulated event nothing further is recorded (the patient is followed to that event).
    Covariates are untouched, so the result can be validated and fitted like any cohort.
    """
    import pandas as pd

    frame = data.copy()
    t = np.round(sim["time"], 4)
    cause = sim["cause"]
    frame["second_relapse"] = np.where(cause == 1, "yes", "no")
    frame["second_relapse_months"] = np.where(cause == 1, t, np.nan)
    frame["died"] = np.where(cause == 2, "yes", "no")
    frame["death_months"] = np.where(cause == 2, t, np.nan)
    frame["followup_months"] = t
    frame["hsct_after_relapse"] = "no"
    frame["hsct_after_relapse_months"] = np.nan
    return pd.DataFrame(frame)

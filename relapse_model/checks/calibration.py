"""Calibration at a horizon: do patients predicted at x% risk have about x% observed risk?

The method is group-based (as in Hosmer-Lemeshow style calibration plots for survival data):
patients are split into equal-size groups by predicted risk, each group's observed risk is
estimated non-parametrically (Kaplan-Meier or Aalen-Johansen, scikit-survival) and compared
with its mean predicted risk, and a line is fitted through the group points. The slope and
intercept are therefore those of observed on predicted group risks on the probability scale;
they depend on the number of groups and are not the logistic recalibration slope of an
individual-level model. With few patients per group the observed risks are noisy; the table
carries their standard errors and the fit weights groups by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from sksurv.nonparametric import cumulative_incidence_competing_risks, kaplan_meier_estimator

CONF_LEVEL = 0.95


def _se_from_loglog_ci(p: float, ci: np.ndarray) -> float:
    """Standard error of ``p`` recovered from scikit-survival's log-minus-log interval.

    scikit-survival builds the interval as ``p ** exp(+-z sigma / log p)`` with ``sigma`` the
    standard deviation of ``log p`` (Greenwood for Kaplan-Meier, Aalen for the cumulative
    incidence), so ``sigma = |log(log(bound) / log p)| |log p| / z`` and the delta-method
    standard error of ``p`` is ``p sigma``: the Greenwood (or Aalen) standard error itself.
    """
    if not 0.0 < p < 1.0:
        return 0.0
    z = stats.norm.isf((1.0 - CONF_LEVEL) / 2.0)
    log_p = np.log(p)
    sig = [abs(np.log(np.log(b) / log_p)) * abs(log_p) / z for b in np.ravel(ci) if 0.0 < b < 1.0]
    return float(p * np.mean(sig)) if sig else 0.0


def _index_at(x: np.ndarray, t: float) -> int:
    """Index of the step of a step function with jump times ``x`` in force at ``t`` (-1: before)."""
    return int(np.searchsorted(x, t, side="right")) - 1


def _km_risk(event: np.ndarray, time: np.ndarray, horizon: float) -> tuple[float, float, float, float]:
    x, s, ci = kaplan_meier_estimator(event, time, conf_type="log-log", conf_level=CONF_LEVEL)
    i = _index_at(x, horizon)
    if i < 0:
        return 0.0, 0.0, 0.0, 0.0
    surv, (lo, hi) = float(s[i]), ci[:, i]  # interval of survival: the risk's bounds swap
    return 1.0 - surv, _se_from_loglog_ci(surv, ci[:, i]), 1.0 - float(hi), 1.0 - float(lo)


def observed_risk(time: np.ndarray, cause_or_event: np.ndarray, horizon: float,
                  kind: Literal["efs", "relapse"] = "efs") -> tuple[float, float, float, float]:
    """Observed risk by ``horizon`` of one group: ``(risk, se, lower, upper)``.

    ``kind="efs"``: 1 - Kaplan-Meier of any event (cause > 0) with the Greenwood standard error;
    ``kind="relapse"``: the Aalen-Johansen cumulative incidence of cause 1 with the Aalen
    standard error (when the group has no cause-2 event, which scikit-survival's Aalen-Johansen
    cannot take, the incidence is exactly 1 - Kaplan-Meier and the Greenwood error is used).
    Intervals are scikit-survival's 95% log-minus-log intervals. NaN when the horizon is after
    the group's last time (the estimate is undefined there).
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause_or_event).astype(np.int64)
    if kind not in ("efs", "relapse"):
        raise ValueError(f"unknown kind {kind!r} (efs, relapse)")
    if time.size == 0 or horizon > time.max():
        return (np.nan,) * 4
    if kind == "efs":
        return _km_risk(cause > 0, time, horizon)
    if not (cause == 1).any():
        return 0.0, 0.0, 0.0, 0.0
    if not (cause == 2).any():
        return _km_risk(cause == 1, time, horizon)
    x, cif, ci = cumulative_incidence_competing_risks(cause, time, conf_type="log-log", conf_level=CONF_LEVEL)
    i = _index_at(x, horizon)
    if i < 0:
        return 0.0, 0.0, 0.0, 0.0
    f = float(cif[1, i])
    lo, hi = ci[1, :, i]
    return f, _se_from_loglog_ci(f, ci[1, :, i]), float(lo), float(hi)


def calibration_table(predicted_risk: np.ndarray, time: np.ndarray, cause_or_event: np.ndarray,
                      horizon: float, n_groups: int = 5,
                      kind: Literal["efs", "relapse"] = "efs", rank_by: np.ndarray | None = None) -> pd.DataFrame:
    """Predicted against observed risk by ``horizon`` in groups of predicted risk.

    Parameters
    ----------
    predicted_risk : array (n,)
        Each patient's predicted risk of an event by the horizon: ``1 - EFS(horizon)`` for
        ``kind="efs"``, the cumulative incidence of relapse for ``kind="relapse"``.
    time : array (n,)
        Observed time (months).
    cause_or_event : array (n,)
        Cause (0 censored, 1 relapse, 2 death without relapse) or, for ``kind="efs"``, an event
        indicator. ``kind="relapse"`` needs causes, so that death is a competing event.
    horizon : float
        Months.
    n_groups : int
        Number of equal-size groups, formed by rank of predicted risk (ties broken by input
        order, so tied predictions may fall in neighbouring groups).
    kind : {"efs", "relapse"}
    rank_by : array (n,), optional
        Form the groups by these values instead of ``predicted_risk``: an independent Monte
        Carlo estimate of the same risks, so that grouping on simulation noise does not bias
        the groups' mean predictions (the extreme groups' means would otherwise be too extreme).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``n``, ``predicted`` (mean predicted risk), ``predicted_min``,
        ``predicted_max``, ``observed`` (:func:`observed_risk`), its ``se``, ``lower``,
        ``upper`` and ``events`` (events counted by the horizon). ``attrs`` holds the horizon
        and kind.
    """
    pred = np.asarray(predicted_risk, dtype=float)
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause_or_event).astype(np.int64)
    n = pred.size
    if time.shape != (n,) or cause.shape != (n,):
        raise ValueError("predicted_risk, time and cause_or_event need the same length")
    if not 1 <= n_groups <= n:
        raise ValueError(f"n_groups must be between 1 and the number of patients ({n})")
    if kind not in ("efs", "relapse"):
        raise ValueError(f"unknown kind {kind!r} (efs, relapse)")
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(pred if rank_by is None else np.asarray(rank_by, dtype=float), kind="stable")] = np.arange(n)
    group = rank * n_groups // n
    counted = (cause > 0) if kind == "efs" else (cause == 1)
    rows = []
    for g in range(n_groups):
        m = group == g
        risk, se, lo, hi = observed_risk(time[m], cause[m], horizon, kind)
        rows.append({"group": g + 1, "n": int(m.sum()), "predicted": float(pred[m].mean()),
                     "predicted_min": float(pred[m].min()), "predicted_max": float(pred[m].max()),
                     "observed": risk, "se": se, "lower": lo, "upper": hi,
                     "events": int((counted[m] & (time[m] <= horizon)).sum())})
    table = pd.DataFrame(rows)
    table.attrs.update(horizon=float(horizon), kind=kind)
    return table


@dataclass(frozen=True)
class CalibrationFit:
    """Weighted least-squares line of observed on predicted group risk.

    ``weights`` is ``"inverse_variance"`` (1 / se^2; the coefficient standard errors then
    follow from the groups' standard errors) or ``"n"`` (some group had se 0, e.g. no event;
    standard errors from the residual variance). ``chi2`` and ``p_value`` test slope 1 and
    intercept 0 jointly (Wald, 2 degrees of freedom): the two estimates are strongly correlated
    when the predicted risks lie far from 0, so the joint test is the fairer summary.
    """

    slope: float
    intercept: float
    slope_se: float
    intercept_se: float
    chi2: float
    p_value: float
    weights: str
    n_groups: int


def calibration_slope_intercept(table: pd.DataFrame) -> CalibrationFit:
    """Calibration slope and intercept from a :func:`calibration_table`.

    Weighted least squares of ``observed`` on ``predicted`` across groups with weights
    ``1 / se^2``, or ``n`` for all groups if any group's standard error is 0. Groups with an
    undefined observed risk (horizon after their follow-up) are left out. Perfect calibration
    is slope 1, intercept 0.
    """
    ok = table["observed"].notna().to_numpy()
    y = table["observed"].to_numpy(dtype=float)[ok]
    x = table["predicted"].to_numpy(dtype=float)[ok]
    se = table["se"].to_numpy(dtype=float)[ok]
    if y.size < 2 or np.ptp(x) == 0:
        raise ValueError("need at least two groups with different predicted risk and a defined observed risk")
    inverse_variance = bool(np.all(se > 0))
    w = 1.0 / se**2 if inverse_variance else table["n"].to_numpy(dtype=float)[ok]
    X = np.column_stack([np.ones_like(x), x])
    xtwx = X.T @ (w[:, None] * X)
    coef = np.linalg.solve(xtwx, X.T @ (w * y))
    cov = np.linalg.inv(xtwx)
    if not inverse_variance:
        dof = y.size - 2
        resid = y - X @ coef
        cov = cov * (float(w @ resid**2) / dof if dof > 0 else np.nan)
    d = coef - np.array([0.0, 1.0])
    chi2 = float(d @ np.linalg.solve(cov, d)) if np.all(np.isfinite(cov)) else float("nan")
    return CalibrationFit(slope=float(coef[1]), intercept=float(coef[0]), slope_se=float(np.sqrt(cov[1, 1])),
                          intercept_se=float(np.sqrt(cov[0, 0])), chi2=chi2,
                          p_value=float(stats.chi2.sf(chi2, 2)) if np.isfinite(chi2) else float("nan"),
                          weights="inverse_variance" if inverse_variance else "n", n_groups=int(y.size))

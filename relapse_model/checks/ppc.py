"""Posterior-predictive checks: does data simulated from the fitted model look like the cohort?

Each replicate is a whole cohort simulated from one posterior draw with the model's own
generative code (:func:`relapse_model.models.outcomes.simulate_outcomes`) and censored like
the observed data, so replicated and observed curves are estimated with the same
non-parametric estimators (scikit-survival) under the same follow-up. A model that misses a
feature of the data (say a plateau of long-term survivors) puts the observed curve outside the
replicate band at the times where the feature shows.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from sksurv.nonparametric import cumulative_incidence_competing_risks, kaplan_meier_estimator

from relapse_model.common.intervals import ESTIMATE, ESTIMATES, estimate_coords
from relapse_model.models.design import Design
from relapse_model.models.outcomes import simulate_outcomes
from relapse_model.models.parameters import ParameterDraws

#: Curves compared, with what each estimates (cause 1 relapse, cause 2 death without relapse).
CURVES: dict[str, str] = {
    "efs": "event-free survival (Kaplan-Meier of cause > 0)",
    "cif_relapse": "cumulative incidence of cause 1 (Aalen-Johansen)",
    "cif_death": "cumulative incidence of cause 2 (Aalen-Johansen)",
}
BAND = (0.025, 0.975)
PPC_LABELS = {"efs": "EFS", "cif_relapse": "relapse incidence", "cif_death": "death without relapse"}


# --------------------------------------------------------------------------- replication


def censoring_times(observed_time: np.ndarray, observed_cause: np.ndarray, n_replicates: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Censoring times that reproduce the observed follow-up, array (R, n).

    A censored patient keeps their observed censoring time. For a patient with an event at
    ``t_i`` the censoring time is drawn from the reverse Kaplan-Meier estimate ``G`` of the
    censoring distribution conditional on ``C > t_i`` (inverse CDF: the first censoring time
    ``c`` with ``G(c) <= u G(t_i)``, ``u`` uniform). The mass ``G`` leaves beyond the last
    observed time, and the whole conditional distribution when ``G(t_i) = 0``, has no location,
    so those patients are not censored (``inf``).
    """
    time = np.asarray(observed_time, dtype=float)
    event = np.asarray(observed_cause) > 0
    n = time.size
    out = np.broadcast_to(np.where(event, np.inf, time), (n_replicates, n)).copy()
    if not event.any() or event.all():
        # all censored: nothing to draw; no censoring observed: G is 1 everywhere, no censoring
        return out
    cut, g = kaplan_meier_estimator(event, time, reverse=True)
    idx = np.searchsorted(cut, time[event], side="right") - 1
    g_at_event = np.where(idx >= 0, g[np.maximum(idx, 0)], 1.0)           # P(C > t_i)
    u = rng.random((n_replicates, int(event.sum())))
    target = u * g_at_event[None, :]
    # g is non-increasing: the first index with g <= target; target < G(t_i) makes it later than t_i
    j = np.searchsorted(-g, -target, side="left")
    drawn = np.where(j < cut.size, cut[np.minimum(j, cut.size - 1)], np.inf)
    drawn[:, g_at_event <= 0.0] = np.inf
    out[:, event] = drawn
    return out


def replicate_outcomes(params: ParameterDraws, design: Design, observed_time: np.ndarray,
                       observed_cause: np.ndarray, n_replicates: int, seed: int) -> dict[str, np.ndarray]:
    """Simulate ``n_replicates`` cohorts from the posterior, censored like the observed data.

    Parameters
    ----------
    params : ParameterDraws
        Posterior (or hand-built) draws.
    design : Design
        The observed patients' covariates.
    observed_time, observed_cause : array (n,)
        Observed outcome: time and cause (0 censored, 1 relapse, 2 death without relapse; a
        single-endpoint model uses 1 for its event).
    n_replicates : int
        Number of replicated cohorts ``R``, each from one posterior draw; the draws are evenly
        spaced over all draws (repeated when ``R`` exceeds the number of draws).
    seed : int
        One seed gives identical replicates.

    Returns
    -------
    dict
        ``time`` and ``cause`` (arrays (R, n)) and ``draw`` (R,), the draw used by each
        replicate. Censoring follows :func:`censoring_times`: a censored patient is censored at
        their observed time, a patient with an event at a time drawn from the censoring
        distribution beyond their event time. A patient neither censored nor reaching any event
        (cured, with no competing cause) gets ``time = inf`` and cause 0.
    """
    time = np.asarray(observed_time, dtype=float)
    cause = np.asarray(observed_cause)
    if time.shape != (design.n,) or cause.shape != (design.n,):
        raise ValueError(f"observed_time and observed_cause need shape ({design.n},), "
                         f"got {time.shape} and {cause.shape}")
    if n_replicates < 1:
        raise ValueError("n_replicates must be at least 1")
    rng = np.random.default_rng(seed)
    draws = np.linspace(0, params.n_draws - 1, n_replicates).round().astype(np.int64)
    # thinning first keeps each simulation's linear predictors at R draws, not all S
    thinned = params.thin(n_replicates)
    local = np.arange(n_replicates) if thinned.n_draws == n_replicates else draws
    censor = censoring_times(time, cause, n_replicates, rng)
    rep_time = np.empty((n_replicates, design.n))
    rep_cause = np.empty((n_replicates, design.n), dtype=np.int64)
    for r in range(n_replicates):
        sim = simulate_outcomes(thinned, design, rng, draw=int(local[r]), censor_months=censor[r])
        never = ~np.isfinite(sim["time"])
        rep_time[r] = sim["time"]
        rep_cause[r] = np.where(never, 0, sim["cause"])
    return {"time": rep_time, "cause": rep_cause, "draw": draws}


# --------------------------------------------------------------------------- curves


def _step_at(x: np.ndarray, y: np.ndarray, t: np.ndarray, start: float) -> np.ndarray:
    idx = np.searchsorted(x, t, side="right") - 1
    return np.where(idx >= 0, y[np.maximum(idx, 0)], start)


def sample_curves(time: np.ndarray, cause: np.ndarray, t: np.ndarray, until: float | None = None) -> np.ndarray:
    """EFS and the cause-1 and cause-2 cumulative incidences of one sample at ``t``: (3, T).

    EFS is scikit-survival's Kaplan-Meier estimate of cause > 0, the incidences its
    Aalen-Johansen estimates. scikit-survival's Aalen-Johansen needs both causes present; when
    only one is (a small group, a replicate without deaths, a single-endpoint model) its
    incidence is exactly 1 - EFS and the other's is 0. Curves are carried forward after the
    last time; times after ``until`` (if given) are NaN.
    """
    time = np.asarray(time, dtype=float)
    cause = np.asarray(cause, dtype=np.int64)
    if not np.isfinite(time).all():
        # never-censored long-term survivors: at risk through every time asked about
        finite_max = float(time[np.isfinite(time)].max(initial=0.0))
        time = np.where(np.isfinite(time), time, max(float(np.max(t)), finite_max) + 1.0)
    x, s = kaplan_meier_estimator(cause > 0, time)
    out = np.zeros((3, t.size))
    out[0] = _step_at(x, s, t, 1.0)
    present = [k for k in (1, 2) if (cause == k).any()]
    if len(present) == 2:
        x, cif = cumulative_incidence_competing_risks(cause, time)
        out[1] = _step_at(x, cif[1], t, 0.0)
        out[2] = _step_at(x, cif[2], t, 0.0)
    elif present:
        out[present[0]] = 1.0 - out[0]
    if until is not None:
        out[:, t > until] = np.nan
    return out


def _group_labels(groups: np.ndarray | None, n: int) -> tuple[list[str], list[np.ndarray]]:
    names, masks = ["all"], [np.ones(n, dtype=bool)]
    if groups is not None:
        labels = np.asarray(groups).astype(str)
        if labels.shape != (n,):
            raise ValueError(f"groups needs shape ({n},), got {labels.shape}")
        for g in sorted(set(labels.tolist())):
            names.append(g)
            masks.append(labels == g)
    return names, masks


def _mid_p(rep: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """P(rep < obs) + P(rep = obs) / 2 over replicates (axis 0); NaN where obs is NaN.

    Equality allows 1e-12 so that the same step value reached by different arithmetic ties.
    """
    with np.errstate(invalid="ignore"):
        tied = np.abs(rep - obs) <= 1e-12
        below = (rep < obs) & ~tied
    return np.where(np.isnan(obs), np.nan, below.mean(axis=0) + tied.mean(axis=0) / 2.0)


def _group_comparison(obs_time: np.ndarray, obs_cause: np.ndarray, rep_time: np.ndarray, rep_cause: np.ndarray,
                      t_all: np.ndarray) -> dict[str, np.ndarray]:
    """One group's observed curves, replicate mean, band and mid-p at ``t_all`` (the last time is
    the horizon), and the fraction of the other times where the observed curve leaves the band."""
    # the observed curve exists up to the group's last follow-up; replicates are compared there
    obs = sample_curves(obs_time, obs_cause, t_all, until=obs_time.max())   # (3, T+1)
    rep = np.stack([sample_curves(rt, rc, t_all) for rt, rc in zip(rep_time, rep_cause)])
    defined = ~np.isnan(obs)
    out = {"observed": obs, "mean": np.where(defined, rep.mean(axis=0), np.nan),
           "lower": np.where(defined, np.quantile(rep, BAND[0], axis=0), np.nan),
           "upper": np.where(defined, np.quantile(rep, BAND[1], axis=0), np.nan), "p_value": _mid_p(rep, obs)}
    n_t, tol = t_all.size - 1, 1e-12
    out_mask = (obs[:, :n_t] < out["lower"][:, :n_t] - tol) | (obs[:, :n_t] > out["upper"][:, :n_t] + tol)
    n_def = defined[:, :n_t].sum(axis=1)
    out["fraction_outside"] = np.where(n_def > 0, out_mask.sum(axis=1) / np.maximum(n_def, 1), np.nan)
    return out


def ppc_curves(observed_time: np.ndarray, observed_cause: np.ndarray, rep_time: np.ndarray,
               rep_cause: np.ndarray, times: np.ndarray, groups: np.ndarray | None = None,
               horizon: float = 60.0) -> xr.Dataset:
    """Observed curves against the replicate distribution, overall and per group.

    Parameters
    ----------
    observed_time, observed_cause : array (n,)
        Observed outcome (cause 0 censored, 1 relapse, 2 death without relapse).
    rep_time, rep_cause : array (R, n)
        Replicated outcomes (:func:`replicate_outcomes`).
    times : array (T,)
        Months at which the curves are compared.
    groups : array (n,), optional
        A label per patient (risk group, MRD, stemness high/low, prior HSCT ...); adds one
        group per label to ``"all"``.
    horizon : float
        Time of the scalar EFS p-value (60 months).

    Returns
    -------
    xarray.Dataset
        Dims ``group`` and ``time``. For each curve ``c`` in :data:`CURVES` (``efs``,
        ``cif_relapse``, ``cif_death``): ``c_observed``; ``c``, the replicates' mean and 2.5% and
        97.5% quantiles along the ``estimate`` dimension (``mean``, ``lower``, ``upper``); and
        ``c_p_value``, the one-sided
        posterior-predictive p-value ``P(replicate < observed) + P(replicate = observed) / 2``
        (a mid-p value, so times where every curve is tied, e.g. EFS = 1 before the first event,
        give 0.5, not 0). Values near 0 or 1 are extreme; the two-sided p-value is
        ``2 min(p, 1 - p)``. Per group: ``c_fraction_outside``, the fraction of ``times`` where
        the observed curve lies outside the 95% band (times where it is undefined excluded), and
        ``efs_p_value_horizon`` / ``efs_observed_horizon`` at ``horizon``. Curves are NaN after
        the group's largest observed time.
    """
    obs_time = np.asarray(observed_time, dtype=float)
    obs_cause = np.asarray(observed_cause, dtype=np.int64)
    rep_time = np.atleast_2d(np.asarray(rep_time, dtype=float))
    rep_cause = np.atleast_2d(np.asarray(rep_cause, dtype=np.int64))
    times = np.asarray(times, dtype=float)
    n = obs_time.size
    if rep_time.shape != rep_cause.shape or rep_time.shape[1] != n:
        raise ValueError(f"rep_time and rep_cause need shape (R, {n}), got {rep_time.shape} and {rep_cause.shape}")
    t_all = np.append(times, float(horizon))
    names, masks = _group_labels(groups, n)
    n_curves, n_t = len(CURVES), times.size
    shape = (len(names), n_curves, n_t)
    stats = {k: np.full(shape, np.nan) for k in ("observed", "mean", "lower", "upper", "p_value")}
    outside = np.full((len(names), n_curves), np.nan)
    p_horizon = np.full(len(names), np.nan)
    obs_horizon = np.full(len(names), np.nan)
    for gi, mask in enumerate(masks):
        group = _group_comparison(obs_time[mask], obs_cause[mask], rep_time[:, mask], rep_cause[:, mask], t_all)
        for key in stats:
            stats[key][gi] = group[key][:, :n_t]
        outside[gi] = group["fraction_outside"]
        p_horizon[gi] = group["p_value"][0, -1]
        obs_horizon[gi] = group["observed"][0, -1]
    data_vars: dict[str, tuple] = {}
    for ci, name in enumerate(CURVES):
        band = np.stack([stats[k][:, ci, :] for k in ESTIMATES], axis=-1)
        data_vars[f"{name}_observed"] = (("group", "time"), stats["observed"][:, ci, :])
        data_vars[name] = (("group", "time", ESTIMATE), band)
        data_vars[f"{name}_p_value"] = (("group", "time"), stats["p_value"][:, ci, :])
        data_vars[f"{name}_fraction_outside"] = (("group",), outside[:, ci])
    data_vars["efs_p_value_horizon"] = (("group",), p_horizon)
    data_vars["efs_observed_horizon"] = (("group",), obs_horizon)
    data_vars["n_patients"] = (("group",), np.array([m.sum() for m in masks], dtype=np.int64))
    ds = xr.Dataset(data_vars, coords={"group": names, "time": times, **estimate_coords()})
    ds["time"].attrs["units"] = "months since first relapse"
    ds.attrs.update(n_replicates=int(rep_time.shape[0]), band=list(BAND), horizon=float(horizon),
                    p_value="one-sided mid-p: P(rep < obs) + P(rep = obs) / 2; extreme near 0 or 1",
                    competing=int(bool((obs_cause == 2).any() or (rep_cause == 2).any())))
    return ds

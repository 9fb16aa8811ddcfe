"""Vectorised analyses of many simulated two-arm trials at once.

Every function takes 2-D arrays of shape ``(n_trials, n_patients)``: ``time`` (follow-up time at
the analysis), ``event`` (bool), ``arm`` (0 = control, 1 = experimental) and an optional ``mask``
(bool, patient enrolled / included at this analysis). Masked-out patients are ignored entirely, so
their ``time`` may hold anything, NaN included. 1-D inputs are read as a single trial.

Each row is sorted by time once and every risk-set quantity (numbers at risk, events, tied blocks
of equal times) comes from cumulative sums along the sorted rows; there is no loop over trials or
patients. A trial whose statistic is undefined (no events, an empty arm, a monotone Cox
likelihood) gets NaN, never a warning.

Sign convention: log-rank Z, Cox log hazard ratio and Wald Z are NEGATIVE when the experimental
arm (1) does better; the RMST difference (arm 1 minus arm 0) is POSITIVE when it does better.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import special, stats

# Rows per block: keeps the ~15 temporaries of one block inside a few MB of cache-friendly memory.
_BLOCK_ELEMENTS = 1 << 18


class LogrankResult(NamedTuple):
    """Log-rank test of arm 1 vs arm 0, one value per trial."""

    o_minus_e: np.ndarray  #: observed minus expected events in arm 1
    variance: np.ndarray  #: hypergeometric variance of O - E (ties handled exactly)
    z: np.ndarray  #: (O - E) / sqrt(V); negative favours arm 1
    chi2: np.ndarray  #: (O - E)^2 / V, one degree of freedom
    p_value: np.ndarray  #: two-sided p-value


class CoxResult(NamedTuple):
    """Cox proportional-hazards fit with arm as the only covariate, one value per trial."""

    log_hr: np.ndarray  #: log hazard ratio, arm 1 vs arm 0
    se: np.ndarray  #: standard error from the observed information at the estimate
    z: np.ndarray  #: Wald statistic log_hr / se; negative favours arm 1
    p_value: np.ndarray  #: two-sided Wald p-value
    converged: np.ndarray  #: False where Newton-Raphson did not converge (estimates are NaN)


class RMSTResult(NamedTuple):
    """Restricted mean survival time up to ``tau`` per arm and their difference, per trial."""

    rmst_control: np.ndarray  #: RMST of arm 0
    rmst_experimental: np.ndarray  #: RMST of arm 1
    difference: np.ndarray  #: arm 1 minus arm 0; positive favours arm 1
    se: np.ndarray  #: standard error of the difference (Greenwood-type, arms independent)
    z: np.ndarray  #: difference / se
    p_value: np.ndarray  #: two-sided p-value


class _Sorted(NamedTuple):
    """Rows sorted by time, with the tied-block structure and at-risk counts per position."""

    time: np.ndarray  # sorted times; +inf for excluded patients (they sort last)
    event: np.ndarray  # bool, event of an included patient
    arm1: np.ndarray  # bool, included patient in arm 1
    last: np.ndarray  # bool, last position of a block of equal times
    n_risk: np.ndarray  # int, number at risk at the block's time (all arms)
    n1_risk: np.ndarray  # int, number at risk in arm 1
    d: np.ndarray  # int, events in the block up to this position (block total at `last`)
    d1: np.ndarray  # int, events in arm 1 likewise


def _check(time: np.ndarray, event: np.ndarray, arm: np.ndarray,
           mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    arm = np.asarray(arm)
    if time.ndim == 1:
        time, event, arm = time[None], event[None], arm[None]
        mask = None if mask is None else np.asarray(mask)[None]
    if time.ndim != 2:
        raise ValueError(f"time must be 2-D (n_trials, n_patients), got shape {time.shape}")
    valid = np.ones(time.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    for name, x in (("event", event), ("arm", arm), ("mask", valid)):
        if x.shape != time.shape:
            raise ValueError(f"{name} has shape {x.shape}, expected {time.shape} like time")
    if np.any(valid & ((arm != 0) & (arm != 1))):
        raise ValueError("arm must be 0 (control) or 1 (experimental)")
    # `not (t >= 0)` also catches NaN; +inf would break the block structure.
    if np.any(valid & ~((time >= 0) & (time < np.inf))):
        raise ValueError("time of included patients must be finite and >= 0")
    return time, event.astype(bool, copy=False), arm == 1, valid


def _sort(time: np.ndarray, event: np.ndarray, arm1: np.ndarray, valid: np.ndarray) -> _Sorted:
    """Sort each row by time and derive risk sets; excluded patients become +inf and drop out."""
    m, n = time.shape
    key = np.where(valid, time, np.inf)
    order = np.argsort(key, axis=1)
    t = np.take_along_axis(key, order, axis=1)
    code = (valid & event).view(np.int8) | ((valid & arm1).view(np.int8) << 1)
    code = np.take_along_axis(code, order, axis=1)
    e = (code & 1).astype(bool)
    a1 = code >= 2

    new = np.empty((m, n), dtype=bool)  # first position of a block of equal times
    new[:, 0] = True
    np.not_equal(t[:, 1:], t[:, :-1], out=new[:, 1:])
    last = np.empty_like(new)
    last[:, -1] = True
    last[:, :-1] = new[:, 1:]
    idx = np.arange(n, dtype=np.int32)
    first = np.maximum.accumulate(np.where(new, idx, 0), axis=1)

    # Counts strictly before each position: exclusive cumulative sums.
    cum = np.empty((3, m, n), dtype=np.int32)
    np.cumsum(a1, axis=1, dtype=np.int32, out=cum[0])
    np.cumsum(e, axis=1, dtype=np.int32, out=cum[1])
    np.cumsum(e & a1, axis=1, dtype=np.int32, out=cum[2])
    before = cum - np.stack((a1, e, e & a1))
    at_first = np.take_along_axis(before, np.broadcast_to(first, before.shape), axis=2)

    n_valid = valid.sum(axis=1, dtype=np.int32)[:, None]
    n1_valid = (valid & arm1).sum(axis=1, dtype=np.int32)[:, None]
    # Included patients precede the +inf ones, so the number at risk is n_valid - first.
    return _Sorted(t, e, a1, last, n_valid - first, n1_valid - at_first[0],
                   cum[1] - at_first[1], cum[2] - at_first[2])


def _blocked(fn: Callable[..., tuple[np.ndarray, ...]], arrays: tuple[np.ndarray, ...],
             *args: object, **kwargs: object) -> tuple[np.ndarray, ...]:
    """Apply ``fn`` to row blocks of ``arrays`` and concatenate its tuple of per-trial outputs."""
    m, n = arrays[0].shape
    step = max(1, _BLOCK_ELEMENTS // max(n, 1))
    if m <= step:
        return fn(*arrays, *args, **kwargs)
    parts = [fn(*(a[i:i + step] for a in arrays), *args, **kwargs) for i in range(0, m, step)]
    return tuple(np.concatenate(p) for p in zip(*parts))


def _logrank_block(time: np.ndarray, event: np.ndarray, arm1: np.ndarray,
                   valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = _sort(time, event, arm1, valid)
    at = s.last & (s.d > 0)  # one term per distinct event time
    n = np.where(at, s.n_risk, 2).astype(float)
    frac = s.n1_risk / n
    d = s.d.astype(float)
    o_e = np.where(at, s.d1 - d * frac, 0.0).sum(axis=1)
    # (n - d) / (n - 1) is the tie correction; n = 1 gives a zero term, as in lifelines.
    var = np.where(at, d * frac * (1.0 - frac) * (n - d) / np.maximum(n - 1.0, 1.0), 0.0)
    return o_e, var.sum(axis=1)


def logrank(time: np.ndarray, event: np.ndarray, arm: np.ndarray,
            mask: np.ndarray | None = None) -> LogrankResult:
    """Log-rank test of arm 1 vs arm 0 for every trial at once.

    Parameters
    ----------
    time : ndarray, shape (n_trials, n_patients)
        Follow-up time at the analysis (event or censoring), >= 0.
    event : ndarray of bool, same shape
        True if the event was observed at ``time``.
    arm : ndarray of int, same shape
        0 for control, 1 for experimental.
    mask : ndarray of bool, same shape, optional
        True for patients included in the analysis (e.g. enrolled by the data cut); others are
        ignored. Default: everyone.

    Returns
    -------
    LogrankResult
        ``o_minus_e``, ``variance``, ``z``, ``chi2``, ``p_value``, each of shape (n_trials,).
        ``z = (O - E) / sqrt(V)`` for arm 1, so negative Z means fewer events than expected in
        the experimental arm (benefit). Where ``V = 0`` (no events, or a single arm at risk
        throughout) ``z``, ``chi2`` and ``p_value`` are NaN.

    Notes
    -----
    At each distinct event time with ``n`` at risk (``n1`` in arm 1) and ``d`` events (``d1`` in
    arm 1): ``O - E += d1 - d n1 / n`` and
    ``V += d (n1 / n) (1 - n1 / n) (n - d) / (n - 1)``, the hypergeometric variance with exact
    handling of tied times, the same as ``lifelines.statistics.logrank_test`` and R's
    ``survdiff``.
    """
    time, event, arm1, valid = _check(time, event, arm, mask)
    o_e, var = _blocked(_logrank_block, (time, event, arm1, valid))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, o_e / np.sqrt(var), np.nan)
    chi2 = z * z
    return LogrankResult(o_e, var, z, chi2, special.chdtrc(1.0, chi2))


def stratified_logrank(time: np.ndarray, event: np.ndarray, arm: np.ndarray, strata: np.ndarray,
                       mask: np.ndarray | None = None) -> LogrankResult:
    """Stratified log-rank test: O - E and its variance summed over strata (integer codes, same
    shape as ``time``), each stratum with its own risk sets, as R's ``survdiff(... + strata(s))``.

    With one stratum it is :func:`logrank`. Conventions as there: negative z favours arm 1.
    """
    if np.ndim(time) == 1:
        return stratified_logrank(*(None if x is None else np.asarray(x)[None] for x in (time, event, arm, strata)),
                                  None if mask is None else np.asarray(mask)[None])
    valid = np.ones(np.shape(time), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    o_e, var = np.zeros(np.shape(time)[0]), np.zeros(np.shape(time)[0])
    for code in np.unique(strata):
        part = logrank(time, event, arm, valid & (strata == code))
        o_e += part.o_minus_e
        var += part.variance
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, o_e / np.sqrt(var), np.nan)
    chi2 = z * z
    return LogrankResult(o_e, var, z, chi2, special.chdtrc(1.0, chi2))


def _cox_terms(time: np.ndarray, event: np.ndarray, arm1: np.ndarray, valid: np.ndarray,
               efron: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per sorted position: risk-set weights ``a`` (arm 0) and ``b`` (arm 1, times exp(beta)),
    whether it is an event, and whether that event is in arm 1."""
    s = _sort(time, event, arm1, valid)
    m, n = time.shape
    # Block totals at every position: gather from the block's last position.
    idx = np.arange(n, dtype=np.int32)
    last_idx = np.minimum.accumulate(np.where(s.last, idx, n - 1)[:, ::-1], axis=1)[:, ::-1]
    d_blk = np.take_along_axis(s.d, last_idx, axis=1)
    d1_blk = np.take_along_axis(s.d1, last_idx, axis=1)
    # Efron: the l-th of the d tied events (l = 0..d-1) removes the fraction l/d of the tied
    # events' weight from the risk set; `s.d - 1` counts the block's events before this one.
    # Breslow keeps the whole risk set for every tied event (frac = 0).
    ev = s.event
    frac = np.where(ev & efron, (s.d - 1) / np.where(ev, d_blk, 1), 0.0)
    # Risk-set weight sum = a + r b with r = exp(beta): a from arm 0, b from arm 1.
    a = np.where(ev, (s.n_risk - s.n1_risk) - frac * (d_blk - d1_blk), 1.0)
    b = np.where(ev, s.n1_risk - frac * d1_blk, 0.0)
    return a, b, ev, ev & s.arm1


def _cox_block(time: np.ndarray, event: np.ndarray, arm1: np.ndarray, valid: np.ndarray,
               max_iter: int, tol: float, max_abs: float, efron: bool,
               strata: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if strata is None:
        a, b, ev, ev1 = _cox_terms(time, event, arm1, valid, efron)
    else:   # the stratified partial likelihood is the sum of the strata's: their terms side by side
        parts = [_cox_terms(time, event, arm1, valid & (strata == code), efron) for code in np.unique(strata)]
        a, b, ev, ev1 = (np.concatenate(x, axis=1) for x in zip(*parts))
    return _cox_newton(a, b, ev, ev1, max_iter, tol, max_abs)


def _cox_newton(a: np.ndarray, b: np.ndarray, ev: np.ndarray, ev1: np.ndarray, max_iter: int, tol: float,
                max_abs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton-Raphson on the partial log-likelihood sum(beta d1 - log(a + e^beta b)) of each row."""
    m = a.shape[0]
    n_events = ev.sum(axis=1)
    d1_total = ev1.sum(axis=1).astype(float)
    # No events in one arm: the likelihood is monotone and the estimate infinite.
    active = (d1_total > 0) & (d1_total < n_events)

    def loglik(beta: np.ndarray) -> np.ndarray:
        terms = np.where(ev, np.log(a + np.exp(beta)[:, None] * b), 0.0)
        return beta * d1_total - terms.sum(axis=1)

    def score_info(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rb = np.exp(beta)[:, None] * b
        p = rb / (a + rb)  # zero where not an event since b = 0 there
        return d1_total - p.sum(axis=1), (p * (1.0 - p)).sum(axis=1)

    beta = np.zeros(m)
    converged = np.zeros(m, dtype=bool)
    diverged = np.zeros(m, dtype=bool)
    ll = loglik(beta)
    for _ in range(max_iter):
        todo = active & ~converged & ~diverged
        if not todo.any():
            break
        u, info = score_info(beta)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(todo & (info > 0), u / info, 0.0)
        step = np.clip(step, -5.0, 5.0)  # tames the first steps of far-off estimates
        # Halve steps that would lower the (concave) log-likelihood; near the maximum full
        # Newton steps always improve it, so this rarely triggers.
        for _ in range(30):
            new_ll = loglik(beta + step)
            worse = todo & (new_ll < ll - 1e-12 * np.abs(ll))
            if not worse.any():
                break
            step = np.where(worse, step / 2.0, step)
        beta = np.where(todo, beta + step, beta)
        ll = np.where(todo, loglik(beta), ll)
        converged |= todo & (np.abs(step) < tol)
        diverged |= np.abs(beta) > max_abs  # drifting to infinity: monotone likelihood
    _, info = score_info(beta)
    ok = active & converged & ~diverged & (info > 0)  # info = 0: flat likelihood, no estimate
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(ok, 1.0 / np.sqrt(info), np.nan)
    return np.where(ok, beta, np.nan), se, ok


def cox_two_arm(time: np.ndarray, event: np.ndarray, arm: np.ndarray,
                mask: np.ndarray | None = None, ties: str = "efron", max_iter: int = 50,
                tol: float = 1e-11, max_abs_log_hr: float = 20.0, strata: np.ndarray | None = None) -> CoxResult:
    """Cox model with arm as the only covariate, fitted for every trial at once.

    Parameters
    ----------
    time, event, arm, mask : ndarray, shape (n_trials, n_patients)
        As in :func:`logrank`.
    ties : {"efron", "breslow"}
        Handling of tied event times; Efron is the default of ``lifelines.CoxPHFitter`` and of
        R's ``coxph``. Without ties both equal the exact partial likelihood.
    max_iter : int
        Maximum Newton-Raphson iterations (all trials iterate together).
    tol : float
        Convergence when the Newton step on the log hazard ratio is below ``tol``.
    max_abs_log_hr : float
        Estimates drifting beyond this magnitude are taken as infinite (monotone likelihood,
        e.g. one arm's events all precede the other arm's follow-up) and reported as NaN.
    strata : ndarray of int, same shape, optional
        Stratum codes: a stratified Cox model (one baseline hazard per stratum, one common
        hazard ratio), as ``lifelines.CoxPHFitter(strata=...)`` and R's ``strata()``.

    Returns
    -------
    CoxResult
        ``log_hr`` (arm 1 vs arm 0), ``se``, ``z``, ``p_value`` and ``converged``, each of shape
        (n_trials,). A trial with no events in one of the arms, or whose fit does not converge,
        has NaN estimates and ``converged = False``.

    Notes
    -----
    The covariate is binary, so each risk-set sum is ``a + exp(beta) b`` with ``a`` and ``b``
    computed once from counts; every Newton step is then a few array operations. The
    log-likelihood is concave in ``beta``; steps are halved if it ever decreases. The standard
    error is ``1 / sqrt(I(beta_hat))`` with ``I`` the observed information.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    time, event, arm1, valid = _check(time, event, arm, mask)
    if strata is None:
        log_hr, se, ok = _blocked(_cox_block, (time, event, arm1, valid), max_iter=max_iter,
                                  tol=tol, max_abs=max_abs_log_hr, efron=ties == "efron")
    else:
        codes = np.broadcast_to(np.asarray(strata), time.shape) if np.ndim(strata) else strata
        log_hr, se, ok = _blocked(lambda t, e, a1, v, st: _cox_block(t, e, a1, v, max_iter, tol, max_abs_log_hr,
                                                                     ties == "efron", st),
                                  (time, event, arm1, valid, np.asarray(codes).reshape(time.shape)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = log_hr / se
    return CoxResult(log_hr, se, z, 2.0 * stats.norm.sf(np.abs(z)), ok)


def _rmst_block(time: np.ndarray, event: np.ndarray, arm1: np.ndarray, valid: np.ndarray,
                tau: float) -> tuple[np.ndarray, ...]:
    out = []
    for in_arm in (valid & ~arm1, valid & arm1):
        s = _sort(time, event & in_arm, arm1, in_arm)
        at = s.last & (s.d > 0)
        n = np.where(at, s.n_risk, 1).astype(float)
        d = np.where(at, s.d, 0).astype(float)
        surv = np.cumprod(1.0 - d / n, axis=1)  # Kaplan-Meier just after each position
        tc = np.minimum(s.time, tau)
        width = np.diff(tc, axis=1, append=np.full((tc.shape[0], 1), tau))
        seg = width * surv  # area under S over [t_i, t_(i+1)) clipped at tau
        rmst = tc[:, 0] + seg.sum(axis=1)
        # Area from t_i to tau, summed from the right for accuracy.
        tail = np.cumsum(seg[:, ::-1], axis=1)[:, ::-1]
        # Greenwood-type term; zero when the risk set is exhausted (n = d), as in survRM2.
        g = np.where(at & (s.time <= tau) & (n > d), d / (n * np.maximum(n - d, 1.0)), 0.0)
        var = (tail * tail * g).sum(axis=1)
        empty = ~in_arm.any(axis=1)
        out += [np.where(empty, np.nan, rmst), np.where(empty, np.nan, var)]
    return tuple(out)


def rmst_difference(time: np.ndarray, event: np.ndarray, arm: np.ndarray, tau: float,
                    mask: np.ndarray | None = None) -> RMSTResult:
    """Difference in restricted mean survival time (arm 1 minus arm 0) up to ``tau``.

    Parameters
    ----------
    time, event, arm, mask : ndarray, shape (n_trials, n_patients)
        As in :func:`logrank`.
    tau : float
        Truncation time (> 0), in the units of ``time``.

    Returns
    -------
    RMSTResult
        Per trial: ``rmst_control``, ``rmst_experimental``, ``difference`` (positive favours the
        experimental arm), ``se``, ``z = difference / se`` and the two-sided ``p_value``. An arm
        with no included patients gives NaN.

    Notes
    -----
    RMST is the area under each arm's Kaplan-Meier curve from 0 to ``tau``. Its variance is the
    standard Greenwood-type estimate (Klein & Moeschberger, section 4.5; R package survRM2)
    ``sum_{t_i <= tau} A_i^2 d_i / (n_i (n_i - d_i))`` with ``A_i`` the area under the curve
    from ``t_i`` to ``tau``; terms with ``n_i = d_i`` are zero. If an arm's follow-up ends
    before ``tau`` its curve is carried flat to ``tau`` (as lifelines does); choose ``tau``
    within the follow-up of both arms.
    """
    if not 0 < tau < np.inf:
        raise ValueError(f"tau must be finite and > 0, got {tau}")
    time, event, arm1, valid = _check(time, event, arm, mask)
    r0, v0, r1, v1 = _blocked(_rmst_block, (time, event, arm1, valid), tau=float(tau))
    diff = r1 - r0
    se = np.sqrt(v0 + v1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, diff / se, np.nan)
    return RMSTResult(r0, r1, diff, se, z, 2.0 * stats.norm.sf(np.abs(z)))


def bayes_prob_benefit(log_hr: np.ndarray | float, se: np.ndarray | float,
                       prior_mean: float = 0.0, prior_sd: float = np.inf) -> np.ndarray:
    """Posterior probability that the hazard ratio is below 1 (normal approximation).

    Parameters
    ----------
    log_hr, se : array_like
        Estimated log hazard ratio (arm 1 vs arm 0) and its standard error, e.g. from
        :func:`cox_two_arm`; broadcast together.
    prior_mean : float
        Mean of the normal prior on the log hazard ratio (0 = no effect expected).
    prior_sd : float
        Standard deviation of the prior. The default ``inf`` is a flat prior, for which the
        result is ``Phi(-log_hr / se)``, one minus the one-sided p-value; a sceptical prior
        such as ``prior_sd = log(2) / 1.96`` (95% prior mass on HR 0.5-2) shrinks towards
        ``prior_mean``.

    Returns
    -------
    ndarray
        ``P(log HR < 0 | data)``; NaN where ``log_hr`` or ``se`` is NaN.

    Notes
    -----
    This is an approximation: the Cox partial likelihood is replaced by a normal likelihood
    ``log_hr ~ N(theta, se^2)`` (accurate with enough events), and with the normal prior
    ``theta ~ N(prior_mean, prior_sd^2)`` the posterior is normal with precision
    ``1/se^2 + 1/prior_sd^2`` and precision-weighted mean (conjugate normal-normal update).
    """
    log_hr = np.asarray(log_hr, dtype=float)
    se = np.asarray(se, dtype=float)
    if not prior_sd > 0:
        raise ValueError(f"prior_sd must be > 0, got {prior_sd}")
    prior_prec = 1.0 / prior_sd**2  # 0 for the flat prior
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = 1.0 / se**2 + prior_prec
        mean = (log_hr / se**2 + prior_mean * prior_prec) / prec
        return stats.norm.cdf(-mean * np.sqrt(prec))


class PiecewiseCounts(NamedTuple):
    """Events and exposure (months) of each arm on each piece of follow-up, shape (n_trials, K)."""

    events0: np.ndarray
    exposure0: np.ndarray
    events1: np.ndarray
    exposure1: np.ndarray


def piecewise_counts(time: np.ndarray, event: np.ndarray, arm: np.ndarray, mask: np.ndarray | None,
                     edges) -> PiecewiseCounts:
    """Events and exposure per arm on the pieces ``[edges[k], edges[k + 1])`` of follow-up: the
    sufficient statistics of a piecewise-exponential model. Follow-up after the last edge is
    not counted (an event there is not an event of any piece)."""
    time, event, arm, valid = _check(time, event, arm, mask)
    e = np.asarray(edges, dtype=float)
    t = np.where(valid, np.nan_to_num(time, nan=0.0), 0.0)
    exposure = np.clip(t[..., None] - e[:-1], 0.0, np.diff(e))                   # (T, N, K)
    piece = np.searchsorted(e, t, side="right") - 1
    hit = (event & valid)[..., None] & (piece[..., None] == np.arange(len(e) - 1))
    on1 = arm[..., None]                                                       # _check: arm == 1
    return PiecewiseCounts((hit & ~on1).sum(1).astype(float), (exposure * (valid[..., None] & ~on1)).sum(1),
                           (hit & on1).sum(1).astype(float), (exposure * (valid[..., None] & on1)).sum(1))

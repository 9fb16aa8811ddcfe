"""Vectorised analyses of many simulated trials with a binary endpoint (response).

Inputs are 2-D arrays ``(n_trials, n_patients)``: ``success`` (bool), ``arm`` (0 control,
1 experimental), ``mask`` (bool, patient included at this look) and, for the stratified test,
``strata`` (int codes). Sign convention: every z is POSITIVE when the experimental arm has the
higher response rate (the opposite of the log-rank convention in :mod:`.analyses`, where
fewer events favour the experimental arm). Undefined statistics are NaN, never a warning.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special, stats

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(256)


class ArmCounts(NamedTuple):
    """Responders and patients per arm, one value per trial."""

    x0: np.ndarray
    n0: np.ndarray
    x1: np.ndarray
    n1: np.ndarray

    @property
    def rates(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.x0 / self.n0, self.x1 / self.n1


def arm_counts(success: np.ndarray, arm: np.ndarray, mask: np.ndarray) -> ArmCounts:
    """Responders and included patients of each arm."""
    s = success & mask
    one = arm == 1
    return ArmCounts((s & ~one).sum(1).astype(float), (mask & ~one).sum(1).astype(float),
                     (s & one).sum(1).astype(float), (mask & one).sum(1).astype(float))


def two_proportion_z(counts: ArmCounts) -> np.ndarray:
    """Pooled two-proportion z (its square is Pearson's chi-square without continuity correction)."""
    x0, n0, x1, n1 = counts
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (x0 + x1) / (n0 + n1)
        var = pooled * (1 - pooled) * (1 / n0 + 1 / n1)
        return np.where(var > 0, (x1 / n1 - x0 / n0) / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)


def cmh_z(success: np.ndarray, arm: np.ndarray, strata: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cochran-Mantel-Haenszel z across strata: sum of (x1 - E[x1]) over sum of hypergeometric
    variances, each stratum a 2x2 table of arm by response."""
    num, var = np.zeros(len(success)), np.zeros(len(success))
    for code in np.unique(strata):
        x0, n0, x1, n1 = arm_counts(success, arm, mask & (strata == code))
        n, m = n0 + n1, x0 + x1
        with np.errstate(invalid="ignore", divide="ignore"):
            num += np.where(n > 0, x1 - n1 * m / np.where(n > 0, n, 1), 0.0)
            var += np.where(n > 1, n0 * n1 * m * (n - m) / np.where(n > 1, n * n * (n - 1), 1), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, num / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)


def log_odds_ratio(counts: ArmCounts) -> np.ndarray:
    """Log odds ratio of response, experimental vs control, with 0.5 added to every cell."""
    x0, n0, x1, n1 = counts
    return np.log((x1 + 0.5) / (n1 - x1 + 0.5)) - np.log((x0 + 0.5) / (n0 - x0 + 0.5))


def prob_higher(counts: ArmCounts, a: float = 1.0, b: float = 1.0) -> np.ndarray:
    """Posterior probability that the experimental response rate exceeds the control's, with
    independent Beta(a, b) priors (see :func:`prob_beta_greater`)."""
    x0, n0, x1, n1 = counts
    return prob_beta_greater(a + x1, b + n1 - x1, a + x0, b + n0 - x0)


def prob_beta_greater(a1, b1, a0, b0) -> np.ndarray:
    """P(X1 > X0) for independent X1 ~ Beta(a1, b1), X0 ~ Beta(a0, b0), elementwise: the integral
    of f_1(p) F_0(p) over [0, 1] by 256-point Gauss-Legendre quadrature on the range holding both
    distributions' mass."""
    a1, b1, a0, b0 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a1, b1, a0, b0)))
    lo = np.minimum(special.betaincinv(a0, b0, 1e-12), special.betaincinv(a1, b1, 1e-12))[..., None]
    hi = np.maximum(special.betaincinv(a0, b0, 1 - 1e-12), special.betaincinv(a1, b1, 1 - 1e-12))[..., None]
    p = lo + (hi - lo) * (_NODES + 1) / 2
    log_f1 = (a1[..., None] - 1) * np.log(p) + (b1[..., None] - 1) * np.log1p(-p) - special.betaln(a1, b1)[..., None]
    integrand = np.exp(log_f1) * special.betainc(a0[..., None], b0[..., None], p)
    return np.clip((integrand * _WEIGHTS).sum(-1) * (hi[..., 0] - lo[..., 0]) / 2, 0.0, 1.0)


def prob_higher_than_mixture(counts: ArmCounts, control_prior, a: float = 1.0, b: float = 1.0) -> np.ndarray:
    """As :func:`prob_higher`, with the control rate's prior a Beta mixture (``BetaMixture``: a
    robust prior borrowed from the fitted model): its posterior is the mixture of the updated
    components, weighted by each component's prior-predictive probability of the control data."""
    x0, n0, x1, n1 = counts
    w, ak, bk = (np.asarray(v, dtype=float)[None, :] for v in (control_prior.weights, control_prior.a,
                                                                 control_prior.b))
    x0c, n0c = x0[:, None], n0[:, None]
    log_w = np.log(np.where(w > 0, w, 1.0)) + stats.betabinom.logpmf(x0c, n0c, ak, bk)
    log_w = np.where(w > 0, log_w, -np.inf)
    post = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    each = prob_beta_greater((a + x1)[:, None], (b + n1 - x1)[:, None], ak + x0c, bk + n0c - x0c)
    return np.clip((post * each).sum(axis=1), 0.0, 1.0)


def conflict_p_value(x: np.ndarray, n: np.ndarray, prior) -> np.ndarray:
    """Box's prior-predictive p-value of each trial's control data (``x`` responses of ``n``)
    under a Beta-mixture prior: the probability of data no more likely than those observed."""
    out = np.full(len(x), np.nan)
    for size in np.unique(n):
        rows = n == size
        pmf = prior.marginal_pmf(np.arange(int(size) + 1), int(size))
        observed = pmf[x[rows].astype(int)]
        out[rows] = (pmf[None, :] * (pmf[None, :] <= observed[:, None] * (1 + 1e-12))).sum(axis=1)
    return out

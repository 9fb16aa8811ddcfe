"""Robust mixture priors for a binary rate built from historical information (as RBesT).

* :func:`fit_beta` / :func:`fit_beta_mixture`: a Beta (moment matching) or a small Beta mixture
  (EM with moment-matching M-steps) fitted to draws of a historical response rate, e.g. the
  posterior-predictive draws of a meta-analytic (MAP) model.
* :func:`robustify`: weight ``w`` on the informative prior and ``1 - w`` on a vague component
  (Beta(1, 1) by default), Schmidli et al. (2014, Biometrics 70:1023-1032).
* :meth:`BetaMixture.ess`: effective sample size by the expected local-information ratio (ELIR,
  Neuenschwander, Weber, Schmidli & O'Hagan 2020, Biometrics 76:578-587) or by moments.
* :meth:`BetaMixture.posterior`: conjugate update of every component; the weights are updated
  with the components' beta-binomial marginal likelihoods of the data.
* :func:`prior_data_conflict`: Box's (1980) prior-predictive p-value of the observed count.
* :func:`single_arm_oc`, :func:`two_arm_oc`: exact operating characteristics of posterior-
  probability decision rules with the borrowed prior, as functions of ``w`` and of the drift
  (true current rate minus the historical prior mean), by summing over the binomial outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, special, stats

from relapse_model.designs import _checks
from relapse_model.designs._table import table
from relapse_model.errors import InputError


@dataclass(frozen=True)
class BetaMixture:
    """A finite mixture of Beta distributions, ``sum_j w_j Beta(a_j, b_j)``.

    Attributes
    ----------
    weights, a, b : tuple of float
        Component weights (summing to 1) and Beta parameters.
    """

    weights: tuple[float, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]

    def __post_init__(self):
        src = "BetaMixture"
        w = np.asarray(self.weights, dtype=float)
        a = np.asarray(self.a, dtype=float)
        b = np.asarray(self.b, dtype=float)
        if not (w.ndim == a.ndim == b.ndim == 1 and w.size == a.size == b.size and w.size > 0):
            raise InputError.single(src, "weights, a and b must be sequences of the same length")
        _checks.mixture_components(src, w, {"a": a, "b": b}, "Beta")
        object.__setattr__(self, "weights", tuple(float(v) for v in w / w.sum()))
        object.__setattr__(self, "a", tuple(float(v) for v in a))
        object.__setattr__(self, "b", tuple(float(v) for v in b))

    @classmethod
    def beta(cls, a: float, b: float) -> BetaMixture:
        """A single Beta(a, b)."""
        return cls((1.0,), (a,), (b,))

    # arrays -------------------------------------------------------------------------------
    @property
    def _w(self) -> np.ndarray:
        return np.asarray(self.weights)

    @property
    def _a(self) -> np.ndarray:
        return np.asarray(self.a)

    @property
    def _b(self) -> np.ndarray:
        return np.asarray(self.b)

    # summaries ----------------------------------------------------------------------------
    def mean(self) -> float:
        """Prior mean."""
        return float(np.sum(self._w * self._a / (self._a + self._b)))

    def var(self) -> float:
        """Prior variance."""
        a, b, w = self._a, self._b, self._w
        m = a / (a + b)
        second = m * (a + 1) / (a + b + 1)
        return float(np.sum(w * second) - self.mean() ** 2)

    def pdf(self, p) -> np.ndarray:
        """Density at ``p``."""
        p = np.asarray(p, dtype=float)[..., None]
        return np.sum(self._w * stats.beta.pdf(p, self._a, self._b), axis=-1)

    def cdf(self, p) -> np.ndarray:
        """Distribution function at ``p``."""
        p = np.asarray(p, dtype=float)[..., None]
        return np.sum(self._w * stats.beta.cdf(p, self._a, self._b), axis=-1)

    def sf(self, p) -> np.ndarray:
        """``P(rate > p)``."""
        p = np.asarray(p, dtype=float)[..., None]
        return np.sum(self._w * stats.beta.sf(p, self._a, self._b), axis=-1)

    def marginal_pmf(self, x, n: int) -> np.ndarray:
        """Prior-predictive probability of ``x`` responses of ``n`` (beta-binomial mixture)."""
        x = np.asarray(x, dtype=float)[..., None]
        return np.sum(self._w * stats.betabinom.pmf(x, n, self._a, self._b), axis=-1)

    def posterior(self, x: int, n: int) -> BetaMixture:
        """Posterior after ``x`` responses of ``n``: Beta(a_j + x, b_j + n - x) with weights
        proportional to ``w_j * BetaBinomial(x; n, a_j, b_j)``."""
        n = _checks.integer("BetaMixture.posterior", "n", n, minimum=0)
        x = _checks.integer("BetaMixture.posterior", "x", x, minimum=0)
        if x > n:
            raise InputError.single("BetaMixture.posterior", f"x = {x} must be <= n = {n}")
        logw = np.log(np.where(self._w > 0, self._w, 1.0)) + \
            stats.betabinom.logpmf(x, n, self._a, self._b)
        logw = np.where(self._w > 0, logw, -np.inf)
        w = np.exp(logw - logw.max())
        return BetaMixture(tuple(w / w.sum()), tuple(self._a + x), tuple(self._b + n - x))

    def ess(self, method: str = "elir") -> float:
        """Effective sample size.

        Parameters
        ----------
        method : {"elir", "moment"}
            ``"elir"``: expected local-information ratio, ``E_prior[i(p) p (1 - p)]`` with
            ``i(p) = -d^2 log prior(p) / dp^2`` and ``1 / (p (1 - p))`` the Fisher information of
            one Bernoulli observation (Neuenschwander et al. 2020; exactly ``a + b`` for a Beta,
            computed by adaptive quadrature for a mixture, where it needs every component to have
            ``a, b >= 1``).
            ``"moment"``: ``a + b`` of the Beta with the same mean and variance,
            ``m (1 - m) / v - 1``.

        Returns
        -------
        float
        """
        if method == "moment":
            m, v = self.mean(), self.var()
            return float(m * (1 - m) / v - 1.0)
        if method != "elir":
            raise InputError.single("BetaMixture.ess", f"method = {method!r} must be 'elir' or "
                                    "'moment'")
        a, b, w = self._a, self._b, self._w
        if a.size == 1:
            return float(a[0] + b[0])
        used = w > 0
        if np.any(used & ((a < 1) | (b < 1))):
            raise InputError.single("BetaMixture.ess", "the ELIR effective sample size is not "
                                    "finite for a mixture with a component having a < 1 or b < 1 "
                                    "(its local information diverges at 0 or 1); use "
                                    "method='moment'")
        a, b, w = a[used], b[used], w[used]

        def integrand(u: float) -> float:
            # log of each component density and its first two derivatives in p
            logf = np.log(w + 1e-300) + stats.beta.logpdf(u, a, b)
            s1 = (a - 1) / u - (b - 1) / (1 - u)
            s2 = -(a - 1) / u ** 2 - (b - 1) / (1 - u) ** 2
            lmax = logf.max()
            f = np.exp(logf - lmax)
            total = f.sum()
            d1 = np.sum(f * s1) / total               # p'/p
            d2 = np.sum(f * (s1 ** 2 + s2)) / total   # p''/p
            info = -(d2 - d1 ** 2)                    # -(log p)''
            return float(np.exp(lmax) * total * info * u * (1 - u))

        edges = sorted({0.0, 1.0, *np.clip(a / (a + b), 1e-6, 1 - 1e-6)})
        value = 0.0
        for lo, hi in zip(edges[:-1], edges[1:]):
            part, _ = integrate.quad(integrand, lo, hi, limit=200)
            value += part
        return float(value)

    def to_frame(self):
        """One row per component: ``weight, a, b, mean, ess`` (pandas DataFrame)."""
        import pandas as pd
        return pd.DataFrame({"weight": self.weights, "a": self.a, "b": self.b,
                             "mean": self._a / (self._a + self._b), "ess": self._a + self._b})

    def to_dict(self) -> dict[str, object]:
        """Weights and Beta parameters as lists."""
        return {"weights": list(self.weights), "a": list(self.a), "b": list(self.b)}

    def __str__(self) -> str:
        rows = [(f"{i + 1}", w, a, b, a / (a + b), a + b)
                for i, (w, a, b) in enumerate(zip(self.weights, self.a, self.b))]
        return table(["component", "weight", "a", "b", "mean", "a+b"], rows,
                     title=(f"Beta mixture: mean {self.mean():.4f}, sd {np.sqrt(self.var()):.4f}, "
                            f"ESS(moment) {self.ess('moment'):.1f}"))

    __repr__ = __str__


def _samples(source: str, samples) -> np.ndarray:
    try:
        s = np.asarray(samples, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError.single(source, "samples must be numbers between 0 and 1") from None
    if s.size < 2:
        raise InputError.single(source, "need at least 2 samples")
    if not np.all(np.isfinite(s)):
        raise InputError.single(source, "samples contain NaN or infinite values")
    if np.any((s <= 0) | (s >= 1)):
        raise InputError.single(source, "samples must lie strictly between 0 and 1")
    return s


def _moment_beta(m: float, v: float) -> tuple[float, float]:
    k = m * (1 - m) / v - 1.0
    return m * k, (1 - m) * k


def fit_beta(samples) -> BetaMixture:
    """A Beta with the mean and variance of ``samples`` (draws of a rate in (0, 1)).

    Raises
    ------
    InputError
        When the sample variance is too large for any Beta (``v >= m (1 - m)``).
    """
    s = _samples("fit_beta", samples)
    m, v = float(s.mean()), float(s.var(ddof=1))
    if not 0 < v < m * (1 - m):
        raise InputError.single("fit_beta", f"sample variance {v:.4g} cannot be matched by a Beta "
                                f"with mean {m:.4g}")
    return BetaMixture.beta(*_moment_beta(m, v))


def fit_beta_mixture(samples, n_components: int = 2, n_iter: int = 200,
                     seed: int | None = 0) -> BetaMixture:
    """A Beta mixture fitted to draws of a rate by EM with moment-matching M-steps.

    The E-step is exact (component responsibilities from the Beta densities); the M-step sets
    each component's weight to its mean responsibility and its (a, b) by matching the
    responsibility-weighted mean and variance (a fast approximation of the maximum-likelihood
    M-step, adequate for approximating a smooth MAP prior; check the fit, e.g. with
    :meth:`BetaMixture.mean`/:meth:`BetaMixture.var` against the samples).

    Parameters
    ----------
    samples : array-like
        Draws in (0, 1).
    n_components : int
        Number of components (1 gives :func:`fit_beta`).
    n_iter : int
        Maximum EM iterations (stops earlier when the log-likelihood changes by < 1e-8
        relatively).
    seed : int or None
        Seed of the initial assignment to components (by sample quantiles, then jittered).

    Returns
    -------
    BetaMixture
    """
    s = _samples("fit_beta_mixture", samples)
    k = _checks.integer("fit_beta_mixture", "n_components", n_components, minimum=1)
    n_iter = _checks.integer("fit_beta_mixture", "n_iter", n_iter, minimum=1)
    if k == 1:
        return fit_beta(s)
    rng = np.random.default_rng(seed)
    order = np.argsort(s + rng.normal(0.0, 1e-9, s.size))
    resp = np.zeros((s.size, k))
    resp[order, np.minimum(np.arange(s.size) * k // s.size, k - 1)] = 1.0
    log_s, log_1ms = np.log(s)[:, None], np.log1p(-s)[:, None]
    previous = -np.inf
    for _ in range(n_iter):
        nk = resp.sum(axis=0) + 1e-12
        w = nk / s.size
        m = (resp * s[:, None]).sum(axis=0) / nk
        v = (resp * (s[:, None] - m) ** 2).sum(axis=0) / nk
        v = np.clip(v, 1e-10, m * (1 - m) * 0.999)
        a, b = _moment_beta(m, v)
        logp = np.log(w) + (a - 1) * log_s + (b - 1) * log_1ms - special.betaln(a, b)
        norm = special.logsumexp(logp, axis=1, keepdims=True)
        resp = np.exp(logp - norm)
        loglik = float(norm.sum())
        if abs(loglik - previous) < 1e-8 * abs(loglik):
            break
        previous = loglik
    return BetaMixture(tuple(w / w.sum()), tuple(a), tuple(b))


def robustify(prior: BetaMixture, weight: float, vague: BetaMixture | None = None) -> BetaMixture:
    """Robust mixture: ``weight`` on the informative ``prior``, ``1 - weight`` on ``vague``.

    Parameters
    ----------
    prior : BetaMixture
        Informative prior (e.g. a fitted MAP prior).
    weight : float
        ``w`` in [0, 1]; ``w = 0`` is the vague prior alone (no borrowing).
    vague : BetaMixture, optional
        The robust component, default Beta(1, 1).
    """
    w = _checks.unit_closed("robustify", "weight", weight)
    vague = BetaMixture.beta(1.0, 1.0) if vague is None else vague
    if w == 0.0:
        return vague
    if w == 1.0:
        return prior
    return BetaMixture(tuple([w * v for v in prior.weights] + [(1 - w) * v for v in vague.weights]),
                       prior.a + vague.a, prior.b + vague.b)


@dataclass(frozen=True)
class ConflictCheck:
    """Box's prior-predictive check of an observed count.

    Attributes
    ----------
    x, n : int
        Observed responses and patients.
    p_value : float
        ``P(m(X) <= m(x))`` with ``m`` the prior-predictive pmf of ``X`` out of ``n``.
    lower_tail, upper_tail : float
        ``P(X <= x)`` and ``P(X >= x)`` under the prior predictive.
    """

    x: int
    n: int
    p_value: float
    lower_tail: float
    upper_tail: float

    def to_dict(self) -> dict[str, object]:
        """Fields as a plain dict."""
        return {"x": self.x, "n": self.n, "p_value": self.p_value,
                "lower_tail": self.lower_tail, "upper_tail": self.upper_tail}

    def __str__(self) -> str:
        return table(["x", "n", "Box p-value", "P(X <= x)", "P(X >= x)"],
                     [(self.x, self.n, self.p_value, self.lower_tail, self.upper_tail)],
                     title="Prior-data conflict (prior-predictive check)")

    __repr__ = __str__


def prior_data_conflict(prior: BetaMixture, x: int, n: int) -> ConflictCheck:
    """Box's prior-predictive p-value of observing ``x`` responses of ``n``.

    Small values (e.g. < 0.05) signal that the current data conflict with the prior.
    """
    n = _checks.integer("prior_data_conflict", "n", n, minimum=1)
    x = _checks.integer("prior_data_conflict", "x", x, minimum=0)
    if x > n:
        raise InputError.single("prior_data_conflict", f"x = {x} must be <= n = {n}")
    pmf = prior.marginal_pmf(np.arange(n + 1), n)
    p_value = float(pmf[pmf <= pmf[x] * (1 + 1e-10)].sum())
    return ConflictCheck(x=x, n=n, p_value=min(p_value, 1.0),
                         lower_tail=float(pmf[:x + 1].sum()), upper_tail=float(pmf[x:].sum()))


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class BorrowingOC:
    """Exact probability of declaring success over a grid of weights and drifts.

    Attributes
    ----------
    weights : ndarray, shape (W,)
        Prior weights on the informative component.
    drift : ndarray, shape (D,)
        True current rate minus the historical (informative) prior mean.
    true_rate : ndarray, shape (D,)
        The true current rate of the borrowed arm.
    prob_success : ndarray, shape (W, D)
        Exact probability of declaring success.
    """

    weights: np.ndarray
    drift: np.ndarray
    true_rate: np.ndarray
    prob_success: np.ndarray

    def to_frame(self):
        """Long format: ``weight, drift, true_rate, prob_success`` (pandas DataFrame)."""
        import pandas as pd
        w, d = np.meshgrid(self.weights, self.drift, indexing="ij")
        r = np.broadcast_to(self.true_rate, w.shape)
        return pd.DataFrame({"weight": w.ravel(), "drift": d.ravel(), "true_rate": r.ravel(),
                             "prob_success": self.prob_success.ravel()})

    def __str__(self) -> str:
        header = ["drift"] + [f"w={w:g}" for w in self.weights][:10]
        rows = [[d] + list(self.prob_success[:10, j]) for j, d in enumerate(self.drift)]
        return table(header, rows, title="P(declare success) by prior weight (columns) and drift")

    __repr__ = __str__


def _grid(source: str, weights, drift, base: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = np.atleast_1d(np.asarray(weights, dtype=float))
    d = np.atleast_1d(np.asarray(drift, dtype=float))
    for v in w:
        _checks.unit_closed(source, "weight", v)
    if not np.all(np.isfinite(d)):
        raise InputError.single(source, "drift contains NaN or infinite values")
    rate = base + d
    if np.any((rate < 0) | (rate > 1)):
        raise InputError.single(source, f"drift moves the true rate outside [0, 1] (historical "
                                f"mean {base:.4g})")
    return w, d, rate


def single_arm_oc(prior: BetaMixture, n: int, p_target: float, threshold: float, weights,
                  drift, vague: BetaMixture | None = None) -> BorrowingOC:
    """Single arm, borrowed prior on its rate: success iff ``P(p > p_target | x) >= threshold``.

    Parameters
    ----------
    prior : BetaMixture
        Informative (historical) prior of the arm's rate.
    n : int
        Patients in the current trial.
    p_target : float
        Rate to beat.
    threshold : float
        Posterior probability needed.
    weights : sequence of float
        Weights ``w`` of the informative part (``robustify``).
    drift : sequence of float
        True current rate minus ``prior.mean()``.
    vague : BetaMixture, optional
        Robust component (default Beta(1, 1)).

    Returns
    -------
    BorrowingOC
    """
    src = "single_arm_oc"
    n = _checks.integer(src, "n", n, minimum=1)
    p_target = _checks.rate(src, "p_target", p_target)
    threshold = _checks.rate(src, "threshold", threshold)
    w, d, rate = _grid(src, weights, drift, prior.mean())
    x = np.arange(n + 1)
    pmf = stats.binom.pmf(x[:, None], n, rate[None, :])       # (x, D)
    out = np.empty((w.size, d.size))
    for i, wi in enumerate(w):
        mix = robustify(prior, wi, vague)
        post = np.array([mix.posterior(int(k), n).sf(p_target) for k in x])
        out[i] = ((post >= threshold)[:, None] * pmf).sum(axis=0)
    return BorrowingOC(weights=w, drift=d, true_rate=rate, prob_success=out)


#: Gauss-Legendre nodes on (0, 1) for P(p_T > p_C) = int_0^1 P(p_T > F_C^{-1}(u)) du.
_GL_U, _GL_W = np.polynomial.legendre.leggauss(200)
_GL_U, _GL_W = (_GL_U + 1) / 2, _GL_W / 2


def prob_greater(treat: tuple[np.ndarray, np.ndarray], control: BetaMixture) -> np.ndarray:
    """``P(p_T > p_C)`` for Beta(a_T, b_T) arrays against a Beta mixture (one or per cell).

    Computed as ``sum_j w_j int_0^1 S_T(Q_j(u)) du`` with ``Q_j`` the component quantile
    function and 200-point Gauss-Legendre quadrature in ``u`` (the integrand is bounded and
    monotone, so no density singularities enter).
    """
    aT, bT = (np.asarray(v, dtype=float) for v in treat)
    total = 0.0
    for w, a, b in zip(control.weights, control.a, control.b):
        q = special.betaincinv(a, b, _GL_U)                  # (U,)
        s = special.betainc(bT[..., None], aT[..., None], 1.0 - q)  # = P(Beta(aT,bT) > q)
        total = total + w * (s * _GL_W).sum(axis=-1)
    return np.asarray(total)


def two_arm_oc(control_prior: BetaMixture, n_control: int, n_treat: int, threshold: float,
               weights, drift, effect: float = 0.0, treat_prior=(1.0, 1.0),
               vague: BetaMixture | None = None) -> BorrowingOC:
    """Two arms, borrowed prior on the control rate: success iff ``P(p_T > p_C | data) >=
    threshold``.

    The true control rate is ``control_prior.mean() + drift``; the true treatment rate is the
    true control rate plus ``effect`` (``effect = 0``: type-I error under drift). The treatment
    arm has a Beta ``treat_prior``. Exact: sums over all ``(x_C, x_T)`` outcomes.

    Parameters
    ----------
    control_prior : BetaMixture
        Informative (historical) prior of the control rate.
    n_control, n_treat : int
        Current patients per arm.
    threshold : float
        Posterior probability needed.
    weights, drift : sequence of float
        Grid of informative weights and of drifts.
    effect : float
        True treatment minus true control rate.
    treat_prior : (float, float)
        Beta prior of the treatment rate.
    vague : BetaMixture, optional
        Robust component (default Beta(1, 1)).

    Returns
    -------
    BorrowingOC
    """
    src = "two_arm_oc"
    nc = _checks.integer(src, "n_control", n_control, minimum=1)
    nt = _checks.integer(src, "n_treat", n_treat, minimum=1)
    threshold = _checks.rate(src, "threshold", threshold)
    effect = _checks.real(src, "effect", effect)
    at, bt = (_checks.positive(src, "treat_prior", v) for v in treat_prior)
    w, d, rate = _grid(src, weights, drift, control_prior.mean())
    if np.any((rate + effect < 0) | (rate + effect > 1)):
        raise InputError.single(src, "effect moves the true treatment rate outside [0, 1]")
    xc, xt = np.arange(nc + 1), np.arange(nt + 1)
    pc = stats.binom.pmf(xc[:, None], nc, rate[None, :])          # (xc, D)
    ptr = stats.binom.pmf(xt[:, None], nt, rate[None, :] + effect)  # (xt, D)
    out = np.empty((w.size, d.size))
    for i, wi in enumerate(w):
        mix = robustify(control_prior, wi, vague)
        prob = np.empty((nc + 1, nt + 1))
        for k in xc:
            prob[k] = prob_greater((at + xt, bt + nt - xt), mix.posterior(int(k), nc))
        win = (prob >= threshold).astype(float)                   # (xc, xt)
        out[i] = np.einsum("cd,ct,td->d", pc, win, ptr)
    return BorrowingOC(weights=w, drift=d, true_rate=rate, prob_success=out)

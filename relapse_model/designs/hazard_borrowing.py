"""Robust mixture priors for piecewise-constant hazards, for borrowing on time-to-event endpoints.

The time-to-event counterpart of :mod:`.borrowing`. Follow-up is cut into pieces
``[e_k, e_{k+1})`` up to a horizon ``e_K``; the control arm's hazard on piece ``k`` is
``lambda_k`` and the experimental arm's ``theta * lambda_k`` (a piecewise-exponential
proportional-hazards model). A trial's data on the pieces are events ``d`` and exposure ``E``
per arm and piece, with a Poisson likelihood.

* :class:`GammaMixture`: the control hazards' prior, ``sum_j w_j prod_k Gamma(a_jk, b_jk)``
  (shape ``a``, rate ``b``); its effective sample size in prior events.
* :func:`fit_gamma_mixture`: fitted to draws of the historical hazards (e.g. a model's
  posterior of the standard-care hazards in the trial's eligible population) by EM with
  moment-matching M-steps, optionally removing the Monte Carlo noise of simulated draws.
* :func:`robustify_hazards`: weight ``w`` on it, ``1 - w`` on a vague component centred on it
  that carries ``vague_events`` prior events in all.
* :func:`prob_hazard_ratio_below`: the posterior probability that ``theta < 1``. Each
  ``lambda_k`` integrates out in closed form (Gamma-Poisson), which leaves a one-dimensional
  posterior of ``log theta`` (flat or normal prior), integrated by Gauss-Legendre quadrature on
  either side of 0; the mixture weights update with each component's marginal likelihood.
* :func:`hazard_conflict_p_value`: Box's (1980) prior-predictive p-value of the control arm's
  total events given its exposure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from relapse_model.designs import _checks
from relapse_model.designs._table import table
from relapse_model.errors import InputError

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(96)


def _edges(source: str, edges) -> np.ndarray:
    try:
        e = np.asarray(edges, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError.single(source, "edges must be numbers (months)") from None
    if e.size < 2 or e[0] != 0 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise InputError.single(source, f"edges {list(e)} must start at 0, increase and end at a finite horizon")
    return e


@dataclass(frozen=True, eq=False)   # holds arrays
class GammaMixture:
    """A mixture of products of independent Gamma distributions of piecewise-constant hazards.

    Attributes
    ----------
    weights : ndarray, shape (J,)
        Component weights (summing to 1).
    shape, rate : ndarray, shape (J, K)
        Gamma shape ``a`` and rate ``b`` (per month) of each component and piece.
    edges : ndarray, shape (K + 1,)
        Piece boundaries in months, from 0 to the horizon.
    """

    weights: np.ndarray
    shape: np.ndarray
    rate: np.ndarray
    edges: np.ndarray

    def __post_init__(self):
        src = "GammaMixture"
        w = np.atleast_1d(np.asarray(self.weights, dtype=float))
        a = np.atleast_2d(np.asarray(self.shape, dtype=float))
        b = np.atleast_2d(np.asarray(self.rate, dtype=float))
        e = _edges(src, self.edges)
        if not (w.ndim == 1 and a.shape == b.shape == (w.size, e.size - 1)):
            raise InputError.single(src, f"shape and rate must be (components, pieces) = ({w.size}, {e.size - 1})")
        _checks.mixture_components(src, w, {"shape": a, "rate": b}, "Gamma")
        for name, value in (("weights", w / w.sum()), ("shape", a), ("rate", b), ("edges", e)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def n_pieces(self) -> int:
        return self.shape.shape[1]

    def mean(self) -> np.ndarray:
        """Prior mean hazard of each piece (per month)."""
        return self.weights @ (self.shape / self.rate)

    def var(self) -> np.ndarray:
        """Prior variance of each piece's hazard."""
        m = self.shape / self.rate
        return self.weights @ (m / self.rate + m ** 2) - self.mean() ** 2

    def ess(self) -> float:
        """Effective sample size in prior events: on each piece the shape of the Gamma with the
        prior's mean and variance (a Gamma(a, b) prior weighs as much as ``a`` events in ``b``
        months of exposure), summed over the pieces."""
        return float((self.mean() ** 2 / self.var()).sum())

    def log_marginal(self, events: np.ndarray, exposure: np.ndarray) -> np.ndarray:
        """Log prior-predictive probability of ``events`` (..., K) given ``exposure`` (..., K)
        under each component: shape (..., J)."""
        d, e = np.asarray(events, float)[..., None, :], np.asarray(exposure, float)[..., None, :]
        a, b = self.shape, self.rate
        with np.errstate(divide="ignore", invalid="ignore"):
            each = (special.gammaln(a + d) - special.gammaln(a) - special.gammaln(d + 1) + a * np.log(b)
                    + special.xlogy(d, e) - (a + d) * np.log(b + e))
        return each.sum(axis=-1)

    def to_dict(self) -> dict[str, object]:
        """Fields as a plain dict of lists."""
        return {"weights": self.weights.tolist(), "shape": self.shape.tolist(), "rate": self.rate.tolist(),
                "edges": self.edges.tolist()}

    def pieces(self) -> list[str]:
        """The pieces as labels, e.g. ``"0-3"`` (months)."""
        return [f"{lo:g}-{hi:g}" for lo, hi in zip(self.edges[:-1], self.edges[1:])]

    def __str__(self) -> str:
        rows = [[f"component {j + 1}", w] + list(self.shape[j] / self.rate[j]) for j, w in enumerate(self.weights)]
        rows.append(["mixture", 1.0] + list(self.mean()))
        return table(["", "weight"] + [f"{p} mo" for p in self.pieces()], rows,
                     title=f"Gamma mixture of hazards per month (ESS {self.ess():.1f} events)")

    __repr__ = __str__


def _draws(source: str, draws, n_pieces: int) -> np.ndarray:
    try:
        x = np.asarray(draws, dtype=float)
    except (TypeError, ValueError):
        raise InputError.single(source, "draws must be numbers (hazards per month)") from None
    if x.ndim != 2 or x.shape[1] != n_pieces or x.shape[0] < 2:
        raise InputError.single(source, f"draws must be an array (draws >= 2, pieces = {n_pieces})")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise InputError.single(source, "draws must be finite hazards greater than 0")
    return x


def _moment_gamma(m: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return m * m / v, m / v


def fit_gamma_mixture(draws, edges, n_components: int = 2, *, noise_var=None, n_iter: int = 200,
                      seed: int | None = 0) -> GammaMixture:
    """A mixture of products of Gammas fitted to draws of piecewise hazards.

    The E-step is exact (responsibilities from the product of Gamma densities, so a component
    captures draws whose hazards are high or low together); the M-step matches each
    component's responsibility-weighted mean and variance on every piece.

    Parameters
    ----------
    draws : array-like, shape (S, K)
        Draws of the hazard (per month) of each piece.
    edges : array-like, shape (K + 1,)
        Piece boundaries in months, from 0.
    n_components : int
        Number of mixture components.
    noise_var : array-like, shape (S, K), optional
        Monte Carlo variance of each draw (e.g. events / exposure^2 when each draw is itself
        estimated from simulated patients), subtracted from the matched variances so that
        simulation noise does not make the prior vaguer than the posterior it approximates
        (at most 90% of a variance is removed).
    n_iter : int
        Maximum EM iterations (stops when the log-likelihood changes by < 1e-8 relatively).
    seed : int or None
        Seed of the initial assignment (by the draws' total hazard, jittered).

    Returns
    -------
    GammaMixture
    """
    e = _edges("fit_gamma_mixture", edges)
    x = _draws("fit_gamma_mixture", draws, e.size - 1)
    k = _checks.integer("fit_gamma_mixture", "n_components", n_components, minimum=1)
    n_iter = _checks.integer("fit_gamma_mixture", "n_iter", n_iter, minimum=1)
    noise = np.zeros_like(x) if noise_var is None else np.broadcast_to(np.asarray(noise_var, float), x.shape)
    rng = np.random.default_rng(seed)
    score = np.log(x).sum(axis=1)
    order = np.argsort(score + rng.normal(0.0, 1e-9, score.size))
    resp = np.zeros((x.shape[0], k))
    resp[order, np.minimum(np.arange(x.shape[0]) * k // x.shape[0], k - 1)] = 1.0
    log_x = np.log(x)
    previous = -np.inf
    for _ in range(n_iter):
        nk = resp.sum(axis=0) + 1e-12
        w = nk / x.shape[0]
        m = (resp.T @ x) / nk[:, None]                                          # (J, K)
        v = np.einsum("sj,sjk->jk", resp, (x[:, None, :] - m[None]) ** 2) / nk[:, None]
        v = np.maximum(v - (resp.T @ noise) / nk[:, None], 0.1 * v)
        v = np.maximum(v, 1e-12 * m * m)
        a, b = _moment_gamma(m, v)
        logp = np.log(w) + ((a - 1) * log_x[:, None, :] - b * x[:, None, :] + a * np.log(b)
                            - special.gammaln(a)).sum(axis=2)
        norm = special.logsumexp(logp, axis=1, keepdims=True)
        resp = np.exp(logp - norm)
        loglik = float(norm.sum())
        if abs(loglik - previous) < 1e-8 * abs(loglik):
            break
        previous = loglik
    return GammaMixture(w / w.sum(), a, b, e)


def robustify_hazards(prior: GammaMixture, weight: float, vague_events: float = 1.0) -> GammaMixture:
    """Robust mixture: ``weight`` on the informative ``prior``, ``1 - weight`` on a vague
    component with the prior's mean hazard on every piece and ``vague_events`` prior events in
    all (spread evenly over the pieces); ``weight = 0`` is the vague component alone."""
    w = _checks.unit_closed("robustify_hazards", "weight", weight)
    events = _checks.positive("robustify_hazards", "vague_events", vague_events)
    a = np.full(prior.n_pieces, events / prior.n_pieces)
    vague = GammaMixture(np.ones(1), a[None, :], (a / prior.mean())[None, :], prior.edges)
    if w == 0.0:
        return vague
    if w == 1.0:
        return prior
    return GammaMixture(np.concatenate([w * prior.weights, [1 - w]]), np.vstack([prior.shape, vague.shape]),
                        np.vstack([prior.rate, vague.rate]), prior.edges)


def _counts(source: str, *arrays) -> list[np.ndarray]:
    out = [np.atleast_2d(np.asarray(v, dtype=float)) for v in arrays]
    if len({v.shape for v in out}) != 1:
        raise InputError.single(source, "events and exposures must have the same shape (trials, pieces)")
    if any(np.any(~np.isfinite(v) | (v < 0)) for v in out):
        raise InputError.single(source, "events and exposures must be finite and >= 0")
    return out


def prob_hazard_ratio_below(prior: GammaMixture, events0, exposure0, events1, exposure1, *,
                            log_hr_prior_sd: float = float("inf")) -> np.ndarray:
    """Posterior probability that the hazard ratio ``theta`` (experimental vs control) is below 1.

    Parameters
    ----------
    prior : GammaMixture
        Prior of the control hazards (the experimental arm's are ``theta`` times them).
    events0, exposure0, events1, exposure1 : array-like, shape (T, K)
        Events and exposure (months) on each piece of the control (0) and experimental (1) arm
        of ``T`` trials.
    log_hr_prior_sd : float
        Standard deviation of a normal prior on ``log theta`` centred on 0; ``inf``: flat (the
        posterior is then proper only when the experimental arm has an event: NaN otherwise).

    Returns
    -------
    ndarray, shape (T,)
    """
    d0, e0, d1, e1 = _counts("prob_hazard_ratio_below", events0, exposure0, events1, exposure1)
    if d0.shape[1] != prior.n_pieces:
        raise InputError.single("prob_hazard_ratio_below", f"counts have {d0.shape[1]} pieces, the prior "
                                f"{prior.n_pieces}")
    sd = float(log_hr_prior_sd)
    total = d0 + d1
    # quadrature range: around the crude estimate and the estimate against the prior mean hazard
    rate1 = (d1.sum(1) + 0.5) / (e1.sum(1) + 1e-12)
    crude = np.log(rate1) - np.log((d0.sum(1) + 0.5) / (e0.sum(1) + 1e-12))
    against_prior = np.log((d1.sum(1) + 0.5) / ((prior.mean() * e1).sum(1) + 1e-12))
    spread = np.sqrt(1.0 / (d1.sum(1) + 0.5) + 1.0 / (d0.sum(1) + 0.5))
    if np.isfinite(sd):
        spread = np.minimum(spread, sd)
    lo = np.minimum(crude, against_prior) - 12 * spread
    hi = np.maximum(crude, against_prior) + 12 * spread
    mid = np.clip(0.0, lo, hi)
    half = (_NODES + 1) / 2
    phi = np.concatenate([lo[:, None] + (mid - lo)[:, None] * half, mid[:, None] + (hi - mid)[:, None] * half], 1)
    gl = np.concatenate([(mid - lo)[:, None] * _WEIGHTS / 2, (hi - mid)[:, None] * _WEIGHTS / 2], 1)
    a, b = prior.shape[None, None], prior.rate[None, None]                          # (1, 1, J, K)
    const = (special.gammaln(a + total[:, None, None, :]) - special.gammaln(a) + a * np.log(b)).sum(-1)
    log_like = (d1.sum(1)[:, None, None] * phi[:, :, None] + const
                - ((a + total[:, None, None, :]) * np.log(b + e0[:, None, None, :]
                                                         + np.exp(phi)[:, :, None, None] * e1[:, None, None, :])
                   ).sum(-1))                                                       # (T, nodes, J)
    log_post = special.logsumexp(log_like + np.log(prior.weights), axis=2)
    if np.isfinite(sd):
        log_post = log_post - 0.5 * (phi / sd) ** 2
    density = np.exp(log_post - log_post.max(axis=1, keepdims=True)) * gl
    n = _NODES.size
    below = density[:, :n].sum(1) / density.sum(1)
    if not np.isfinite(sd):
        below = np.where(d1.sum(1) > 0, below, np.nan)
    return np.clip(below, 0.0, 1.0)


def hazard_conflict_p_value(prior: GammaMixture, events, exposure, max_events) -> np.ndarray:
    """Box's prior-predictive p-value of each trial's total control events given its exposure.

    Under each component the events of piece ``k`` are negative binomial (Gamma-Poisson); their
    sum's distribution is the convolution over the pieces, exact on ``0..max_events``. The
    p-value is the prior-predictive probability of a total no more likely than the observed one
    (small: the control data conflict with the prior).

    Parameters
    ----------
    prior : GammaMixture
        The (informative) prior of the control hazards.
    events, exposure : array-like, shape (T, K)
        The control arm's events and exposure on each piece.
    max_events : array-like of int, shape (T,) or scalar
        The most events the arm could have (its number of patients).
    """
    d, e = _counts("hazard_conflict_p_value", events, exposure)
    top = np.broadcast_to(np.asarray(max_events, dtype=int), d.shape[:1])
    m = int(max(top.max(), d.sum(1).max())) + 1
    x = np.arange(m)
    p = prior.rate[None] / (prior.rate[None] + e[:, None, :])                    # (T, J, K)
    pmf = stats.nbinom.pmf(x, prior.shape[None, :, :, None], p[..., None])      # (T, J, K, m)
    size = 1 << int(np.ceil(np.log2(2 * m)))
    total = np.fft.irfft(np.prod(np.fft.rfft(pmf, n=size, axis=-1), axis=2), n=size, axis=-1)[..., :m]
    mix = np.einsum("j,tjm->tm", prior.weights, np.clip(total, 0.0, None))        # FFT round-off below 0
    observed = mix[np.arange(len(d)), d.sum(1).astype(int)]
    more_likely = (mix > observed[:, None] * (1 + 1e-9)).astype(float) * mix
    return np.clip(1.0 - more_likely.sum(1), 0.0, 1.0)

"""Exact operating characteristics of single-arm multi-stage designs with a binary endpoint.

A design has cumulative sample sizes ``n_1 < ... < n_K`` (the looks). At an interim look ``k < K``
the trial stops for futility when the cumulative number of responses ``X_k <= f_k`` and stops
declaring activity (rejecting H0) when ``X_k >= e_k``; at the final look activity is declared when
``X_K > f_K``. Simon's two-stage design is ``looks=(n1, n)``, ``futility=(r1, r)`` with no
efficacy stop. The probabilities are computed exactly by a forward recursion over the
distribution of the number of responses among patients still on study (a convolution with the
binomial law of each stage's new responses), vectorised over true response rates and over many
designs at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from relapse_model.designs import _checks
from relapse_model.designs._table import table
from relapse_model.errors import InputError

_SOURCE = "multistage_oc"


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class OperatingCharacteristics:
    """Exact operating characteristics of one multi-stage binary design at a grid of true rates.

    Attributes
    ----------
    p : ndarray, shape (P,)
        True response rates.
    looks : tuple of int
        Cumulative sample sizes at the looks.
    prob_reject : ndarray, shape (P,)
        Probability of declaring activity (rejecting H0) at any look.
    pet : ndarray, shape (P,)
        Probability of early termination (stopping at an interim look, for either reason).
    expected_n : ndarray, shape (P,)
        Expected number of patients enrolled.
    stop_futility : ndarray, shape (P, K)
        Probability of stopping for futility at each look (the last column is "not declared").
    stop_efficacy : ndarray, shape (P, K)
        Probability of declaring activity at each look.
    """

    p: np.ndarray
    looks: tuple[int, ...]
    prob_reject: np.ndarray
    pet: np.ndarray
    expected_n: np.ndarray
    stop_futility: np.ndarray
    stop_efficacy: np.ndarray

    def to_frame(self):
        """One row per true rate: ``p, prob_reject, pet, expected_n`` (a pandas DataFrame)."""
        import pandas as pd
        return pd.DataFrame({"p": self.p, "prob_reject": self.prob_reject, "pet": self.pet,
                             "expected_n": self.expected_n})

    def __str__(self) -> str:
        rows = list(zip(self.p, self.prob_reject, self.pet, self.expected_n))
        return table(["p", "P(reject H0)", "PET", "E[N]"], rows,
                     title=f"Exact operating characteristics, looks at n = {list(self.looks)}")

    __repr__ = __str__


def _binom_pmf_table(m: int, p: np.ndarray) -> np.ndarray:
    """``pmf[i, y] = P(Binomial(m, p_i) = y)`` for y = 0..m."""
    return stats.binom.pmf(np.arange(m + 1)[None, :], m, p[:, None])


def oc_core(looks: np.ndarray, futility: np.ndarray, efficacy: np.ndarray,
            p: np.ndarray) -> dict[str, np.ndarray]:
    """Exact stopping probabilities for a batch of designs sharing the same looks.

    Parameters
    ----------
    looks : ndarray of int, shape (K,)
        Cumulative sample sizes (validated by the caller).
    futility : ndarray of int, shape (D, K)
        Stop for futility at look k if ``X_k <= futility[:, k]`` (``-1``: never); at the last
        look ``X_K > futility[:, -1]`` declares activity.
    efficacy : ndarray of int, shape (D, K)
        Declare activity at interim look k if ``X_k >= efficacy[:, k]`` (``> n_k``: never). The last
        column is ignored.
    p : ndarray, shape (P,)
        True response rates.

    Returns
    -------
    dict
        ``stop_futility`` and ``stop_efficacy`` of shape (D, P, K).
    """
    futility = np.asarray(futility)
    efficacy = np.asarray(efficacy)
    n_designs, n_looks = futility.shape
    state = np.ones((n_designs, p.size, 1))  # P(on study with x responses), x = 0..n_k
    fut = np.zeros((n_designs, p.size, n_looks))
    eff = np.zeros((n_designs, p.size, n_looks))
    previous = 0
    for k, n_k in enumerate(looks):
        m = int(n_k) - previous
        pmf = _binom_pmf_table(m, p)  # (P, m+1)
        new = np.zeros((n_designs, p.size, n_k + 1))
        width = state.shape[2]
        for y in range(m + 1):
            new[:, :, y:y + width] += state * pmf[None, :, y:y + 1]
        x = np.arange(n_k + 1)
        below = x[None, :] <= futility[:, k:k + 1]  # (D, x)
        if k == n_looks - 1:
            above = ~below
        else:
            above = (x[None, :] >= efficacy[:, k:k + 1]) & ~below
        fut[:, :, k] = np.where(below[:, None, :], new, 0.0).sum(axis=2)
        eff[:, :, k] = np.where(above[:, None, :], new, 0.0).sum(axis=2)
        state = np.where((below | above)[:, None, :], 0.0, new)
        previous = int(n_k)
    return {"stop_futility": fut, "stop_efficacy": eff}


def summarise(looks: np.ndarray, fut: np.ndarray, eff: np.ndarray) -> dict[str, np.ndarray]:
    """Rejection probability, PET and expected sample size from per-look stopping probabilities."""
    stop = fut + eff
    return {"prob_reject": eff.sum(axis=-1), "pet": stop[..., :-1].sum(axis=-1),
            "expected_n": (stop * np.asarray(looks, dtype=float)).sum(axis=-1)}


def _bounds(name: str, values, looks: np.ndarray) -> np.ndarray:
    if values is None:
        raise InputError.single(_SOURCE, f"{name} bounds are required")
    arr = np.atleast_1d(np.asarray([np.nan if v is None else v for v in np.atleast_1d(values)],
                                   dtype=float))
    if arr.shape != looks.shape:
        raise InputError.single(_SOURCE, f"{name} has {arr.size} bounds but there are "
                                f"{looks.size} looks")
    return arr


def multistage_oc(looks, futility, p, efficacy=None) -> OperatingCharacteristics:
    """Exact operating characteristics of a single-arm multi-stage binary design.

    Parameters
    ----------
    looks : sequence of int
        Cumulative sample sizes ``n_1 < ... < n_K``.
    futility : sequence of int
        ``f_k``: stop for futility at interim look k if the cumulative number of responses is
        ``<= f_k`` (``-1`` for no futility stop at that look); at the last look activity is
        declared if responses ``> f_K``.
    p : float or sequence of float
        True response rate(s) in [0, 1].
    efficacy : sequence of int or None, optional
        ``e_k``: declare activity and stop at interim look k if responses ``>= e_k`` (``None``
        entries, or values above ``n_k``, for no efficacy stop). The last entry is ignored.

    Returns
    -------
    OperatingCharacteristics

    Examples
    --------
    Simon's optimal design for p0 = 0.1, p1 = 0.3 (1/10, 5/29):

    >>> oc = multistage_oc([10, 29], [1, 5], p=[0.1, 0.3])
    >>> [round(float(v), 4) for v in oc.pet]
    [0.7361, 0.1493]
    """
    n = _checks.looks(_SOURCE, "looks", looks)
    pp = _checks.rate_grid(_SOURCE, "p", p)
    f = _bounds("futility", futility, n)
    if np.any(~np.isfinite(f)) or np.any(f != np.round(f)):
        raise InputError.single(_SOURCE, "futility bounds must be integers (-1 for no stop)")
    if np.any(f < -1) or np.any(f > n):
        raise InputError.single(_SOURCE, f"futility bounds {[int(v) for v in f]} must lie "
                                f"between -1 and the sample size at each look {[int(v) for v in n]}")
    if efficacy is None:
        e = n + 1.0
    else:
        e = _bounds("efficacy", efficacy, n)
        e = np.where(np.isfinite(e), e, n + 1.0)
        if np.any(e != np.round(e)):
            raise InputError.single(_SOURCE, "efficacy bounds must be integers or None")
        if np.any(e[:-1] <= f[:-1]):
            raise InputError.single(_SOURCE, "each efficacy bound must exceed the futility bound "
                                    "at the same look")
    res = oc_core(n, f.astype(int)[None, :], np.minimum(e, n + 1).astype(int)[None, :], pp)
    fut, eff = res["stop_futility"][0], res["stop_efficacy"][0]
    s = summarise(n, fut, eff)
    return OperatingCharacteristics(p=pp, looks=tuple(int(v) for v in n),
                                    prob_reject=s["prob_reject"], pet=s["pet"],
                                    expected_n=s["expected_n"], stop_futility=fut,
                                    stop_efficacy=eff)


def two_stage_oc(r1: int, n1: int, r: int, n: int, p) -> OperatingCharacteristics:
    """Exact operating characteristics of a Simon-type two-stage design (stop if <= r1 of n1;
    declare activity if > r of n)."""
    return multistage_oc([n1, n], [r1, r], p)


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class SimulatedOC:
    """Monte Carlo operating characteristics with their Monte Carlo standard errors."""

    p: np.ndarray
    n_sim: int
    prob_reject: np.ndarray
    prob_reject_se: np.ndarray
    pet: np.ndarray
    pet_se: np.ndarray
    expected_n: np.ndarray
    expected_n_se: np.ndarray

    def to_frame(self):
        """One row per true rate with estimates and Monte Carlo standard errors."""
        import pandas as pd
        return pd.DataFrame({"p": self.p, "prob_reject": self.prob_reject,
                             "prob_reject_se": self.prob_reject_se, "pet": self.pet,
                             "pet_se": self.pet_se, "expected_n": self.expected_n,
                             "expected_n_se": self.expected_n_se})

    def __str__(self) -> str:
        rows = list(zip(self.p, self.prob_reject, self.prob_reject_se, self.pet, self.pet_se,
                        self.expected_n, self.expected_n_se))
        return table(["p", "P(reject)", "MC SE", "PET", "MC SE", "E[N]", "MC SE"], rows,
                     title=f"Simulated operating characteristics ({self.n_sim} trials per rate)")

    __repr__ = __str__


def simulate_multistage(looks, futility, p, efficacy=None, n_sim: int = 10_000,
                        seed: int | None = None) -> SimulatedOC:
    """Monte Carlo counterpart of :func:`multistage_oc` (same rules, simulated patients).

    Parameters
    ----------
    looks, futility, p, efficacy
        As in :func:`multistage_oc`.
    n_sim : int
        Trials simulated per true rate.
    seed : int or None
        Seed of the ``numpy.random.Generator`` (same seed, same result).

    Returns
    -------
    SimulatedOC
    """
    exact = multistage_oc(looks, futility, p, efficacy)  # validates the design
    n = np.asarray(exact.looks)
    n_sim = _checks.integer("simulate_multistage", "n_sim", n_sim, minimum=2)
    f = np.asarray(futility, dtype=int)
    e = n + 1 if efficacy is None else np.array(
        [n[k] + 1 if v is None else int(v) for k, v in enumerate(efficacy)])
    rng = np.random.default_rng(seed)
    increments = np.diff(np.concatenate([[0], n]))
    draws = rng.binomial(increments[None, None, :], exact.p[:, None, None],
                         size=(exact.p.size, n_sim, n.size))
    x = np.cumsum(draws, axis=2)
    active = np.ones((exact.p.size, n_sim), dtype=bool)
    rejected = np.zeros_like(active)
    stopped_early = np.zeros_like(active)
    size = np.full(active.shape, n[-1], dtype=float)
    for k in range(n.size):
        xk = x[:, :, k]
        if k == n.size - 1:
            rejected |= active & (xk > f[k])
            break
        fut = active & (xk <= f[k])
        eff = active & ~fut & (xk >= e[k])
        rejected |= eff
        stop = fut | eff
        stopped_early |= stop
        size[stop] = n[k]
        active &= ~stop

    def mean_se(v):
        return v.mean(axis=1), v.std(axis=1, ddof=1) / np.sqrt(n_sim)

    pr, pr_se = mean_se(rejected.astype(float))
    pet, pet_se = mean_se(stopped_early.astype(float))
    en, en_se = mean_se(size)
    return SimulatedOC(p=exact.p, n_sim=n_sim, prob_reject=pr, prob_reject_se=pr_se, pet=pet,
                       pet_se=pet_se, expected_n=en, expected_n_se=en_se)

"""Simon's (1989) optimal and minimax two-stage designs by exact binomial search.

The rules are those of ``clinfun::ph2simon``: enrol ``n1`` patients and stop for futility if
``<= r1`` respond; otherwise enrol up to ``n`` and declare activity (reject H0: p <= p0) if
``> r`` respond in all. A design is feasible when P(declare | p0) <= alpha and
P(declare | p1) >= power. The *optimal* design minimises the expected sample size under p0 (EN0);
the *minimax* design has the smallest feasible ``n`` and, among those, the smallest EN0.

For each total ``n`` the search evaluates every ``(n1, r1, r)`` at once from tables of binomial
probabilities and survival functions: the rejection probability
``P(S > r) - sum_{x1 <= r1} P(X1 = x1) P(X2 > r - x1)`` (``S`` the total number of responses) is
a cumulative sum over ``x1``; ``r1`` and ``r`` are limited to values that can still give the
target power.
Ties in EN0 for the same ``(n, n1, r1)`` (EN0 does not depend on ``r``) are broken as
``ph2simon``'s Fortran search does, by the largest feasible ``r`` (the smallest type-I error);
ties in EN0 across ``(n1, r1)`` by the smallest ``n1``, across ``n`` by the smallest ``n``.
The constraints are inclusive (alpha <= target, power >= target) where ``ph2simon`` uses strict
inequalities; the two differ only when an error rate equals its target to machine precision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from relapse_model.designs import _checks
from relapse_model.designs._table import key_values
from relapse_model.errors import InputError

_SOURCE = "simon_two_stage"
#: Slack on the alpha/power constraints, absorbing floating-point summation error only.
_TOL = 1e-12


@dataclass(frozen=True)
class SimonDesign:
    """One Simon two-stage design and its exact operating characteristics.

    Attributes
    ----------
    kind : str
        ``"optimal"`` or ``"minimax"``.
    p0, p1, alpha, power : float
        The specification searched for (alpha and power are the targets).
    r1, n1 : int
        Stop after stage 1 if ``<= r1`` responses among the first ``n1`` patients.
    r, n : int
        Declare activity if ``> r`` responses among all ``n`` patients.
    expected_n_p0 : float
        Expected sample size under p0 (EN0).
    pet_p0 : float
        Probability of early termination under p0.
    actual_alpha, actual_power : float
        Exact P(declare activity) at p0 and at p1.
    expected_n_p1, pet_p1 : float
        The same quantities under p1.
    """

    kind: str
    p0: float
    p1: float
    alpha: float
    power: float
    r1: int
    n1: int
    r: int
    n: int
    expected_n_p0: float
    pet_p0: float
    actual_alpha: float
    actual_power: float
    expected_n_p1: float
    pet_p1: float

    def oc(self, p):
        """Exact operating characteristics at any true response rate(s) ``p``."""
        from relapse_model.designs.binomial import two_stage_oc
        return two_stage_oc(self.r1, self.n1, self.r, self.n, p)

    def to_dict(self) -> dict[str, object]:
        """All fields as a plain dict."""
        return asdict(self)

    def to_frame(self):
        """One-row pandas DataFrame (columns as in :meth:`to_dict`)."""
        import pandas as pd
        return pd.DataFrame([self.to_dict()])

    def __str__(self) -> str:
        return key_values([
            ("stage 1", f"stop if <= {self.r1} responses of {self.n1}"),
            ("overall", f"declare activity if > {self.r} responses of {self.n}"),
            ("EN(p0)", self.expected_n_p0), ("PET(p0)", self.pet_p0),
            ("EN(p1)", self.expected_n_p1), ("PET(p1)", self.pet_p1),
            ("alpha (actual)", self.actual_alpha), ("power (actual)", self.actual_power),
        ], title=(f"Simon {self.kind} two-stage design: p0 = {self.p0:g}, p1 = {self.p1:g}, "
                  f"alpha <= {self.alpha:g}, power >= {self.power:g}"))

    __repr__ = __str__


def _tables(p: float, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """``pmf[m, x]`` and ``sf[m, k + n_max + 1] = P(Bin(m, p) > k)`` for k = -n_max-1..n_max."""
    m = np.arange(n_max + 1)[:, None]
    x = np.arange(n_max + 1)[None, :]
    pmf = np.where(x <= m, stats.binom.pmf(x, m, p), 0.0)
    k = np.arange(-n_max - 1, n_max + 1)[None, :]
    sf = np.where(k < 0, 1.0, np.where(k >= m, 0.0, stats.binom.sf(k, m, p)))
    return pmf, sf


def _best_for_n(n: int, t0, t1, alpha: float, power: float, bound: float = np.inf):
    """Smallest-EN0 feasible ``(EN0, n1, r1, r)`` for total size ``n``, or None.

    P(declare) = P(S > r) - sum_{x1 <= r1} P(X1 = x1) P(X2 > r - x1), with S = X1 + X2 ~
    Bin(n, p). Power >= target needs P(X1 > r1 | p1) >= power and P(S > r | p1) >= power, which
    bounds the r1 and r searched. Stage-1 sizes whose smallest possible EN0 (with the largest
    admissible r1) is not below ``bound`` (the best EN0 found so far) are skipped.
    """
    pmf0, sf0 = t0
    pmf1, sf1 = t1
    off = sf0.shape[1] // 2  # column of k = 0 in the sf tables
    n1s = np.arange(1, n)
    r_hi = np.nonzero(sf1[n, off:off + n] >= power - _TOL)[0]
    if r_hi.size == 0:
        return None
    r_all = np.arange(int(r_hi[-1]) + 1)
    r1_ok = sf1[n1s[:, None], off + np.arange(n)[None, :]] >= power - _TOL  # (N1, r1)
    r1_ok &= np.arange(n)[None, :] < n1s[:, None]
    pet_max = np.where(r1_ok, np.cumsum(pmf0[n1s][:, :n], axis=1), 0.0).max(axis=1)
    keep = (n1s + (1.0 - pet_max) * (n - n1s) < bound - 1e-12) & r1_ok.any(axis=1)
    if not keep.any():
        return None
    n1s, r1_ok = n1s[keep], r1_ok[keep]
    n_r1 = int(np.nonzero(r1_ok.any(axis=0))[0][-1]) + 1
    x1 = np.arange(n_r1)[None, None, :]                        # (1, 1, X), also the r1 axis
    r = r_all[None, :, None]                                   # (1, R, 1)
    n1 = n1s[:, None, None]                                    # (N1, 1, 1)
    k = np.clip(r - x1, -off, off - 1) + off
    head0 = np.cumsum(pmf0[n1, x1] * sf0[n - n1, k], axis=2)  # sum over x1 <= r1
    head1 = np.cumsum(pmf1[n1, x1] * sf1[n - n1, k], axis=2)
    a = sf0[n, off + r] - head0                                # (N1, R, r1)
    b = sf1[n, off + r] - head1
    ok = (a <= alpha + _TOL) & (b >= power - _TOL) & (r >= x1) & r1_ok[:, None, :n_r1]
    if not ok.any():
        return None
    pet0 = np.cumsum(pmf0[n1s][:, :n_r1], axis=1)             # (N1, r1): P(X1 <= r1 | p0)
    en0 = n1s[:, None] + (1.0 - pet0) * (n - n1s)[:, None]
    en = np.where(ok.any(axis=1), en0, np.inf)
    i, j = np.unravel_index(np.argmin(en), en.shape)
    r_best = int(np.nonzero(ok[i, :, j])[0][-1])               # largest feasible r (clinfun)
    return float(en[i, j]), int(n1s[i]), int(j), r_best


def _ump_power(p0: float, p1: float, alpha: float, n_max: int) -> np.ndarray:
    """Power at p1 of the most powerful (randomised, size alpha) one-stage test, n = 0..n_max.

    A two-stage design with total ``n`` is a test of size <= alpha on (part of) the same
    Bernoulli data, so by the Neyman-Pearson lemma its power cannot exceed this bound: sizes
    ``n`` where the bound is below the target are skipped without search.
    """
    n = np.arange(n_max + 1)[:, None]
    x = np.arange(n_max + 1)[None, :]
    sf0 = np.where(x <= n, stats.binom.sf(x, n, p0), 0.0)       # P(S > c)
    c = (sf0 > alpha).sum(axis=1)                                 # smallest c with P(S > c) <= a
    c = np.minimum(c, n_max)
    nn = n[:, 0]
    tail0 = stats.binom.sf(c, nn, p0)
    at0 = stats.binom.pmf(c, nn, p0)
    gamma = np.divide(alpha - tail0, at0, out=np.zeros_like(at0), where=at0 > 0)
    return stats.binom.sf(c, nn, p1) + np.clip(gamma, 0.0, 1.0) * stats.binom.pmf(c, nn, p1)


def simon_two_stage(p0: float, p1: float, alpha: float = 0.05, power: float = 0.8,
                    kind: str = "optimal", n_max: int | None = None) -> SimonDesign:
    """Simon's optimal or minimax two-stage design by exact search.

    Parameters
    ----------
    p0 : float
        Response rate of no interest (H0: p <= p0).
    p1 : float
        Target response rate (> p0).
    alpha : float
        Maximum type-I error, P(declare activity | p0).
    power : float
        Minimum power, P(declare activity | p1) (``1 - beta`` of ``ph2simon``).
    kind : {"optimal", "minimax"}
        Minimise EN0 over all n (optimal) or the total sample size n (minimax).
    n_max : int, optional
        Largest total sample size searched (default 100, as ``ph2simon``).

    Returns
    -------
    SimonDesign

    Raises
    ------
    InputError
        Bad arguments, or no feasible design with ``n <= n_max``.

    Examples
    --------
    >>> d = simon_two_stage(0.1, 0.3, alpha=0.05, power=0.8)
    >>> (d.r1, d.n1, d.r, d.n)
    (1, 10, 5, 29)
    """
    p0, p1 = _checks.ordered_rates(_SOURCE, p0, p1)
    alpha = _checks.rate(_SOURCE, "alpha", alpha)
    power = _checks.rate(_SOURCE, "power", power)
    if kind not in ("optimal", "minimax"):
        raise InputError.single(_SOURCE, f"kind = {kind!r} must be 'optimal' or 'minimax'")
    n_max = 100 if n_max is None else _checks.integer(_SOURCE, "n_max", n_max, minimum=2)
    if n_max > 1000:
        raise InputError.single(_SOURCE, f"n_max = {n_max} is above the supported 1000")
    t0, t1 = _tables(p0, n_max), _tables(p1, n_max)
    possible = _ump_power(p0, p1, alpha, n_max) >= power - _TOL
    best = None
    for n in range(2, n_max + 1):
        if not possible[n]:
            continue
        found = _best_for_n(n, t0, t1, alpha, power, np.inf if best is None else best[0])
        if found is None:
            continue
        if best is None or found[0] < best[0] - 1e-12:
            best = (*found, n)
        if kind == "minimax":
            break
    if best is None:
        raise InputError.single(_SOURCE, f"no design with n <= {n_max} reaches alpha <= "
                                f"{alpha:g} and power >= {power:g} for p0 = {p0:g}, p1 = {p1:g}; "
                                "increase n_max")
    _, n1, r1, r, n = best
    return make_design(kind, p0, p1, alpha, power, r1, n1, r, n)


def make_design(kind: str, p0: float, p1: float, alpha: float, power: float, r1: int, n1: int,
                r: int, n: int) -> SimonDesign:
    """A :class:`SimonDesign` for given boundaries, with exact operating characteristics."""
    from relapse_model.designs.binomial import two_stage_oc
    oc = two_stage_oc(r1, n1, r, n, [p0, p1])
    return SimonDesign(kind=kind, p0=p0, p1=p1, alpha=alpha, power=power, r1=r1, n1=n1, r=r,
                       n=n, expected_n_p0=float(oc.expected_n[0]), pet_p0=float(oc.pet[0]),
                       actual_alpha=float(oc.prob_reject[0]),
                       actual_power=float(oc.prob_reject[1]),
                       expected_n_p1=float(oc.expected_n[1]), pet_p1=float(oc.pet[1]))

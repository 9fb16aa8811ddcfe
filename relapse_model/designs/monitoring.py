"""Bayesian single-arm monitoring with a Beta(a, b) prior on the response rate, exact OCs.

Two boundary families, both reduced to response-count boundaries at the looks and evaluated
exactly by :func:`relapse_model.designs.binomial.oc_core` (a recursion over binomial paths):

* **Predictive probability** (Lee & Liu 2008, Clinical Trials 5:93-106). At the end (``N``
  patients) activity is declared if ``P(p > p0 | x_N) >= theta_T``, i.e. if ``x_N > r_N``. At an
  interim look with ``x`` of ``n`` the predictive probability of that success is
  ``PP = P(Y > r_N - x)``, ``Y ~ BetaBinomial(N - n, a + x, b + n - x)``; stop for futility if
  ``PP < theta_L`` and (optionally) for efficacy if ``PP > theta_U``.
* **BOP2-style posterior probability** (Zhou, Lee & Yuan 2017, Stat Med 36:3302-3314, futility
  version). Stop at look ``n_k`` if ``P(p > p0 | x, n_k) < C(n_k) = lambda (n_k / N)^gamma``;
  at ``n_K = N`` declare activity if ``P(p > p0 | x) >= lambda``.

Both posterior quantities increase with ``x``, so each rule is a count boundary per look.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from relapse_model.designs import _checks
from relapse_model.designs._table import key_values, table
from relapse_model.designs.binomial import OperatingCharacteristics, oc_core, summarise
from relapse_model.errors import InputError


def _prior(source: str, prior) -> tuple[float, float]:
    try:
        a, b = prior
    except (TypeError, ValueError):
        raise InputError.single(source, f"prior = {prior!r} must be a pair (a, b) of Beta "
                                "parameters") from None
    return _checks.positive(source, "prior a", a), _checks.positive(source, "prior b", b)


def _default_looks(source: str, n_max: int, looks, first_look: int) -> np.ndarray:
    if looks is None:
        first = min(max(1, first_look), n_max)
        return np.arange(first, n_max + 1)
    arr = _checks.looks(source, "looks", looks)
    if arr[-1] != n_max:
        raise InputError.single(source, f"the last look ({arr[-1]}) must equal n_max = {n_max}")
    return arr


def posterior_prob_above(p0: float, x, n, a: float, b: float) -> np.ndarray:
    """``P(p > p0 | x responses of n)`` under a Beta(a, b) prior (vectorised over x and n)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    return stats.beta.sf(p0, a + x, b + n - x)


def final_bound(p0: float, n_max: int, a: float, b: float, theta_t) -> np.ndarray:
    """``r_N``: largest ``x`` with ``P(p > p0 | x of N) < theta_T`` (declare iff ``x > r_N``)."""
    post = posterior_prob_above(p0, np.arange(n_max + 1), n_max, a, b)
    theta_t = np.atleast_1d(np.asarray(theta_t, dtype=float))
    return (post[None, :] < theta_t[:, None]).sum(axis=1) - 1


def predictive_probability(x, n, n_max: int, p0: float, theta_t: float,
                           prior=(0.5, 0.5)) -> np.ndarray:
    """Lee & Liu's predictive probability of success at the end of the trial.

    Parameters
    ----------
    x, n : int or array
        Responses so far and patients so far.
    n_max : int
        Maximum sample size ``N``.
    p0 : float
        Null response rate.
    theta_t : float
        Final posterior threshold: success if ``P(p > p0 | data at N) >= theta_T``.
    prior : (float, float)
        Beta prior parameters.

    Returns
    -------
    ndarray
        ``PP = sum_y P(Y = y | x) 1[P(p > p0 | x + y, N) >= theta_T]``.

    Examples
    --------
    Lee & Liu (2008), p. 97 (also ``ph2bayes::predprob``): 16 of 23, N = 40, Beta(0.6, 0.4),
    p0 = 0.6, theta_T = 0.9:

    >>> round(float(predictive_probability(16, 23, 40, 0.6, 0.9, prior=(0.6, 0.4))), 4)
    0.5656
    """
    src = "predictive_probability"
    a, b = _prior(src, prior)
    p0 = _checks.rate(src, "p0", p0)
    theta_t = _checks.rate(src, "theta_t", theta_t)
    n_max = _checks.integer(src, "n_max", n_max, minimum=1)
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(n > n_max) or np.any(x > n) or np.any(x < 0):
        raise InputError.single(src, "need 0 <= x <= n <= n_max")
    r_n = final_bound(p0, n_max, a, b, theta_t)[0]
    return _pp_from_bound(x, n, n_max, r_n, a, b)


def _pp_from_bound(x, n, n_max, r_n, a, b):
    return stats.betabinom.sf(r_n - x, n_max - n, a + x, b + n - x)


@dataclass(frozen=True)
class MonitoringDesign:
    """A single-arm monitoring design as response-count boundaries, with exact OCs.

    Attributes
    ----------
    rule : str
        ``"predictive"`` (Lee & Liu) or ``"bop2"`` (posterior probability).
    p0, p1 : float
        Null and target response rates.
    prior : (float, float)
        Beta prior.
    params : dict
        Thresholds: ``theta_t, theta_l, theta_u`` or ``lambda, gamma``.
    looks : tuple of int
        Cumulative sample sizes at the looks (the last is ``N``).
    futility : tuple of int
        Stop for futility if responses ``<= futility[k]`` at look k (``-1``: no stop); at the last
        look, declare activity if responses ``> futility[-1]``.
    efficacy : tuple of int
        Stop declaring activity if responses ``>= efficacy[k]`` (``> n_k``: never).
    type1, power, pet_p0, pet_p1, expected_n_p0, expected_n_p1 : float
        Exact operating characteristics at p0 and p1.
    """

    rule: str
    p0: float
    p1: float
    prior: tuple[float, float]
    params: dict = field(hash=False)
    looks: tuple[int, ...]
    futility: tuple[int, ...]
    efficacy: tuple[int, ...]
    type1: float
    power: float
    pet_p0: float
    pet_p1: float
    expected_n_p0: float
    expected_n_p1: float

    @property
    def n_max(self) -> int:
        """Maximum sample size ``N``."""
        return self.looks[-1]

    def oc(self, p) -> OperatingCharacteristics:
        """Exact operating characteristics at any true rate(s) ``p``."""
        from relapse_model.designs.binomial import multistage_oc
        eff = [None if e > n else e for e, n in zip(self.efficacy, self.looks)]
        return multistage_oc(self.looks, self.futility, p, efficacy=eff)

    def boundaries(self):
        """Per-look boundaries as a pandas DataFrame (``n, stop_if_at_most, declare_if_at_least``)."""
        import pandas as pd
        declare = [e if e <= n else None for e, n in zip(self.efficacy, self.looks)]
        declare[-1] = self.futility[-1] + 1
        return pd.DataFrame({"n": self.looks, "stop_if_at_most": self.futility,
                             "declare_if_at_least": declare})

    def to_dict(self) -> dict[str, object]:
        """Specification, boundaries and operating characteristics as a plain dict."""
        return {"rule": self.rule, "p0": self.p0, "p1": self.p1, "prior": self.prior,
                **self.params, "looks": self.looks, "futility": self.futility,
                "efficacy": self.efficacy, "type1": self.type1, "power": self.power,
                "pet_p0": self.pet_p0, "pet_p1": self.pet_p1,
                "expected_n_p0": self.expected_n_p0, "expected_n_p1": self.expected_n_p1}

    def __str__(self) -> str:
        head = key_values([
            ("rule", self.rule), ("p0 / p1", f"{self.p0:g} / {self.p1:g}"),
            ("prior", f"Beta({self.prior[0]:g}, {self.prior[1]:g})"),
            ("thresholds", ", ".join(f"{k} = {v:g}" for k, v in self.params.items())),
            ("type I error", self.type1), ("power", self.power),
            ("PET(p0) / PET(p1)", f"{self.pet_p0:.4f} / {self.pet_p1:.4f}"),
            ("EN(p0) / EN(p1)", f"{self.expected_n_p0:.2f} / {self.expected_n_p1:.2f}")],
            title=f"Single-arm monitoring design, N = {self.n_max}")
        # consecutive looks with the same boundaries share one row (continuous monitoring)
        rows: list[list[object]] = []
        for k, (n, f, e) in enumerate(zip(self.looks, self.futility, self.efficacy)):
            last = k == len(self.looks) - 1
            cells = [f if f >= 0 else "-", f"> {f}" if last else (e if e <= n else "-")]
            if rows and not last and rows[-1][2:] == cells and rows[-1][3] != f"> {f}":
                rows[-1][1] = n
            else:
                rows.append([n, n, *cells])
        shown = [[f"{a}" if a == b else f"{a}-{b}", f, e] for a, b, f, e in rows]
        body = table(["n", "stop if <=", "declare if >="], shown)
        return head + "\n" + body

    __repr__ = __str__


def _design(rule, p0, p1, prior, params, looks, fut, eff, oc) -> MonitoringDesign:
    return MonitoringDesign(rule=rule, p0=p0, p1=p1, prior=prior, params=params,
                            looks=tuple(int(v) for v in looks), futility=tuple(int(v) for v in fut),
                            efficacy=tuple(int(v) for v in eff), type1=float(oc["prob_reject"][0]),
                            power=float(oc["prob_reject"][1]), pet_p0=float(oc["pet"][0]),
                            pet_p1=float(oc["pet"][1]), expected_n_p0=float(oc["expected_n"][0]),
                            expected_n_p1=float(oc["expected_n"][1]))


def _pp_bounds(p0, looks, a, b, theta_t, theta_l, theta_u):
    """Count boundaries (D, K) for all (theta_t, theta_l) pairs, theta_t varying slowest."""
    n_max = int(looks[-1])
    r_n = final_bound(p0, n_max, a, b, theta_t)                    # (T,)
    x = np.arange(n_max + 1)[None, None, :]
    n = looks[None, :, None]
    pp = np.where(x <= n, _pp_from_bound(np.minimum(x, n), n, n_max, r_n[:, None, None], a, b),
                  np.nan)                                          # (T, K, x)
    theta_l = np.asarray(theta_l, dtype=float)
    below = pp[:, None] < theta_l[None, :, None, None]             # (T, L, K, x)
    fut = below.sum(axis=-1) - 1
    above = pp > theta_u
    eff = np.where(above.any(axis=-1), np.argmax(above, axis=-1), looks[None, :] + 1)  # (T, K)
    eff = np.broadcast_to(eff[:, None, :], fut.shape)
    fut = fut.copy()
    fut[..., -1] = r_n[:, None]
    t, l_ = fut.shape[:2]
    return fut.reshape(t * l_, -1), eff.reshape(t * l_, -1)


def predictive_design(p0: float, p1: float, n_max: int, theta_t: float, theta_l: float,
                      theta_u: float = 1.0, prior=None, looks=None,
                      first_look: int = 10) -> MonitoringDesign:
    """Lee & Liu (2008) predictive-probability design with given thresholds.

    Parameters
    ----------
    p0, p1 : float
        Null and target response rates (p1 is used for the reported power only).
    n_max : int
        Maximum sample size ``N``.
    theta_t : float
        Final posterior threshold ``theta_T``.
    theta_l : float
        Futility threshold: stop if the predictive probability ``< theta_L``.
    theta_u : float
        Efficacy threshold: stop declaring activity if ``PP > theta_U`` (1: never).
    prior : (float, float), optional
        Beta prior; default ``(p0, 1 - p0)`` (prior mean p0, one patient's worth).
    looks : sequence of int, optional
        Cumulative sizes of the looks, ending at ``n_max``; default every patient from
        ``first_look`` (continuous monitoring as in Lee & Liu).
    first_look : int
        First interim look when ``looks`` is not given.

    Returns
    -------
    MonitoringDesign
    """
    src = "predictive_design"
    p0, p1 = _checks.ordered_rates(src, p0, p1)
    n_max = _checks.integer(src, "n_max", n_max, minimum=2)
    theta_t = _checks.rate(src, "theta_t", theta_t)
    theta_l = _checks.rate(src, "theta_l", theta_l)
    theta_u = _checks.unit_closed(src, "theta_u", theta_u)
    if theta_u <= theta_l:
        raise InputError.single(src, f"theta_u = {theta_u:g} must be greater than theta_l = "
                                f"{theta_l:g}")
    a, b = _prior(src, (p0, 1 - p0) if prior is None else prior)
    lk = _default_looks(src, n_max, looks, first_look)
    fut, eff = _pp_bounds(p0, lk, a, b, [theta_t], [theta_l], theta_u)
    res = oc_core(lk, fut, eff, np.array([p0, p1]))
    oc = summarise(lk, res["stop_futility"][0], res["stop_efficacy"][0])
    return _design("predictive", p0, p1, (a, b),
                   {"theta_t": theta_t, "theta_l": theta_l, "theta_u": theta_u},
                   lk, fut[0], eff[0], oc)


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class DesignSearch:
    """The chosen design of a grid search and every feasible candidate that was evaluated.

    Attributes
    ----------
    design : MonitoringDesign
        The selected design.
    candidates : pandas.DataFrame
        One row per feasible grid point (thresholds, N, type I, power, PET0, EN0).
    criterion : str
        How the design was selected among the candidates.
    """

    design: MonitoringDesign
    candidates: object = field(hash=False)
    criterion: str

    def to_frame(self):
        """The feasible candidates (pandas DataFrame)."""
        return self.candidates

    def __str__(self) -> str:
        return (f"{self.design}\nselected by: {self.criterion} "
                f"({len(self.candidates)} feasible grid points)")

    __repr__ = __str__


def search_predictive_design(p0: float, p1: float, alpha: float, power: float, n_range,
                             theta_t_grid=None, theta_l_grid=None, theta_u: float = 1.0,
                             prior=None, first_look: int = 10) -> DesignSearch:
    """Lee & Liu's search: smallest ``N`` with thresholds meeting type-I and power constraints.

    For each ``N`` in ``n_range`` (ascending) every ``(theta_T, theta_L)`` of the grid is
    evaluated exactly; the first ``N`` with at least one feasible pair (type I <= alpha, power
    >= ``power``) is kept (minimax criterion) and among its feasible pairs the one with the
    smallest expected sample size under p0 is returned.

    Parameters
    ----------
    p0, p1, alpha, power : float
        Rates and error constraints.
    n_range : iterable of int
        Maximum sample sizes to try.
    theta_t_grid : sequence of float, optional
        Default 0.80, 0.81, ..., 0.99.
    theta_l_grid : sequence of float, optional
        Default 0.001, 0.01, 0.02, ..., 0.20.
    theta_u, prior, first_look
        As in :func:`predictive_design` (looks every patient from ``first_look``).

    Returns
    -------
    DesignSearch
    """
    import pandas as pd
    src = "search_predictive_design"
    p0, p1 = _checks.ordered_rates(src, p0, p1)
    alpha = _checks.rate(src, "alpha", alpha)
    power = _checks.rate(src, "power", power)
    a, b = _prior(src, (p0, 1 - p0) if prior is None else prior)
    tt = np.round(np.arange(0.80, 0.995, 0.01), 2) if theta_t_grid is None else \
        np.array([_checks.rate(src, "theta_t", v) for v in theta_t_grid])
    tl = np.concatenate([[0.001], np.round(np.arange(0.01, 0.205, 0.01), 2)]) \
        if theta_l_grid is None else np.array([_checks.rate(src, "theta_l", v) for v in theta_l_grid])
    ns = [_checks.integer(src, "n_range", v, minimum=2) for v in n_range]
    for n_max in sorted(ns):
        lk = _default_looks(src, n_max, None, first_look)
        fut, eff = _pp_bounds(p0, lk, a, b, tt, tl, theta_u)
        both = np.concatenate([fut, eff], axis=1)
        uniq, inverse = np.unique(both, axis=0, return_inverse=True)  # many pairs coincide
        res = oc_core(lk, uniq[:, :lk.size], uniq[:, lk.size:], np.array([p0, p1]))
        oc_u = summarise(lk, res["stop_futility"], res["stop_efficacy"])  # (U, 2)
        oc = {k: v[np.ravel(inverse)] for k, v in oc_u.items()}
        ok = (oc["prob_reject"][:, 0] <= alpha + 1e-12) & (oc["prob_reject"][:, 1] >= power - 1e-12)
        if not ok.any():
            continue
        grid_t = np.repeat(tt, tl.size)
        grid_l = np.tile(tl, tt.size)
        cand = pd.DataFrame({"n_max": n_max, "theta_t": grid_t, "theta_l": grid_l,
                             "type1": oc["prob_reject"][:, 0], "power": oc["prob_reject"][:, 1],
                             "pet_p0": oc["pet"][:, 0], "expected_n_p0": oc["expected_n"][:, 0]})[ok]
        i = int(cand["expected_n_p0"].idxmin())
        design = _design("predictive", p0, p1, (a, b),
                         {"theta_t": float(grid_t[i]), "theta_l": float(grid_l[i]),
                          "theta_u": float(theta_u)}, lk, fut[i], eff[i],
                         {k: v[i] for k, v in oc.items()})
        return DesignSearch(design=design, candidates=cand.reset_index(drop=True),
                            criterion="smallest N (minimax), then smallest EN(p0)")
    raise InputError.single(src, f"no N in {min(ns)}..{max(ns)} and no thresholds of the grid give "
                            f"type I <= {alpha:g} and power >= {power:g}; widen n_range or the grids")


def _bop2_bounds(p0, looks, a, b, lam, gam):
    """Futility count bounds (D, K) for all (lambda, gamma) pairs, lambda varying slowest."""
    n_max = float(looks[-1])
    x = np.arange(int(n_max) + 1)[None, :]
    n = looks[:, None]
    post = np.where(x <= n, posterior_prob_above(p0, np.minimum(x, n), n, a, b), np.nan)  # (K, x)
    lam = np.asarray(lam, dtype=float)
    gam = np.asarray(gam, dtype=float)
    cut = lam[:, None, None] * (looks[None, None, :] / n_max) ** gam[None, :, None]  # (L, G, K)
    fut = (post[None, None] < cut[..., None]).sum(axis=-1) - 1                        # (L, G, K)
    return fut.reshape(lam.size * gam.size, looks.size)


def bop2_design(p0: float, p1: float, looks, lam: float, gamma: float,
                prior=None) -> MonitoringDesign:
    """BOP2-style futility monitoring with cut-off ``C(n) = lambda (n / N)^gamma``.

    Parameters
    ----------
    p0, p1 : float
        Null and target response rates.
    looks : sequence of int
        Cumulative sample sizes at the looks; the last is ``N``.
    lam : float
        ``lambda`` in (0, 1): the final posterior threshold.
    gamma : float
        ``gamma >= 0``: how fast the futility cut-off grows with information.
    prior : (float, float), optional
        Beta prior; default ``(p0, 1 - p0)``.

    Returns
    -------
    MonitoringDesign
    """
    src = "bop2_design"
    p0, p1 = _checks.ordered_rates(src, p0, p1)
    lam = _checks.rate(src, "lam", lam)
    gamma = _checks.real(src, "gamma", gamma)
    if gamma < 0:
        raise InputError.single(src, f"gamma = {gamma:g} must be >= 0")
    a, b = _prior(src, (p0, 1 - p0) if prior is None else prior)
    lk = _checks.looks(src, "looks", looks)
    fut = _bop2_bounds(p0, lk, a, b, [lam], [gamma])
    eff = (lk + 1)[None, :]
    res = oc_core(lk, fut, eff, np.array([p0, p1]))
    oc = summarise(lk, res["stop_futility"][0], res["stop_efficacy"][0])
    return _design("bop2", p0, p1, (a, b), {"lambda": lam, "gamma": gamma}, lk, fut[0], eff[0], oc)


def calibrate_bop2(p0: float, p1: float, looks, alpha: float, lam_grid=None, gamma_grid=None,
                   prior=None) -> DesignSearch:
    """Calibrate ``(lambda, gamma)`` on a grid: type I <= alpha, maximal power at p1.

    Parameters
    ----------
    p0, p1 : float
        Null and target response rates.
    looks : sequence of int
        Cumulative sample sizes at the looks.
    alpha : float
        Maximum exact type-I error at p0.
    lam_grid : sequence of float, optional
        Default 0.50, 0.505, ..., 0.995.
    gamma_grid : sequence of float, optional
        Default 0, 0.05, ..., 3.
    prior : (float, float), optional
        Beta prior; default ``(p0, 1 - p0)``.

    Returns
    -------
    DesignSearch
        Ties in power are broken by the smallest EN(p0).
    """
    import pandas as pd
    src = "calibrate_bop2"
    p0, p1 = _checks.ordered_rates(src, p0, p1)
    alpha = _checks.rate(src, "alpha", alpha)
    a, b = _prior(src, (p0, 1 - p0) if prior is None else prior)
    lk = _checks.looks(src, "looks", looks)
    lam = np.round(np.arange(0.5, 0.9951, 0.005), 3) if lam_grid is None else \
        np.array([_checks.rate(src, "lam", v) for v in lam_grid])
    gam = np.round(np.arange(0.0, 3.001, 0.05), 2) if gamma_grid is None else \
        np.array([_checks.real(src, "gamma", v) for v in gamma_grid])
    if np.any(gam < 0):
        raise InputError.single(src, "gamma values must be >= 0")
    fut = _bop2_bounds(p0, lk, a, b, lam, gam)
    uniq, inverse = np.unique(fut, axis=0, return_inverse=True)  # many grid points coincide
    inverse = np.ravel(inverse)
    eff = np.broadcast_to(lk + 1, uniq.shape)
    res = oc_core(lk, uniq, eff, np.array([p0, p1]))
    oc_u = summarise(lk, res["stop_futility"], res["stop_efficacy"])
    oc = {k: v[inverse] for k, v in oc_u.items()}
    ok = oc["prob_reject"][:, 0] <= alpha + 1e-12
    if not ok.any():
        raise InputError.single(src, f"no (lambda, gamma) of the grid gives type I <= {alpha:g}")
    grid_l = np.repeat(lam, gam.size)
    grid_g = np.tile(gam, lam.size)
    cand = pd.DataFrame({"lambda": grid_l, "gamma": grid_g, "type1": oc["prob_reject"][:, 0],
                         "power": oc["prob_reject"][:, 1], "pet_p0": oc["pet"][:, 0],
                         "expected_n_p0": oc["expected_n"][:, 0]})[ok]
    best = cand.sort_values(["power", "expected_n_p0"], ascending=[False, True],
                            kind="mergesort").index[0]
    design = _design("bop2", p0, p1, (a, b), {"lambda": float(grid_l[best]),
                                              "gamma": float(grid_g[best])},
                     lk, fut[best], (lk + 1), {k: v[best] for k, v in oc.items()})
    return DesignSearch(design=design, candidates=cand.reset_index(drop=True),
                        criterion="largest power at p1 with type I <= alpha, then smallest EN(p0)")

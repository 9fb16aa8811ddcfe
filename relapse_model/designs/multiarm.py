"""k experimental arms against a shared control: Dunnett-type FWER and multi-arm multi-stage
(MAMS) simulation with a binary endpoint.

With ``n_E`` patients per experimental arm and ``n_C`` on control, the one-sided z-statistics
``Z_i = (mean_i - mean_C) / se_i`` of the k comparisons are, under the global null and in large
samples, equicorrelated standard normals with correlation ``rho = r / (1 + r)`` where
``r = n_E / n_C`` (the shared control noise): ``rho = 1/2`` for equal allocation. The
family-wise type-I error of "reject H0_i if ``Z_i > c``" is ``1 - Phi_k(c, ..., c; rho)``
(Dunnett 1955, JASA 50:1096-1121).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from relapse_model.designs import _checks
from relapse_model.designs._table import table
from relapse_model.errors import InputError


#: Gauss-Hermite rule for the equicorrelated-normal integral (exact to ~1e-15 for these smooth
#: integrands; checked against adaptive quadrature in the tests).
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(160)


def _corr(source: str, allocation_ratio: float) -> float:
    r = _checks.positive(source, "allocation_ratio", allocation_ratio)
    return r / (1.0 + r)


def dunnett_fwer(critical_value: float, k: int, allocation_ratio: float = 1.0,
                 method: str = "mvn", seed: int | None = 0) -> float:
    """Family-wise type-I error of k one-sided z-tests against a shared control.

    Parameters
    ----------
    critical_value : float
        Reject H0_i when ``Z_i > critical_value``.
    k : int
        Number of experimental arms (>= 1).
    allocation_ratio : float
        ``r = n_E / n_C``, patients per experimental arm over patients on control.
    method : {"mvn", "integral"}
        ``"mvn"``: ``scipy.stats.multivariate_normal.cdf`` (Genz's quasi-Monte Carlo, absolute
        error ~1e-5, ``seed`` fixes its randomisation). ``"integral"``: the one-dimensional
        integral for equicorrelated normals,
        ``P(max Z <= c) = int phi(u) Phi((c - sqrt(rho) u) / sqrt(1 - rho))^k du``, by 160-point
        Gauss-Hermite quadrature (deterministic, ~1e-15, fast for any k).
    seed : int or None
        Seed of the quasi-Monte Carlo integration (``"mvn"``).

    Returns
    -------
    float
        ``P(max_i Z_i > c)`` under the global null.
    """
    src = "dunnett_fwer"
    c = _checks.real(src, "critical_value", critical_value)
    k = _checks.integer(src, "k", k, minimum=1)
    rho = _corr(src, allocation_ratio)
    if k == 1:
        return float(stats.norm.sf(c))
    if method == "integral":
        u = np.sqrt(2.0) * _GH_X
        inner = special.ndtr((c - np.sqrt(rho) * u) / np.sqrt(1.0 - rho)) ** k
        return float(1.0 - np.sum(_GH_W * inner) / np.sqrt(np.pi))
    if method != "mvn":
        raise InputError.single(src, f"method = {method!r} must be 'mvn' or 'integral'")
    cov = np.full((k, k), rho) + (1.0 - rho) * np.eye(k)
    cdf = stats.multivariate_normal.cdf(np.full(k, c), mean=np.zeros(k), cov=cov,
                                        abseps=1e-6, releps=1e-6, maxpts=50_000 * k,
                                        rng=np.random.default_rng(seed))
    return float(1.0 - cdf)


def dunnett_critical_value(alpha: float, k: int, allocation_ratio: float = 1.0) -> float:
    """One-sided Dunnett critical value: ``c`` with FWER ``P(max Z_i > c) = alpha``.

    Solved by Brent's method on the one-dimensional integral of :func:`dunnett_fwer`
    (deterministic, ~1e-12).

    Examples
    --------
    Dunnett (1955), Table 1a, one-sided 0.05, infinite df, two treatments: 1.92.

    >>> round(dunnett_critical_value(0.05, 2), 2)
    1.92
    """
    src = "dunnett_critical_value"
    alpha = _checks.rate(src, "alpha", alpha)
    k = _checks.integer(src, "k", k, minimum=1)
    _corr(src, allocation_ratio)
    lo, hi = stats.norm.isf(alpha), stats.norm.isf(alpha / k) + 1e-9  # Bonferroni brackets it
    if k == 1:
        return float(lo)
    return float(optimize.brentq(
        lambda c: dunnett_fwer(c, k, allocation_ratio, method="integral") - alpha,
        lo - 1e-9, hi, xtol=1e-12))


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class MAMSResult:
    """Simulated operating characteristics of a multi-arm multi-stage binary trial.

    Attributes
    ----------
    p_control : float
        True control response rate.
    p_arms : ndarray, shape (k,)
        True experimental rates.
    n_sim : int
        Simulated trials.
    reject : ndarray, shape (k,)
        Per-arm probability of being declared better than control.
    reject_se : ndarray, shape (k,)
        Monte Carlo SEs.
    fwer : float
        Probability of declaring at least one arm whose true rate is <= control (under the global
        null: any rejection).
    fwer_se : float
        Its Monte Carlo SE.
    any_reject : float
        Probability of declaring at least one arm.
    expected_n : float
        Expected total sample size (all arms and control).
    expected_n_se : float
        Its Monte Carlo SE.
    dropped_by_stage : ndarray, shape (k, S)
        Probability that each arm is dropped for futility at each stage.
    """

    p_control: float
    p_arms: np.ndarray
    n_sim: int
    reject: np.ndarray
    reject_se: np.ndarray
    fwer: float
    fwer_se: float
    any_reject: float
    expected_n: float
    expected_n_se: float
    dropped_by_stage: np.ndarray

    def to_frame(self):
        """One row per experimental arm (pandas DataFrame)."""
        import pandas as pd
        return pd.DataFrame({"arm": np.arange(1, self.p_arms.size + 1), "p": self.p_arms,
                             "reject": self.reject, "reject_se": self.reject_se,
                             "dropped_for_futility": self.dropped_by_stage.sum(axis=1)})

    def __str__(self) -> str:
        rows = [(i + 1, p, r, se, d) for i, (p, r, se, d) in
                enumerate(zip(self.p_arms, self.reject, self.reject_se,
                              self.dropped_by_stage.sum(axis=1)))]
        body = table(["arm", "true p", "P(declared)", "MC SE", "P(dropped)"], rows,
                     title=(f"MAMS simulation: control p = {self.p_control:g}, {self.n_sim} trials"))
        tail = (f"\nFWER {self.fwer:.4f} (MC SE {self.fwer_se:.4f});  P(any declared) "
                f"{self.any_reject:.4f};  E[N] {self.expected_n:.1f} (MC SE {self.expected_n_se:.1f})")
        return body + tail

    __repr__ = __str__


def _z(x_arm, n_arm, x_c, n_c):
    """Pooled two-sample z for proportions (0 when the pooled rate is 0 or 1)."""
    pa, pc = x_arm / n_arm, x_c / n_c
    pool = (x_arm + x_c) / (n_arm + n_c)
    var = pool * (1.0 - pool) * (1.0 / n_arm + 1.0 / n_c)
    out = np.zeros(np.broadcast(pa, pc).shape)
    np.divide(pa - pc, np.sqrt(var), out=out, where=var > 0)
    return out


def _mams_inputs(p_control, p_arms, n_per_stage, futility, efficacy, control_per_stage, n_sim):
    """Validated inputs of :func:`simulate_mams`: rates, stage sizes, bounds, number of trials."""
    src = "simulate_mams"
    pc = _checks.rate_grid(src, "p_control", p_control)
    if pc.size != 1:
        raise InputError.single(src, "p_control must be one rate")
    pc = float(pc[0])
    pa = _checks.rate_grid(src, "p_arms", p_arms)
    ne = np.array([_checks.integer(src, "n_per_stage", v, minimum=1)
                   for v in np.atleast_1d(n_per_stage)])
    n_stages = ne.size
    nc = ne if control_per_stage is None else np.array(
        [_checks.integer(src, "control_per_stage", v, minimum=1)
         for v in np.atleast_1d(control_per_stage)])
    if nc.size != n_stages:
        raise InputError.single(src, "control_per_stage must have one entry per stage")
    fut = np.atleast_1d(np.asarray(futility, dtype=float))
    eff = np.atleast_1d(np.asarray(efficacy, dtype=float))
    if fut.size != n_stages or eff.size != n_stages:
        raise InputError.single(src, f"futility and efficacy need {n_stages} bounds (one per stage)")
    if np.any(np.isnan(fut)) or np.any(np.isnan(eff)) or not np.all(np.isfinite(eff[-1:])):
        raise InputError.single(src, "bounds must be numbers and the final efficacy bound finite")
    if np.any(fut[:-1] >= eff[:-1]):
        raise InputError.single(src, "each futility bound must be below the efficacy bound")
    n_sim = _checks.integer(src, "n_sim", n_sim, minimum=2)
    return pc, pa, ne, nc, fut, eff, n_sim


def simulate_mams(p_control: float, p_arms, n_per_stage, futility, efficacy,
                  control_per_stage=None, n_sim: int = 10_000,
                  seed: int | None = None) -> MAMSResult:
    """Vectorised simulation of a multi-arm multi-stage trial with a binary endpoint.

    At each stage every active arm and the control enrol their stage's patients. With the
    cumulative data, each active arm's pooled z-statistic against control is compared with the
    stage's bounds: ``z >= efficacy[s]`` declares the arm better than control and stops it;
    ``z < futility[s]`` drops it; otherwise it continues. At the last stage an arm is declared
    iff ``z >= efficacy[-1]`` (its futility bound is ignored). The trial stops when no arm is
    active.

    Parameters
    ----------
    p_control : float
        True control rate.
    p_arms : sequence of float
        True rates of the k >= 1 experimental arms.
    n_per_stage : sequence of int
        New patients per experimental arm at each stage (S stages).
    futility, efficacy : sequence of float
        Bounds per stage (``-inf`` / ``inf`` for none).
    control_per_stage : sequence of int, optional
        New control patients per stage (default ``n_per_stage``).
    n_sim : int
        Simulated trials.
    seed : int or None
        Seed of the ``numpy.random.Generator``.

    Returns
    -------
    MAMSResult
    """
    pc, pa, ne, nc, fut, eff, n_sim = _mams_inputs(p_control, p_arms, n_per_stage, futility, efficacy,
                                                   control_per_stage, n_sim)
    k, n_stages = pa.size, ne.size
    rng = np.random.default_rng(seed)
    x_arm = np.cumsum(rng.binomial(ne[None, None, :], pa[None, :, None],
                                   size=(n_sim, k, n_stages)), axis=2)
    x_ctl = np.cumsum(rng.binomial(nc[None, :], pc, size=(n_sim, n_stages)), axis=1)
    cum_e, cum_c = np.cumsum(ne), np.cumsum(nc)
    active = np.ones((n_sim, k), dtype=bool)
    declared = np.zeros((n_sim, k), dtype=bool)
    dropped = np.zeros((k, n_stages))
    total = np.zeros(n_sim)
    for s in range(n_stages):
        running = active.any(axis=1)
        total += active.sum(axis=1) * ne[s] + running * nc[s]
        z = _z(x_arm[:, :, s], cum_e[s], x_ctl[:, s:s + 1], cum_c[s])
        win = active & (z >= eff[s])
        declared |= win
        if s == n_stages - 1:
            break
        lose = active & ~win & (z < fut[s])
        dropped[:, s] = lose.mean(axis=0)
        active &= ~(win | lose)
    reject = declared.mean(axis=0)
    reject_se = np.sqrt(reject * (1 - reject) / n_sim)
    null_arms = pa <= pc
    false = (declared & null_arms[None, :]).any(axis=1)
    fwer = float(false.mean())
    anyr = float(declared.any(axis=1).mean())
    return MAMSResult(p_control=pc, p_arms=pa, n_sim=n_sim, reject=reject, reject_se=reject_se,
                      fwer=fwer, fwer_se=float(np.sqrt(fwer * (1 - fwer) / n_sim)),
                      any_reject=anyr, expected_n=float(total.mean()),
                      expected_n_se=float(total.std(ddof=1) / np.sqrt(n_sim)),
                      dropped_by_stage=dropped)


#: Shapes of multi-arm multi-stage efficacy boundaries ``u_j = c * shape(t_j)`` at information
#: fractions ``t_j``: O'Brien-Fleming ``t^-1/2``, Pocock constant, triangular (Whitehead)
#: ``(1 + t) / (2 sqrt(t))`` as in Magirr, Jaki & Whitehead (2012).
MAMS_SHAPES = {"obf": lambda t: 1.0 / np.sqrt(t), "pocock": lambda t: np.ones_like(t),
               "triangular": lambda t: (1.0 + t) / (2.0 * np.sqrt(t))}
#: Simulated z-processes behind :func:`mams_efficacy_bounds` (the constant's Monte Carlo error is
#: about 0.002 on the z scale at alpha = 0.025).
MAMS_PATHS = 1_000_000


def mams_efficacy_bounds(fractions, alpha: float, k: int, allocation_ratio: float = 1.0, shape: str = "obf",
                         n_paths: int = MAMS_PATHS, seed: int = 0) -> np.ndarray:
    """Efficacy boundaries of a multi-arm multi-stage trial keeping the family-wise error at
    ``alpha`` under the global null (the generalised Dunnett boundaries of Magirr, Jaki &
    Whitehead 2012, Biometrika 99:494-501).

    Arm ``i`` is declared better than control at the first look ``j`` where ``Z_ij >= u_j``,
    with ``u_j = c * shape(t_j)``. Under the global null the z-statistics are jointly normal with
    ``corr(Z_ij, Z_i'j') = sqrt(t_j / t_j')`` (``j <= j'``) times 1 for the same arm and
    ``rho = r / (1 + r)`` for two arms (the shared control). Futility bounds are treated as
    non-binding (ignored here), so the error stays at most ``alpha`` whether they are obeyed or
    not. ``c`` is the ``1 - alpha`` quantile of ``max_ij Z_ij / shape(t_j)`` over ``n_paths``
    simulated null processes (a fixed ``seed``: the same bounds every time); with one look it is
    Dunnett's critical value, with one arm the group-sequential Pocock / O'Brien-Fleming constant.

    Parameters
    ----------
    fractions : sequence of float
        Information fractions of the looks, increasing in (0, 1] and ending at 1.
    alpha : float
        One-sided family-wise error.
    k : int
        Experimental arms.
    allocation_ratio : float
        Patients per experimental arm over patients on control.
    shape : {"obf", "pocock", "triangular"}

    Returns
    -------
    ndarray
        ``u_j`` for every look.
    """
    src = "mams_efficacy_bounds"
    t = np.asarray(fractions, dtype=float)
    if t.ndim != 1 or t.size < 1 or t[0] <= 0 or t[-1] != 1.0 or np.any(np.diff(t) <= 0):
        raise InputError.single(src, f"fractions {list(t)} must increase within (0, 1] and end at 1")
    alpha = _checks.rate(src, "alpha", alpha)
    k = _checks.integer(src, "k", k, minimum=1)
    rho = _corr(src, allocation_ratio)
    if shape not in MAMS_SHAPES:
        raise InputError.single(src, f"shape '{shape}' is not one of {', '.join(MAMS_SHAPES)}")
    if t.size == 1:
        return np.array([dunnett_critical_value(alpha, k, allocation_ratio)])
    scale = MAMS_SHAPES[shape](t)
    c = float(np.quantile(_null_maxima(t, k, rho, scale, n_paths, seed), 1.0 - alpha))
    return c * scale


def _null_maxima(t: np.ndarray, k: int, rho: float, scale: np.ndarray, n_paths: int, seed: int) -> np.ndarray:
    """``max_ij Z_ij / scale_j`` of ``n_paths`` z-processes under the global null."""
    steps = np.sqrt(np.diff(np.concatenate([[0.0], t])))
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    largest = []
    for rows in np.array_split(np.arange(n_paths), max(1, n_paths // 100_000)):
        # Brownian increments in information time: the control's (shared) and each arm's own
        shared = np.cumsum(rng.standard_normal((rows.size, 1, t.size)) * steps, axis=2)
        own = np.cumsum(rng.standard_normal((rows.size, k, t.size)) * steps, axis=2)
        z = (np.sqrt(rho) * shared + np.sqrt(1 - rho) * own) / np.sqrt(t)
        largest.append((z / scale).max(axis=(1, 2)))
    return np.concatenate(largest)


def mams_fwer(bounds, fractions, k: int, allocation_ratio: float = 1.0, n_paths: int = MAMS_PATHS,
              seed: int = 1) -> float:
    """Family-wise error ``P(some Z_ij >= u_j)`` of efficacy bounds ``u_j`` at information
    ``fractions`` under the global null (futility ignored), from ``n_paths`` simulated
    z-processes of the joint normal law in :func:`mams_efficacy_bounds` (a different ``seed`` by
    default, so a check of those bounds uses other paths than their search)."""
    u = np.asarray(bounds, dtype=float)
    t = np.asarray(fractions, dtype=float)
    if u.shape != t.shape:
        raise InputError.single("mams_fwer", "give one bound per look")
    return float((_null_maxima(t, k, _corr("mams_fwer", allocation_ratio), u, n_paths, seed) >= 1.0).mean())

"""Calibrating Bayesian posterior-probability thresholds to a frequentist type-I error.

A binary single-arm rule declares activity when ``P(p > p0 | x of n) >= theta``. Because the
posterior probability increases with ``x``, the rule is "declare iff ``x >= c``" and every
``theta`` in ``(q(c - 1), q(c)]`` (``q(x)`` the posterior probability at ``x``) gives the same
design. :func:`calibrate_posterior_threshold` finds the smallest ``c`` (hence the most powerful
rule) whose exact type-I error at ``p0`` is at most the nominal alpha, optionally with fixed
interim futility looks, and reports the exact (and optionally simulated) type-I error beside
the nominal one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from relapse_model.designs import _checks
from relapse_model.designs._table import key_values
from relapse_model.designs.binomial import multistage_oc, oc_core, simulate_multistage, summarise
from relapse_model.designs.monitoring import _prior, posterior_prob_above
from relapse_model.errors import InputError

_SOURCE = "calibrate_posterior_threshold"


def flag_type1(simulated: float, mc_se: float, nominal: float) -> bool:
    """True when a simulated type-I error exceeds the nominal level by more than 2 MC SE.

    Parameters
    ----------
    simulated : float
        Simulated type-I error (proportion of null trials declaring activity).
    mc_se : float
        Its Monte Carlo standard error, ``sqrt(s (1 - s) / n_sim)``.
    nominal : float
        The nominal (target) alpha.

    Returns
    -------
    bool
        ``simulated > nominal + 2 * mc_se``: an excess that Monte Carlo noise alone explains
        in only about 2.3 % of runs when the true error equals the nominal one (one-sided normal
        approximation), so the design, not the simulation, is the likely cause.
    """
    s = _checks.unit_closed("flag_type1", "simulated", simulated)
    se = _checks.real("flag_type1", "mc_se", mc_se)
    if se < 0:
        raise InputError.single("flag_type1", f"mc_se = {mc_se!r} must be >= 0")
    a = _checks.rate("flag_type1", "nominal", nominal)
    return bool(s > a + 2.0 * se)


@dataclass(frozen=True)
class ThresholdCalibration:
    """A posterior threshold calibrated to a type-I error.

    Attributes
    ----------
    p0 : float
        Null response rate.
    n : int
        Final sample size.
    prior : (float, float)
        Beta prior.
    nominal_alpha : float
        Target type-I error.
    threshold : float
        Smallest threshold giving the calibrated rule: ``q(c)``.
    threshold_interval : (float, float)
        Every ``theta`` in ``(lower, upper]`` gives the same rule.
    critical_responses : int
        ``c``: declare activity iff at least ``c`` responses of ``n``.
    exact_type1 : float
        Exact type-I error of the rule at p0.
    simulated_type1, mc_se : float or None
        Simulated type-I error and its Monte Carlo SE (when simulated).
    flagged : bool or None
        :func:`flag_type1` of the simulated value.
    """

    p0: float
    n: int
    prior: tuple[float, float]
    nominal_alpha: float
    threshold: float
    threshold_interval: tuple[float, float]
    critical_responses: int
    exact_type1: float
    simulated_type1: float | None = None
    mc_se: float | None = None
    flagged: bool | None = None

    def to_dict(self) -> dict[str, object]:
        """All fields as a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        rows = [("declare activity if", f"P(p > {self.p0:g} | data) >= {self.threshold:.4f}"),
                ("same rule for theta in", f"({self.threshold_interval[0]:.4f}, "
                                           f"{self.threshold_interval[1]:.4f}]"),
                ("i.e. responses >=", f"{self.critical_responses} of {self.n}"),
                ("nominal alpha", self.nominal_alpha), ("exact type I error", self.exact_type1)]
        if self.simulated_type1 is not None:
            rows += [("simulated type I error", f"{self.simulated_type1:.4f} "
                                                f"(MC SE {self.mc_se:.4f})"),
                     ("exceeds nominal by > 2 MC SE", self.flagged)]
        return key_values(rows, title="Posterior threshold calibrated to type I error")

    __repr__ = __str__


def calibrate_posterior_threshold(p0: float, n: int, alpha: float, prior=(1.0, 1.0),
                                  looks=None, futility=None, n_sim: int = 0,
                                  seed: int | None = None) -> ThresholdCalibration:
    """Smallest posterior threshold whose exact type-I error at p0 is <= alpha.

    Parameters
    ----------
    p0 : float
        Null response rate.
    n : int
        Final sample size.
    alpha : float
        Nominal type-I error.
    prior : (float, float)
        Beta prior of the response rate (default uniform).
    looks, futility : sequence of int, optional
        Interim looks (cumulative sizes below ``n``) with futility count bounds (stop if
        responses ``<= futility[k]``); the type-I error then accounts for the early stops.
    n_sim : int
        If > 0, also simulate ``n_sim`` null trials (``numpy.random.Generator(seed)``) and report
        the simulated type-I error, its MC SE and :func:`flag_type1`.
    seed : int, optional
        Seed of the simulation.

    Returns
    -------
    ThresholdCalibration
    """
    p0 = _checks.rate(_SOURCE, "p0", p0)
    n = _checks.integer(_SOURCE, "n", n, minimum=1)
    alpha = _checks.rate(_SOURCE, "alpha", alpha)
    a, b = _prior(_SOURCE, prior)
    n_sim = _checks.integer(_SOURCE, "n_sim", n_sim, minimum=0)
    if (looks is None) != (futility is None):
        raise InputError.single(_SOURCE, "give both looks and futility, or neither")
    interim = np.zeros(0, dtype=int) if looks is None else _checks.looks(_SOURCE, "looks", looks)
    fut = np.zeros(0, dtype=int) if futility is None else np.asarray(futility, dtype=int)
    if interim.size and interim[-1] >= n:
        raise InputError.single(_SOURCE, f"interim looks {[int(v) for v in interim]} must be below n = {n}")
    if fut.shape != interim.shape:
        raise InputError.single(_SOURCE, "looks and futility must have the same length")
    all_looks = np.concatenate([interim, [n]]).astype(int)
    q = posterior_prob_above(p0, np.arange(n + 1), n, a, b)
    c = np.arange(n + 2)                                   # declare iff x >= c (c = n+1: never)
    finals = np.tile(np.concatenate([fut, [0]]), (c.size, 1))
    finals[:, -1] = c - 1
    res = oc_core(all_looks, finals, np.broadcast_to(all_looks + 1, finals.shape), np.array([p0]))
    t1 = summarise(all_looks, res["stop_futility"], res["stop_efficacy"])["prob_reject"][:, 0]
    ok = np.nonzero(t1 <= alpha + 1e-12)[0]
    c_star = int(ok[0])
    if c_star > n:
        raise InputError.single(_SOURCE, f"no rule with n = {n} has type I error <= {alpha:g}")
    lower = float(q[c_star - 1]) if c_star > 0 else 0.0
    upper = float(q[c_star])
    out = dict(p0=p0, n=n, prior=(a, b), nominal_alpha=alpha, threshold=upper,
               threshold_interval=(lower, upper), critical_responses=c_star,
               exact_type1=float(t1[c_star]))
    if n_sim > 0:
        sim = simulate_multistage(all_looks, list(finals[c_star]), [p0], n_sim=n_sim, seed=seed)
        s, se = float(sim.prob_reject[0]), float(sim.prob_reject_se[0])
        out.update(simulated_type1=s, mc_se=se, flagged=flag_type1(s, se, alpha))
    return ThresholdCalibration(**out)


def exact_type1(p0: float, n: int, threshold: float, prior=(1.0, 1.0)) -> float:
    """Exact type-I error of "declare iff ``P(p > p0 | x of n) >= threshold``" at p0."""
    p0 = _checks.rate("exact_type1", "p0", p0)
    n = _checks.integer("exact_type1", "n", n, minimum=1)
    threshold = _checks.rate("exact_type1", "threshold", threshold)
    a, b = _prior("exact_type1", prior)
    q = posterior_prob_above(p0, np.arange(n + 1), n, a, b)
    r = int((q < threshold).sum()) - 1
    return float(multistage_oc([n], [r], [p0]).prob_reject[0])

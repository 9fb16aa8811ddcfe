"""Group-sequential boundaries: published values, exact alpha under the null, power, decisions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from relapse_model.simulate import mechanics
from relapse_model.simulate.analyses import logrank
from relapse_model.simulate.boundaries import (
    Boundaries,
    apply_boundaries,
    crossing_probabilities,
    obrien_fleming_spending,
    pocock_spending,
    spending_boundaries,
)


def canonical_z(rng, fractions, n, drift=0.0):
    """Z statistics with the canonical joint distribution, from Brownian motion increments."""
    t = np.asarray(fractions)
    inc = rng.normal(drift * np.diff(t, prepend=0.0)[:, None],
                     np.sqrt(np.diff(t, prepend=0.0))[:, None], (t.size, n))
    return np.cumsum(inc, axis=0) / np.sqrt(t)[:, None]


def canonical_cov(t):
    t = np.asarray(t)
    return np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))


@pytest.mark.parametrize("k, published", [
    (3, [3.710, 2.511, 1.993]),
    (5, [4.877, 3.357, 2.680, 2.290, 2.031]),
])
def test_lan_demets_obf_matches_gsdesign_rpact(k, published):
    # Reference values of gsDesign (sfLDOF) and rpact (asOF), one-sided alpha 0.025,
    # equally spaced looks; reproduced here to 1e-3.
    b = spending_boundaries(np.arange(1, k + 1) / k, 0.025, "obf")
    np.testing.assert_allclose(b.efficacy, published, atol=1e-3)


def test_lan_demets_obf_two_looks():
    # Lan-DeMets OBF-type spending at t = 1/2 spends 2 - 2 Phi(z_0.9875 sqrt 2) = 0.00153, so the
    # first bound is about 2.963, not the 2.797 of the classical O'Brien-Fleming design (below).
    b = spending_boundaries([0.5, 1.0], 0.025, "obf")
    assert b.efficacy[0] == pytest.approx(stats.norm.isf(obrien_fleming_spending(0.5, 0.025)))
    np.testing.assert_allclose(b.efficacy, [2.963, 1.969], atol=1e-3)


@pytest.mark.parametrize("k, c_obf, c_pocock", [(2, 1.977, 2.178), (3, 2.004, 2.289),
                                                (5, 2.040, 2.413)])
def test_classical_designs_match_jennison_turnbull(k, c_obf, c_pocock):
    # Jennison & Turnbull (2000) Tables 2.1 and 2.3, alpha = 0.05 two-sided (0.025 per side):
    # constants of the classical Pocock (b_k = C) and O'Brien-Fleming (b_k = C sqrt(K / k))
    # designs, recovered by root finding on this module's crossing probabilities.
    t = np.arange(1, k + 1) / k

    def alpha_of(shape):
        def f(c):
            b = Boundaries(t, c * shape, np.full(k, -np.inf), np.zeros(k))
            return crossing_probabilities(b)[0].sum() - 0.025
        return optimize.brentq(f, 1.5, 3.5, xtol=1e-8)

    assert alpha_of(np.sqrt(1 / t)) == pytest.approx(c_obf, abs=1e-3)
    assert alpha_of(np.ones(k)) == pytest.approx(c_pocock, abs=1e-3)


@pytest.mark.parametrize("spending", ["obf", "pocock"])
@pytest.mark.parametrize("fractions", [[0.5, 1.0], [0.3, 0.55, 0.8, 1.0]])
def test_null_crossing_probability_is_alpha(spending, fractions):
    b = spending_boundaries(fractions, 0.025, spending)
    up, _ = crossing_probabilities(b)
    # Per look: the increments of the spending function.
    np.testing.assert_allclose(np.cumsum(up), b.alpha_spent, atol=1e-9)
    assert up.sum() == pytest.approx(0.025, abs=1e-9)
    # Independently: scipy's multivariate normal on the canonical correlation (Genz, ~1e-5).
    no_cross = stats.multivariate_normal.cdf(b.efficacy, np.zeros(len(fractions)),
                                             canonical_cov(fractions), abseps=1e-7,
                                             rng=np.random.default_rng(0))
    assert 1 - no_cross == pytest.approx(0.025, abs=2e-5)
    # And by simulation of the canonical process.
    z = canonical_z(np.random.default_rng(1), fractions, 400_000)
    rejected = apply_boundaries(z, b).reject.mean()
    assert abs(rejected - 0.025) < 3 * np.sqrt(0.025 * 0.975 / 400_000)


def test_pocock_boundaries_are_nearly_flat_and_spending_functions_end_at_alpha():
    b = spending_boundaries([0.25, 0.5, 0.75, 1.0], 0.025, "pocock")
    assert np.ptp(b.efficacy) < 0.05
    for fn in (obrien_fleming_spending, pocock_spending):
        assert fn(1.0, 0.025) == pytest.approx(0.025)
        assert np.all(np.diff(fn(np.linspace(0.01, 1, 50), 0.025)) > 0)


def test_power_and_futility_against_simulation():
    fractions = [1 / 3, 2 / 3, 1.0]
    b = spending_boundaries(fractions, 0.025, "obf", futility=[0.0, 0.5])
    plain = spending_boundaries(fractions, 0.025, "obf")
    np.testing.assert_array_equal(b.efficacy, plain.efficacy)  # non-binding futility
    drift = 3.0
    up, low = crossing_probabilities(b, drift)
    assert up.sum() + low.sum() == pytest.approx(1.0, abs=1e-9)
    z = canonical_z(np.random.default_rng(2), fractions, 200_000, drift)
    out = apply_boundaries(z, b)
    for k in range(3):
        p = np.mean(out.reject & (out.stop_look == k))
        assert abs(p - up[k]) < 4 * np.sqrt(up[k] * (1 - up[k]) / 200_000) + 1e-4
    assert np.mean(out.futility) == pytest.approx(low[:2].sum(), abs=4 * np.sqrt(low[:2].sum() / 2e5))
    # Obeying the futility bounds lowers the type-I error; ignoring them gives exactly alpha.
    up0, _ = crossing_probabilities(b, 0.0)
    up0_nb, _ = crossing_probabilities(b, 0.0, binding_futility=False)
    assert up0.sum() < 0.025 and up0_nb.sum() == pytest.approx(0.025, abs=1e-9)
    # Single look: power is Phi(drift - z_alpha).
    one = spending_boundaries([1.0], 0.025)
    assert crossing_probabilities(one, drift)[0][0] == pytest.approx(stats.norm.cdf(drift - 1.96),
                                                                     abs=1e-4)


def test_apply_boundaries_by_hand():
    b = Boundaries(np.array([0.5, 1.0]), np.array([2.8, 2.0]), np.array([0.0, 2.0]), np.zeros(2))
    z = np.array([[3.0, -0.5, 1.0, 1.0, np.nan],
                  [0.0, 5.0, 2.5, 1.5, 2.1]])
    out = apply_boundaries(z, b)
    np.testing.assert_array_equal(out.reject, [True, False, True, False, True])
    np.testing.assert_array_equal(out.stop_look, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(out.futility, [False, True, False, False, False])
    ignored = apply_boundaries(z, b, binding_futility=False)
    np.testing.assert_array_equal(ignored.reject, [True, True, True, False, True])


def test_group_sequential_logrank_trials_keep_alpha():
    # End to end: 4000 null trials, looks at 50% and 100% of 200 events, OBF-type bounds on -Z.
    rng = np.random.default_rng(3)
    n_trials, n = 4000, 300
    entry = mechanics.accrual_times(rng, n_trials, n, 15.0)
    arm = mechanics.allocate(rng, n_trials, n)
    events = mechanics.exponential_event_times(rng, arm, 12.0)
    looks = mechanics.information_looks(entry, events, None, 200, [0.5, 1.0])
    z = np.array([-logrank(lk.time, lk.event, arm, lk.mask).z for lk in looks])
    out = apply_boundaries(z, spending_boundaries([0.5, 1.0], 0.025, "obf"))
    assert abs(out.reject.mean() - 0.025) < 3 * np.sqrt(0.025 * 0.975 / n_trials)


def test_bad_fractions_raise():
    with pytest.raises(ValueError, match="fractions"):
        spending_boundaries([0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="futility"):
        spending_boundaries([0.5, 1.0], futility=[3.5])

"""Dunnett FWER and critical values (published table) and the MAMS simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from relapse_model.designs import dunnett_critical_value, dunnett_fwer, simulate_mams
from relapse_model.designs.multiarm import mams_efficacy_bounds, mams_fwer
from relapse_model.errors import InputError

# Dunnett C.W. (1955) JASA 50:1096-1121, Table 1a: one-sided alpha = 0.05, infinite degrees of
# freedom, k = 2..10 treatments against one control (equal allocation), to two decimals.
DUNNETT_1955_ONE_SIDED_05 = {2: 1.92, 3: 2.06, 4: 2.16, 5: 2.23, 6: 2.29, 7: 2.34, 8: 2.38,
                             9: 2.42, 10: 2.45}


def test_critical_values_match_dunnett_1955():
    for k, c in DUNNETT_1955_ONE_SIDED_05.items():
        assert round(dunnett_critical_value(0.05, k), 2) == c


def test_standard_value_two_arms_one_sided_0025():
    c = dunnett_critical_value(0.025, 2)
    assert c == pytest.approx(2.212, abs=5e-4)
    assert dunnett_fwer(c, 2) == pytest.approx(0.025, abs=2e-5)  # mvn (Genz) at the root


def test_mvn_integral_and_adaptive_quadrature_agree():
    for k, r in [(2, 1.0), (3, 0.5), (4, 1 / 2 ** 0.5)]:
        rho = r / (1 + r)
        for c in (1.8, 2.6):
            gh = dunnett_fwer(c, k, r, "integral")
            assert dunnett_fwer(c, k, r) == pytest.approx(gh, abs=2e-5)
            val, _ = integrate.quad(
                lambda u: stats.norm.pdf(u) * stats.norm.cdf((c - rho ** 0.5 * u)
                                                             / (1 - rho) ** 0.5) ** k,
                -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)
            assert gh == pytest.approx(1 - val, abs=1e-11)


def test_limits_and_allocation():
    # k = 1 is the one-sided normal test; FWER lies between the single test and Bonferroni
    assert dunnett_fwer(1.96, 1) == pytest.approx(stats.norm.sf(1.96))
    f = dunnett_fwer(2.0, 3)
    assert stats.norm.sf(2.0) < f < 3 * stats.norm.sf(2.0)
    # more control patients (smaller r = n_E / n_C) lower the correlation and raise the FWER
    assert dunnett_fwer(2.0, 3, allocation_ratio=0.5) > dunnett_fwer(2.0, 3, allocation_ratio=2.0)


def test_simulated_fwer_matches_analytic_single_stage():
    k, alpha = 3, 0.025
    c = dunnett_critical_value(alpha, k)
    res = simulate_mams(0.3, [0.3] * k, [300], [-np.inf], [c], n_sim=60_000, seed=123)
    analytic = dunnett_fwer(c, k)
    assert abs(res.fwer - analytic) < 4 * res.fwer_se
    # unequal allocation: control twice as large, correlation r / (1 + r) = 1/3
    c2 = dunnett_critical_value(alpha, k, allocation_ratio=0.5)
    res2 = simulate_mams(0.3, [0.3] * k, [200], [-np.inf], [c2], control_per_stage=[400],
                         n_sim=60_000, seed=321)
    assert abs(res2.fwer - alpha) < 4 * res2.fwer_se


def test_single_arm_power_matches_exact_enumeration():
    n, pc, pt, c = 60, 0.3, 0.5, 1.96
    res = simulate_mams(pc, [pt], [n], [-np.inf], [c], n_sim=40_000, seed=9)
    x = np.arange(n + 1)
    xa, xc = np.meshgrid(x, x, indexing="ij")
    pool = (xa + xc) / (2 * n)
    var = pool * (1 - pool) * 2 / n
    z = np.divide(xa / n - xc / n, np.sqrt(var), out=np.zeros_like(pool), where=var > 0)
    exact = float((stats.binom.pmf(xa, n, pt) * stats.binom.pmf(xc, n, pc) * (z >= c)).sum())
    assert abs(res.reject[0] - exact) < 4 * res.reject_se[0]


def test_multistage_dropping_and_sample_size():
    # a futility bound no arm can pass drops every arm at the first interim
    res = simulate_mams(0.3, [0.3, 0.5], [20, 20], [50.0, -np.inf], [60.0, 2.0], n_sim=2000, seed=1)
    assert res.expected_n == 3 * 20 and np.all(res.reject == 0)
    np.testing.assert_allclose(res.dropped_by_stage[:, 0], 1.0)
    # no interim stopping at all: every trial enrols everything
    full = simulate_mams(0.3, [0.3, 0.5], [20, 20], [-np.inf, -np.inf], [np.inf, 2.0],
                         n_sim=2000, seed=1)
    assert full.expected_n == 3 * 40
    # a realistic MAMS: the effective arm is declared more, the null arm dropped more
    mams = simulate_mams(0.3, [0.3, 0.5], [40, 40], [0.0, -np.inf], [2.8, 2.1], n_sim=20_000,
                         seed=2)
    assert mams.reject[1] > 0.5 > mams.reject[0]
    assert mams.dropped_by_stage[0, 0] > mams.dropped_by_stage[1, 0]
    assert mams.expected_n < 3 * 80
    assert mams.fwer == pytest.approx(mams.reject[0])
    assert all(len(line) <= 100 for line in str(mams).splitlines())
    assert list(mams.to_frame().columns)[:3] == ["arm", "p", "reject"]


def test_reproducible_under_seed():
    a = simulate_mams(0.3, [0.4, 0.5], [30, 30], [0.0, -np.inf], [2.5, 2.0], n_sim=3000, seed=42)
    b = simulate_mams(0.3, [0.4, 0.5], [30, 30], [0.0, -np.inf], [2.5, 2.0], n_sim=3000, seed=42)
    np.testing.assert_array_equal(a.reject, b.reject)
    assert a.expected_n == b.expected_n


@pytest.mark.parametrize("call, message", [
    (lambda: dunnett_critical_value(1.2, 2), "alpha = 1.2"),
    (lambda: dunnett_critical_value(0.05, 0), "k = 0 must be at least 1"),
    (lambda: dunnett_fwer(2.0, 2, allocation_ratio=-1), "allocation_ratio = -1"),
    (lambda: dunnett_fwer(float("nan"), 2), "critical_value = nan"),
    (lambda: simulate_mams(0.3, [0.3, 1.5], [20], [-np.inf], [2.0]), "p_arms contains 1.5"),
    (lambda: simulate_mams(0.3, [0.3], [20, 20], [0.0], [2.0, 2.0]), "one per stage"),
    (lambda: simulate_mams(0.3, [0.3], [20, 20], [3.0, 0.0], [2.0, 2.0]), "below the efficacy"),
])
def test_bad_input(call, message):
    with pytest.raises(InputError, match=message):
        call()


@pytest.mark.parametrize("fractions, shape, published", [
    # Jennison & Turnbull (2000), Tables 2.1 and 2.3: Pocock C_P and O'Brien-Fleming C_B for
    # two-sided 0.05 with equal group sizes (one-sided 0.025 agrees to the 3 decimals shown)
    ([0.5, 1.0], "pocock", [2.178, 2.178]),
    ([1 / 3, 2 / 3, 1.0], "pocock", [2.289] * 3),
    ([0.5, 1.0], "obf", [1.977 * np.sqrt(2), 1.977]),
    ([1 / 3, 2 / 3, 1.0], "obf", [2.004 * np.sqrt(3), 2.004 * np.sqrt(1.5), 2.004]),
])
def test_mams_bounds_with_one_arm_are_the_published_group_sequential_bounds(fractions, shape, published):
    assert np.allclose(mams_efficacy_bounds(fractions, 0.025, 1, shape=shape), published, atol=0.008)


def test_mams_bounds_with_one_look_are_dunnett_and_keep_the_fwer_in_a_binary_mams_simulation():
    assert mams_efficacy_bounds([1.0], 0.025, 3)[0] == pytest.approx(dunnett_critical_value(0.025, 3))
    bounds = mams_efficacy_bounds([0.5, 1.0], 0.025, 3, shape="triangular")
    assert bounds[0] > bounds[1] > dunnett_critical_value(0.025, 3)
    assert mams_fwer(bounds, [0.5, 1.0], 3) == pytest.approx(0.025, abs=0.0006)       # other paths
    sim = simulate_mams(0.3, [0.3, 0.3, 0.3], [150, 150], [-np.inf, -np.inf], bounds, n_sim=40_000, seed=3)
    assert abs(sim.fwer - 0.025) < 3 * np.sqrt(0.025 * 0.975 / 40_000), sim.fwer
    with pytest.raises(InputError, match="fractions .* must increase"):
        mams_efficacy_bounds([0.5, 0.4, 1.0], 0.025, 2)
    with pytest.raises(InputError, match="shape 'linear' is not one of"):
        mams_efficacy_bounds([0.5, 1.0], 0.025, 2, shape="linear")

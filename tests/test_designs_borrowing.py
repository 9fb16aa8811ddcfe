"""Robust mixture priors: ESS, posterior update, conflict check and OCs of borrowing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from relapse_model.designs import (
    BetaMixture,
    fit_beta,
    fit_beta_mixture,
    prior_data_conflict,
    robustify,
    single_arm_oc,
    two_arm_oc,
)
from relapse_model.errors import InputError

GRID = np.linspace(1e-6, 1 - 1e-6, 200_001)


def _trapz(y, x=GRID):
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (3.0, 7.0), (0.5, 2.5), (40.0, 160.0)])
def test_ess_of_a_beta_is_a_plus_b(a, b):
    prior = BetaMixture.beta(a, b)
    assert prior.ess("moment") == pytest.approx(a + b, rel=1e-12)
    assert prior.ess("elir") == pytest.approx(a + b, rel=1e-12)
    # the ELIR integral itself (as used for mixtures) also gives a + b for a Beta with a, b > 1
    # (for a <= 1 or b <= 1 the closed form a + b is a limit, not the value of the integral)
    twin = BetaMixture((0.5, 0.5), (a, a), (b, b))
    if a > 1 and b > 1:
        assert twin.ess("elir") == pytest.approx(a + b, rel=1e-6)
    elif a < 1 or b < 1:
        with pytest.raises(InputError, match="method='moment'"):
            twin.ess("elir")


def test_elir_of_mixture_against_finite_differences():
    mix = robustify(BetaMixture.beta(6.0, 14.0), 0.7)
    x = np.linspace(1e-4, 1 - 1e-4, 100_001)
    h = x[1] - x[0]
    logp = np.log(mix.pdf(x))
    d2 = (logp[2:] - 2 * logp[1:-1] + logp[:-2]) / h ** 2
    xm = x[1:-1]
    elir = _trapz(mix.pdf(xm) * (-d2) * xm * (1 - xm), xm)
    assert mix.ess("elir") == pytest.approx(elir, rel=1e-4)
    # robustification lowers the ESS below the informative a + b = 20
    assert 0 < mix.ess("elir") < 20 and 0 < mix.ess("moment") < 20


def test_posterior_update_matches_grid_integration():
    prior = BetaMixture((0.6, 0.25, 0.15), (12.0, 2.0, 1.0), (28.0, 6.0, 1.0))
    x, n = 11, 20
    post = prior.posterior(x, n)
    dens = prior.pdf(GRID) * GRID ** x * (1 - GRID) ** (n - x)
    dens /= _trapz(dens)
    assert post.mean() == pytest.approx(_trapz(GRID * dens), abs=1e-8)
    tail = GRID > 0.45
    assert float(post.sf(0.45)) == pytest.approx(_trapz(np.where(tail, dens, 0.0)), abs=1e-5)
    np.testing.assert_allclose(post.pdf(GRID[::20000][1:-1]), dens[::20000][1:-1], rtol=1e-6)
    # the weights moved towards the component that predicts 11/20 best
    assert post.weights[0] < prior.weights[0]


def test_fit_beta_and_mixture_recover_the_truth():
    rng = np.random.default_rng(2024)
    one = fit_beta(rng.beta(12.0, 48.0, 200_000))
    assert one.a[0] == pytest.approx(12.0, rel=0.02) and one.b[0] == pytest.approx(48.0, rel=0.02)
    draws = np.concatenate([rng.beta(30.0, 70.0, 12_000), rng.beta(4.0, 4.0, 8_000)])
    mix = fit_beta_mixture(draws, n_components=2)
    assert mix.mean() == pytest.approx(draws.mean(), abs=2e-3)
    assert mix.var() == pytest.approx(draws.var(), rel=0.02)
    i = int(np.argmax(np.asarray(mix.a) + np.asarray(mix.b)))
    assert mix.weights[i] == pytest.approx(0.6, abs=0.03)
    assert mix.a[i] / (mix.a[i] + mix.b[i]) == pytest.approx(0.3, abs=0.01)


def test_robustify_weights_and_w0_is_vague():
    inf = BetaMixture.beta(20.0, 60.0)
    mix = robustify(inf, 0.8)
    assert mix.weights == pytest.approx((0.8, 0.2), abs=1e-15) and mix.a == (20.0, 1.0) and mix.b == (60.0, 1.0)
    assert robustify(inf, 0.0) == BetaMixture.beta(1.0, 1.0)
    assert robustify(inf, 1.0) == inf
    assert robustify(inf, 0.0, vague=BetaMixture.beta(0.5, 0.5)) == BetaMixture.beta(0.5, 0.5)


def test_single_arm_w0_reproduces_no_borrowing_exactly():
    inf = BetaMixture.beta(15.0, 35.0)           # historical mean 0.3
    n, target, thr = 30, 0.3, 0.9
    drift = np.array([-0.1, 0.0, 0.1, 0.2])
    oc = single_arm_oc(inf, n, target, thr, weights=[0.0, 0.5, 1.0], drift=drift)
    # independent no-borrowing design: Beta(1, 1) prior, declare iff P(p > 0.3 | x) >= 0.9
    x = np.arange(n + 1)
    win = stats.beta.sf(target, 1 + x, 1 + n - x) >= thr
    plain = (stats.binom.pmf(x[:, None], n, 0.3 + drift[None, :]) * win[:, None]).sum(axis=0)
    np.testing.assert_array_equal(oc.prob_success[0], plain)  # bit-for-bit identity
    # full borrowing of a prior centred at the target lowers the success probability under drift 0
    assert oc.prob_success[2, 1] < oc.prob_success[0, 1]
    assert oc.to_frame().shape == (12, 4)


def _p_greater_closed_form(a_t, b_t, a_c, b_c):
    """P(Beta(a_t, b_t) > Beta(a_c, b_c)) for integer a_t (Cook's sum)."""
    i = np.arange(int(a_t))
    terms = (special.betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - special.betaln(1 + i, b_t)
             - special.betaln(a_c, b_c))
    return float(np.exp(terms).sum())


def test_two_arm_w0_against_closed_form():
    inf = BetaMixture.beta(12.0, 28.0)
    nc, nt, thr = 12, 15, 0.9
    drift = np.array([-0.1, 0.0, 0.15])
    oc = two_arm_oc(inf, nc, nt, thr, weights=[0.0], drift=drift, effect=0.2)
    pc_true = 0.3 + drift
    expected = np.zeros(drift.size)
    for xc in range(nc + 1):
        for xt in range(nt + 1):
            prob = _p_greater_closed_form(1 + xt, 1 + nt - xt, 1 + xc, 1 + nc - xc)
            if prob >= thr:
                expected += (stats.binom.pmf(xc, nc, pc_true)
                             * stats.binom.pmf(xt, nt, pc_true + 0.2))
    np.testing.assert_allclose(oc.prob_success[0], expected, atol=1e-12)


def test_two_arm_borrowing_inflates_type1_under_drift():
    inf = BetaMixture.beta(30.0, 70.0)
    oc = two_arm_oc(inf, 20, 40, 0.95, weights=[0.0, 0.5, 0.9], drift=[-0.1, 0.0, 0.1])
    # under no drift borrowing keeps the error near or below the no-borrowing one; a current
    # control better than history (positive drift) inflates it as w grows
    assert oc.prob_success[0, 2] < oc.prob_success[1, 2] < oc.prob_success[2, 2]
    assert oc.prob_success[2, 0] < oc.prob_success[0, 0]


def test_box_p_value_by_brute_force():
    prior = robustify(BetaMixture.beta(20.0, 80.0), 0.8)
    n = 25
    pmf = np.array([
        sum(w * math.comb(n, k) * math.exp(special.betaln(a + k, b + n - k) - special.betaln(a, b))
            for w, a, b in zip(prior.weights, prior.a, prior.b)) for k in range(n + 1)])
    assert pmf.sum() == pytest.approx(1.0)
    for x in (0, 5, 12, 20):
        res = prior_data_conflict(prior, x, n)
        assert res.p_value == pytest.approx(pmf[pmf <= pmf[x] * (1 + 1e-10)].sum(), abs=1e-12)
        assert res.lower_tail == pytest.approx(pmf[: x + 1].sum())
    # 80 % responders against a 20 % history: a conflict, much stronger without the robust part
    assert prior_data_conflict(prior, 20, n).p_value < 0.05
    assert prior_data_conflict(BetaMixture.beta(20.0, 80.0), 20, n).p_value < 1e-6
    assert prior_data_conflict(prior, 5, n).p_value > 0.5


@pytest.mark.parametrize("call, message", [
    (lambda: robustify(BetaMixture.beta(2, 3), 1.5), "weight = 1.5 must be between 0 and 1"),
    (lambda: robustify(BetaMixture.beta(2, 3), float("nan")), "weight = nan"),
    (lambda: BetaMixture((0.5, 0.6), (1, 2), (1, 2)), "sum to 1"),
    (lambda: BetaMixture.beta(0, 2), "greater than 0"),
    (lambda: fit_beta([0.2, 0.3, 1.2]), "strictly between 0 and 1"),
    (lambda: BetaMixture.beta(2, 3).posterior(5, 3), "x = 5 must be <= n = 3"),
    (lambda: prior_data_conflict(BetaMixture.beta(2, 3), -1, 10), "x = -1"),
    (lambda: single_arm_oc(BetaMixture.beta(2, 3), 10, 0.3, 0.9, [0.5], [0.9]), "outside"),
    (lambda: BetaMixture.beta(2, 3).ess("fisher"), "method = 'fisher'"),
])
def test_bad_input(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_printing_fits():
    mix = robustify(fit_beta(np.random.default_rng(1).beta(8, 24, 5000)), 0.75)
    for text in (str(mix), str(prior_data_conflict(mix, 4, 20)),
                 str(single_arm_oc(mix, 20, 0.25, 0.9, [0, 0.5, 1], [-0.05, 0, 0.05]))):
        assert all(len(line) <= 100 for line in text.splitlines())


def test_elir_predictive_consistency():
    # Neuenschwander et al. (2020): the ELIR ESS is predictively consistent, i.e. averaging the
    # posterior ESS after n_forward patients over the prior predictive and subtracting n_forward
    # gives the prior ESS. Here the average is exact (a sum over the beta-binomial), for the
    # mixture of RBesT's ess() example, mixbeta(rob = c(0.2, 1, 1), inf = c(0.8, 10, 2)).
    bmix = BetaMixture((0.2, 0.8), (1.0, 10.0), (1.0, 2.0))
    n_forward = 10
    pred = bmix.marginal_pmf(np.arange(n_forward + 1), n_forward)
    post_ess = np.array([bmix.posterior(r, n_forward).ess("elir") for r in range(n_forward + 1)])
    assert float(pred @ post_ess) - n_forward == pytest.approx(bmix.ess("elir"), rel=1e-6)
    # the moment ESS is a + b of the Beta matching mean and variance (RBesT's ms2beta route)
    m, v = bmix.mean(), bmix.var()
    a_b = m * (1 - m) / v - 1
    assert bmix.ess("moment") == pytest.approx(a_b)

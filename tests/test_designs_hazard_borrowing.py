"""Borrowing on time-to-event endpoints: Gamma-mixture priors of piecewise hazards, the posterior
probability that the hazard ratio is below 1, and the prior-data conflict check, each against an
independent computation (numerical integration, Monte Carlo, the Cox model)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from relapse_model.designs import (
    GammaMixture,
    fit_gamma_mixture,
    hazard_conflict_p_value,
    prob_hazard_ratio_below,
    robustify_hazards,
)
from relapse_model.errors import InputError
from relapse_model.simulate import analyses

ONE_PIECE = GammaMixture([0.6, 0.4], [[30.0], [5.0]], [[600.0], [50.0]], [0, 24])


def _by_double_integral(prior: GammaMixture, d0, e0, d1, e1, sd=np.inf) -> float:
    """P(theta < 1) for one piece by brute-force integration over the control hazard (log grid)
    and log theta, without the closed-form Gamma-Poisson step."""
    log_lam = np.linspace(np.log(1e-4), np.log(0.6), 3001)[:, None]
    phi = np.linspace(-5, 5, 3001)[None, :]
    lam = np.exp(log_lam)
    prior_density = sum(w * stats.gamma.pdf(lam, a, scale=1 / b)
                        for w, a, b in zip(prior.weights, prior.shape[:, 0], prior.rate[:, 0]))
    log_like = (stats.poisson.logpmf(d0, lam * e0) + d1 * (log_lam + phi) - np.exp(log_lam + phi) * e1)
    joint = prior_density * lam * np.exp(log_like - log_like.max())        # d lambda = lambda d log lambda
    if np.isfinite(sd):
        joint = joint * stats.norm.pdf(phi, 0, sd)
    over_phi = integrate.trapezoid(joint, log_lam[:, 0], axis=0)
    half = phi.size // 2 + 1                                                 # phi[half - 1] == 0
    return float(integrate.trapezoid(over_phi[:half], phi[0, :half]) / integrate.trapezoid(over_phi, phi[0]))


@pytest.mark.parametrize("d0, e0, d1, e1, sd", [(12, 300.0, 8, 310.0, np.inf), (12, 300.0, 8, 310.0, 0.5),
                                                (3, 80.0, 9, 120.0, np.inf), (40, 500.0, 25, 520.0, np.inf)])
def test_posterior_probability_equals_numerical_integration(d0, e0, d1, e1, sd):
    got = prob_hazard_ratio_below(ONE_PIECE, [[d0]], [[e0]], [[d1]], [[e1]], log_hr_prior_sd=sd)[0]
    assert got == pytest.approx(_by_double_integral(ONE_PIECE, d0, e0, d1, e1, sd), abs=1e-5)


def test_a_vague_prior_agrees_with_the_cox_rule_under_proportional_hazards():
    rng = np.random.default_rng(3)
    n_trials, n = 300, 240
    arm = np.tile(np.repeat([0, 1], n // 2), (n_trials, 1))
    hazard = 0.05 * np.where(arm == 1, 0.75, 1.0)
    t = rng.exponential(1 / hazard)
    censor = rng.uniform(6, 60, t.shape)
    time, event = np.minimum(t, censor), t <= censor
    cx = analyses.cox_two_arm(time, event, arm)
    cox = analyses.bayes_prob_benefit(cx.log_hr, cx.se)
    edges = [0, 3, 6, 12, 24, 60]
    vague = robustify_hazards(GammaMixture([1.0], [[1.0] * 5], [[20.0] * 5], edges), 0.0, vague_events=0.05)
    pwe = prob_hazard_ratio_below(vague, *analyses.piecewise_counts(time, event, arm, None, edges))
    # two valid analyses of the same data (five baseline hazards against Cox's partial likelihood
    # with its Wald approximation): close, not equal; an error of sign or arm would be far off
    assert np.abs(pwe - cox).max() < 0.08 and np.abs(pwe - cox).mean() < 0.01
    assert ((pwe >= 0.975) == (cox >= 0.975)).mean() > 0.97


def test_conflict_p_value_equals_monte_carlo_prior_predictive():
    prior = GammaMixture([0.5, 0.5], [[20.0, 10.0], [8.0, 4.0]], [[400.0, 500.0], [100.0, 150.0]], [0, 6, 24])
    d, e = np.array([[15.0, 3.0], [30.0, 2.0], [5.0, 1.0]]), np.array([[200.0, 150.0], [200.0, 150.0],
                                                                        [200.0, 150.0]])
    got = hazard_conflict_p_value(prior, d, e, 60)
    rng = np.random.default_rng(1)
    n = 400_000
    first = rng.random(n) < 0.5
    lam = np.where(first[:, None], rng.gamma(prior.shape[0], 1 / prior.rate[0], (n, 2)),
                   rng.gamma(prior.shape[1], 1 / prior.rate[1], (n, 2)))
    pmf = np.bincount(rng.poisson(lam * e[0]).sum(1), minlength=200) / n
    for row, total in enumerate(d.sum(1).astype(int)):
        expected = pmf[pmf <= pmf[total] * (1 + 1e-9)].sum()
        assert got[row] == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n) + 1e-4)
    assert got[1] < 0.05 < got[0]                     # 32 events where about 18 are expected: conflict


def test_fitted_mixture_matches_the_draws_and_removes_monte_carlo_noise():
    rng = np.random.default_rng(2)
    true = np.exp(rng.multivariate_normal(np.log([0.05, 0.02, 0.01]), 0.04 * np.array(
        [[1, 0.5, 0.3], [0.5, 1, 0.5], [0.3, 0.5, 1]]), 4000))
    edges = [0, 6, 12, 24]
    fit = fit_gamma_mixture(true, edges)
    assert np.allclose(fit.mean(), true.mean(0), rtol=1e-6) and np.allclose(fit.var(), true.var(0), rtol=1e-6)
    exposure = np.array([400.0, 600.0, 1000.0])        # each draw estimated from simulated events
    events = rng.poisson(true * exposure)
    noisy = np.maximum(events, 0.5) / exposure
    corrected = fit_gamma_mixture(noisy, edges, noise_var=np.maximum(events, 0.5) / exposure ** 2)
    naive = fit_gamma_mixture(noisy, edges)
    assert np.all(naive.var() > 1.3 * true.var(0))
    assert np.allclose(corrected.var(), true.var(0), rtol=0.15)


def test_robust_mixture_weights_and_the_vague_component():
    prior = GammaMixture([1.0], [[40.0, 20.0]], [[400.0, 1000.0]], [0, 6, 24])
    assert prior.ess() == pytest.approx(60.0)
    vague = robustify_hazards(prior, 0.0, vague_events=2.0)
    assert vague.ess() == pytest.approx(2.0) and np.allclose(vague.mean(), prior.mean())
    half = robustify_hazards(prior, 0.5)
    assert np.allclose(half.weights, [0.5, 0.5]) and np.allclose(half.mean(), prior.mean())
    assert robustify_hazards(prior, 1.0) is prior
    assert "ESS" in str(half) and "6-24 mo" in str(half)


def test_piecewise_counts_equal_a_patient_by_patient_sum():
    rng = np.random.default_rng(0)
    time, event = rng.uniform(0, 40, (4, 30)), rng.random((4, 30)) < 0.6
    arm, mask = rng.integers(0, 2, (4, 30)), rng.random((4, 30)) < 0.9
    edges = [0, 3, 12, 30]
    c = analyses.piecewise_counts(time, event, arm, mask, edges)
    for t in range(4):
        for k in range(3):
            lo, hi = edges[k], edges[k + 1]
            for a, ev, ex in ((0, c.events0, c.exposure0), (1, c.events1, c.exposure1)):
                on = mask[t] & (arm[t] == a)
                assert ev[t, k] == np.sum(on & event[t] & (time[t] >= lo) & (time[t] < hi))
                assert ex[t, k] == pytest.approx(np.sum(on * np.clip(time[t] - lo, 0, hi - lo)))


@pytest.mark.parametrize("call, message", [
    (lambda: GammaMixture([1.0], [[1.0]], [[1.0]], [1, 2]), "must start at 0"),
    (lambda: GammaMixture([1.0], [[1.0, 2.0]], [[1.0]], [0, 2]), "shape and rate must be"),
    (lambda: GammaMixture([1.0], [[-1.0]], [[1.0]], [0, 2]), "greater than 0"),
    (lambda: robustify_hazards(ONE_PIECE, 1.2), "weight"),
    (lambda: fit_gamma_mixture([[0.1, 0.0], [0.2, 0.1]], [0, 1, 2]), "greater than 0"),
    (lambda: prob_hazard_ratio_below(ONE_PIECE, [[1, 2]], [[1.0, 1.0]], [[1, 2]], [[1.0, 1.0]]), "pieces"),
])
def test_bad_input_is_one_clear_error(call, message):
    with pytest.raises(InputError, match=message):
        call()

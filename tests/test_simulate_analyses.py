"""Vectorised trial analyses agree with lifelines trial by trial and have the right error rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import restricted_mean_survival_time
from scipy import integrate, stats

from relapse_model.simulate import mechanics
from relapse_model.simulate.analyses import (
    bayes_prob_benefit,
    cox_two_arm,
    logrank,
    rmst_difference,
)

# lifelines' Newton-Raphson otherwise stops up to ~1e-8 short of the maximum.
TIGHT = {"precision": 1e-20, "r_precision": 0.0, "max_steps": 100}


def small_trials(seed: int, ties: bool, n_trials: int = 20, n_patients: int = 60):
    """Small trials with censoring, optional tied (whole-month) times and a random enrolment mask."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, (n_trials, n_patients))
    event_time = rng.exponential(np.where(arm == 1, 14.0, 10.0))
    censor = rng.uniform(0, 30, (n_trials, n_patients))
    time = np.minimum(event_time, censor)
    if ties:
        time = np.ceil(time)
    event = event_time <= censor
    mask = rng.random((n_trials, n_patients)) < 0.8
    time_masked = np.where(mask, time, np.nan)  # excluded patients' times must not matter
    return time_masked, event, arm, mask


def included(i, time, event, arm, mask):
    keep = mask[i]
    return time[i][keep], event[i][keep], arm[i][keep]


def naive_logrank(t, e, a):
    """O - E and V in arm 1 straight from the definition, one distinct event time at a time."""
    o_e = v = 0.0
    for s in np.unique(t[e]):
        at_risk = t >= s
        n, n1 = at_risk.sum(), (at_risk & (a == 1)).sum()
        d, d1 = (e & (t == s)).sum(), (e & (t == s) & (a == 1)).sum()
        o_e += d1 - d * n1 / n
        if n > 1:
            v += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return o_e, v


def naive_rmst(t, e, tau):
    """KM area up to tau and the survRM2 variance, by a plain loop."""
    times = np.unique(t[e])
    times = times[times <= tau]
    surv, s = [], 1.0
    var_terms = []
    for u in times:
        n, d = (t >= u).sum(), (e & (t == u)).sum()
        s *= 1 - d / n
        surv.append(s)
        var_terms.append(0.0 if n == d else d / (n * (n - d)))
    knots = np.r_[0.0, times, tau]
    heights = np.r_[1.0, surv]
    areas = np.diff(knots) * heights
    tails = np.cumsum(areas[::-1])[::-1][1:]  # area from each event time to tau
    return areas.sum(), float(np.sum(tails**2 * np.array(var_terms)))


@pytest.mark.parametrize("ties", [False, True])
def test_logrank_equals_lifelines_and_definition(ties):
    time, event, arm, mask = small_trials(1, ties)
    res = logrank(time, event, arm, mask)
    for i in range(time.shape[0]):
        t, e, a = included(i, time, event, arm, mask)
        ref = logrank_test(t[a == 1], t[a == 0], e[a == 1], e[a == 0])
        assert res.chi2[i] == pytest.approx(ref.test_statistic, rel=1e-10, abs=1e-10)
        assert res.p_value[i] == pytest.approx(ref.p_value, rel=1e-8, abs=1e-12)
        o_e, v = naive_logrank(t, e, a)
        assert res.o_minus_e[i] == pytest.approx(o_e, abs=1e-10)
        assert res.variance[i] == pytest.approx(v, rel=1e-10)
    np.testing.assert_allclose(res.z, res.o_minus_e / np.sqrt(res.variance), rtol=1e-12)
    if ties:  # tied blocks really occur in this data
        assert any(np.unique(time[i][mask[i]]).size < mask[i].sum() for i in range(time.shape[0]))


def test_logrank_sign_negative_when_experimental_arm_does_better():
    rng = np.random.default_rng(2)
    arm = np.tile(np.arange(2), (50, 200))
    time = rng.exponential(np.where(arm == 1, 20.0, 10.0))
    res = logrank(time, np.ones_like(time, dtype=bool), arm)
    assert np.mean(res.z < 0) > 0.95


def test_masked_patients_are_ignored():
    time, event, arm, mask = small_trials(3, ties=True)
    full = logrank(time, event, arm, mask)
    # Reordering patients within a trial changes nothing.
    order = np.argsort(~mask, axis=1, kind="stable")
    packed = [np.take_along_axis(x, order, axis=1) for x in (time, event, arm, mask)]
    again = logrank(*packed)
    np.testing.assert_allclose(again.chi2, full.chi2, rtol=1e-12)
    time2 = np.where(mask, time, 1e6)  # garbage times of excluded patients change nothing
    np.testing.assert_allclose(logrank(time2, event, arm, mask).chi2, full.chi2, rtol=1e-12)


def test_undefined_trials_give_nan_without_warnings():
    t = np.array([[1.0, 2.0, 3.0, 4.0],  # no events
                  [1.0, 2.0, 3.0, 4.0],  # one arm only
                  [1.0, 2.0, 3.0, 4.0],  # nobody enrolled
                  [1.0, 2.0, 3.0, 4.0]])  # fine
    e = np.array([[0, 0, 0, 0], [1, 1, 0, 1], [1, 1, 1, 1], [1, 0, 1, 1]], dtype=bool)
    a = np.array([[0, 1, 0, 1], [1, 1, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0]])
    m = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    lr = logrank(t, e, a, m)  # filterwarnings = error: any RuntimeWarning fails the test
    assert np.isnan(lr.z[:3]).all() and np.isfinite(lr.z[3])
    np.testing.assert_array_equal(lr.variance[:3], 0.0)
    cox = cox_two_arm(t, e, a, m)
    assert np.isnan(cox.log_hr[:3]).all() and not cox.converged[:3].any()
    rm = rmst_difference(t, e, a, 3.5, m)
    assert np.isnan(rm.difference[1:3]).all() and np.isfinite(rm.difference[[0, 3]]).all()


def test_bad_inputs_raise():
    t = np.ones((2, 3))
    with pytest.raises(ValueError, match="arm"):
        logrank(t, t > 0, np.full((2, 3), 2))
    with pytest.raises(ValueError, match="finite"):
        logrank(-t, t > 0, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="shape"):
        logrank(t, t[:, :2] > 0, np.zeros((2, 3), int))


@pytest.mark.parametrize("ties", [False, True])
def test_cox_equals_lifelines_efron(ties):
    time, event, arm, mask = small_trials(4, ties)
    res = cox_two_arm(time, event, arm, mask)
    assert res.converged.all()
    for i in range(time.shape[0]):
        t, e, a = included(i, time, event, arm, mask)
        fit = CoxPHFitter().fit(pd.DataFrame({"t": t, "e": e, "arm": a}), "t", "e",
                                fit_options=TIGHT)
        assert res.log_hr[i] == pytest.approx(fit.params_["arm"], abs=1e-8)
        assert res.se[i] == pytest.approx(fit.standard_errors_["arm"], abs=1e-8)
        assert res.p_value[i] == pytest.approx(fit.summary.loc["arm", "p"], abs=1e-7)


def test_cox_breslow_ties():
    time, event, arm, mask = small_trials(9, ties=False)
    np.testing.assert_allclose(cox_two_arm(time, event, arm, mask, ties="breslow").log_hr,
                               cox_two_arm(time, event, arm, mask).log_hr, atol=1e-12)
    time, event, arm, mask = small_trials(9, ties=True)
    res = cox_two_arm(time, event, arm, mask, ties="breslow")
    efron = cox_two_arm(time, event, arm, mask)
    assert np.all(np.abs(res.log_hr - efron.log_hr) > 1e-6)  # the ties matter here
    for i in range(time.shape[0]):
        t, e, a = included(i, time, event, arm, mask)
        # Breslow score and information from the definition, at the returned estimate.
        r = np.exp(res.log_hr[i] * a)
        u = info = 0.0
        for s in np.unique(t[e]):
            at_risk, d = t >= s, (e & (t == s)).sum()
            p = (r * a)[at_risk].sum() / r[at_risk].sum()
            u += (e & (t == s) & (a == 1)).sum() - d * p
            info += d * p * (1 - p)
        assert abs(u) < 1e-9
        assert res.se[i] == pytest.approx(1 / np.sqrt(info), rel=1e-10)
    with pytest.raises(ValueError, match="ties"):
        cox_two_arm(time, event, arm, mask, ties="exact")


def test_cox_monotone_likelihood_is_nan():
    # Every arm-1 patient fails before any arm-0 patient: the MLE is +infinity.
    t = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    res = cox_two_arm(t, np.ones_like(t, dtype=bool), np.array([[1, 1, 1, 0, 0, 0]]))
    assert np.isnan(res.log_hr[0]) and not res.converged[0]


def test_rmst_equals_lifelines_and_survrm2_variance():
    time, event, arm, mask = small_trials(5, ties=True)
    tau = 18.0
    res = rmst_difference(time, event, arm, tau, mask)
    for i in range(time.shape[0]):
        t, e, a = included(i, time, event, arm, mask)
        values, variances = [], []
        for g in (0, 1):
            km = KaplanMeierFitter().fit(t[a == g], e[a == g])
            values.append(restricted_mean_survival_time(km, t=tau))
            area, var = naive_rmst(t[a == g], e[a == g], tau)
            assert area == pytest.approx(values[-1], abs=1e-10)
            variances.append(var)
        assert res.rmst_control[i] == pytest.approx(values[0], abs=1e-10)
        assert res.rmst_experimental[i] == pytest.approx(values[1], abs=1e-10)
        assert res.difference[i] == pytest.approx(values[1] - values[0], abs=1e-10)
        assert res.se[i] == pytest.approx(np.sqrt(sum(variances)), rel=1e-10)


def test_rmst_standard_error_matches_spread_over_trials():
    rng = np.random.default_rng(6)
    n_trials, n = 3000, 200
    arm = mechanics.allocate(rng, n_trials, n)
    event_time = mechanics.exponential_event_times(rng, arm, 12.0, 0.8)
    censor = rng.uniform(6.0, 36.0, (n_trials, n))
    res = rmst_difference(np.minimum(event_time, censor), event_time <= censor, arm, tau=24.0)
    # The SD of an SD estimate from 3000 draws is ~1.3%; allow 5%.
    assert np.mean(res.se) == pytest.approx(np.std(res.difference), rel=0.05)
    true = (12 / np.log(2)) * ((1 - np.exp(-24 * np.log(2) * 0.8 / 12)) / 0.8
                               - (1 - np.exp(-24 * np.log(2) / 12)))
    assert np.mean(res.difference) == pytest.approx(true, abs=3 * np.std(res.difference) / np.sqrt(n_trials))


def test_bayes_prob_benefit_against_numerical_posterior():
    log_hr, se, m0, s0 = -0.3, 0.15, 0.0, 0.2

    def post(x):
        return stats.norm.pdf(log_hr, x, se) * stats.norm.pdf(x, m0, s0)

    num = integrate.quad(post, -5, 0)[0] / integrate.quad(post, -5, 5)[0]
    assert bayes_prob_benefit(log_hr, se, m0, s0) == pytest.approx(num, abs=1e-9)
    # Flat prior: one minus the one-sided p-value.
    assert bayes_prob_benefit(log_hr, se) == pytest.approx(stats.norm.cdf(2.0), abs=1e-12)
    # Vectorised and NaN-transparent.
    out = bayes_prob_benefit(np.array([-0.3, np.nan]), np.array([0.15, 0.2]), 0.0, 0.2)
    assert out[0] == pytest.approx(num) and np.isnan(out[1])


def simulate_event_driven(seed: int, n_trials: int, n_patients: int, hr: float, events: int):
    rng = np.random.default_rng(seed)
    entry = mechanics.accrual_times(rng, n_trials, n_patients, 20.0)
    arm = mechanics.allocate(rng, n_trials, n_patients)
    event_time = mechanics.exponential_event_times(rng, arm, 12.0, hr)
    drop = mechanics.dropout_times(rng, (n_trials, n_patients), 0.005)
    data = mechanics.analysis_time_events(entry, event_time, drop, events)
    return data, arm


def test_type_one_error_under_the_null():
    n_trials, alpha = 4000, 0.05
    data, arm = simulate_event_driven(7, n_trials, 300, 1.0, 200)
    mc_se = np.sqrt(alpha * (1 - alpha) / n_trials)
    lr = logrank(data.time, data.event, arm, data.mask)
    assert abs(np.mean(lr.p_value < alpha) - alpha) < 3 * mc_se
    cox = cox_two_arm(data.time, data.event, arm, data.mask)
    assert cox.converged.all()
    assert abs(np.mean(cox.p_value < alpha) - alpha) < 3 * mc_se


def test_power_matches_schoenfeld():
    n_trials, hr, events = 4000, 0.7, 250
    data, arm = simulate_event_driven(8, n_trials, 400, hr, events)
    np.testing.assert_array_equal(data.event.sum(axis=1), events)
    lr = logrank(data.time, data.event, arm, data.mask)
    schoenfeld = stats.norm.cdf(abs(np.log(hr)) * np.sqrt(events) / 2 - stats.norm.isf(0.025))
    power = np.mean((lr.p_value < 0.05) & (lr.z < 0))
    assert abs(power - schoenfeld) < 3 * np.sqrt(schoenfeld * (1 - schoenfeld) / n_trials)

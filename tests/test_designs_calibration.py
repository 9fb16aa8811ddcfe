"""Posterior thresholds calibrated to a type-I error, and the type-I flag."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from relapse_model.designs import calibrate_posterior_threshold, exact_type1, flag_type1
from relapse_model.errors import InputError


@pytest.mark.parametrize("p0, n, alpha, prior", [(0.2, 40, 0.05, (1, 1)), (0.1, 25, 0.1, (0.1, 0.9)),
                                                 (0.35, 60, 0.025, (2, 3))])
def test_calibrated_rule_is_the_most_powerful_under_alpha(p0, n, alpha, prior):
    cal = calibrate_posterior_threshold(p0, n, alpha, prior=prior)
    c = cal.critical_responses
    # independent: exact binomial tail of the count rule
    assert cal.exact_type1 == pytest.approx(stats.binom.sf(c - 1, n, p0), abs=1e-12)
    assert cal.exact_type1 <= alpha < stats.binom.sf(c - 2, n, p0)
    # the threshold reproduces the rule, and anything below the interval breaks alpha
    assert exact_type1(p0, n, cal.threshold, prior) == pytest.approx(cal.exact_type1)
    lo, hi = cal.threshold_interval
    assert exact_type1(p0, n, (lo + hi) / 2, prior) == pytest.approx(cal.exact_type1)
    if lo > 0:
        assert exact_type1(p0, n, lo, prior) > alpha
    post = stats.beta.sf(p0, prior[0] + np.arange(n + 1), prior[1] + n - np.arange(n + 1))
    assert hi == pytest.approx(post[c])


def test_with_interim_futility_and_simulation():
    cal = calibrate_posterior_threshold(0.2, 40, 0.05, looks=[10, 20], futility=[1, 3],
                                        n_sim=40_000, seed=2026)
    assert cal.exact_type1 <= 0.05
    assert abs(cal.simulated_type1 - cal.exact_type1) < 4 * cal.mc_se
    assert cal.flagged is False
    no_looks = calibrate_posterior_threshold(0.2, 40, 0.05)
    # futility stops can only lower the type-I error of the same final rule
    assert cal.critical_responses <= no_looks.critical_responses
    assert all(len(line) <= 100 for line in str(cal).splitlines())
    assert cal.to_dict()["nominal_alpha"] == 0.05


def test_flag_type1():
    assert flag_type1(0.060, 0.004, 0.05) is True      # 2.5 SE above nominal
    assert flag_type1(0.057, 0.004, 0.05) is False     # 1.75 SE above
    assert flag_type1(0.040, 0.004, 0.05) is False
    assert flag_type1(0.75, 0.125, 0.5) is False       # exactly 2 SE (binary-exact) is not flagged


@pytest.mark.parametrize("call, message", [
    (lambda: calibrate_posterior_threshold(1.2, 40, 0.05), "p0 = 1.2"),
    (lambda: calibrate_posterior_threshold(0.2, 40, 0.0), "alpha = 0.0"),
    (lambda: calibrate_posterior_threshold(0.2, 40, 0.05, looks=[10]), "both looks and futility"),
    (lambda: calibrate_posterior_threshold(0.2, 40, 0.05, looks=[10, 50], futility=[1, 2]),
     "must be below n = 40"),
    (lambda: flag_type1(0.05, -0.01, 0.05), "mc_se = -0.01"),
    (lambda: flag_type1(float("nan"), 0.01, 0.05), "simulated = nan"),
])
def test_bad_input(call, message):
    with pytest.raises(InputError, match=message):
        call()

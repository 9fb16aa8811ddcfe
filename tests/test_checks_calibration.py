"""Calibration at a horizon, on outcomes drawn from hand-built parameters (no MCMC).

Tolerances are the fit's own standard errors: with 800 patients in 5 groups of 160, each
group's Kaplan-Meier risk has a Greenwood standard error of about 0.04, which with these
predicted risks (0.28 to 0.94) gives a slope standard error of about 0.1 and an intercept
standard error of about 0.06. Measured over 100 data seeds with the true parameters: |slope - 1|
and |intercept| stayed within 3.2 standard errors and the joint Wald chi-square (2 df) within
10.2; with the wrong parameters below the chi-square was never under 43.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.nonparametric import kaplan_meier_estimator

from relapse_model.checks.calibration import (
    calibration_slope_intercept,
    calibration_table,
    observed_risk,
)
from relapse_model.cohort.bundled import load_bundled
from relapse_model.models.design import build_design
from relapse_model.models.outcomes import simulate_outcomes
from relapse_model.models.predict import patient_curves
from relapse_model.report.figures import calibration_figure
from tests.model_helpers import competing_params

COVS = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd")
BETA = np.array([-1.5, -0.3, 1.0, -1.0])
RELAPSE_BETA = [0.3, 0.0, 0.0, 0.3]
TRUTH = competing_params(COVS, cure_intercept=0.3, cure_beta=BETA, relapse_beta=RELAPSE_BETA, n_studies=2)
# predicted risk too low for everyone (cure log-odds +1) / covariate effects 2.5 times too strong
TOO_OPTIMISTIC = competing_params(COVS, cure_intercept=1.3, cure_beta=BETA, relapse_beta=RELAPSE_BETA, n_studies=2)
OVERFITTED = competing_params(COVS, cure_intercept=0.3, cure_beta=2.5 * BETA, relapse_beta=RELAPSE_BETA, n_studies=2)
HORIZON = 24.0


@pytest.fixture(scope="module")
def cohort():
    design = build_design(load_bundled("cog_like").data, stemness=None, include_mrd=False, with_outcome=False)
    rng = np.random.default_rng(2024)
    sim = simulate_outcomes(TRUTH, design, rng, censor_months=rng.uniform(24, 96, design.n))
    return design, sim["time"], sim["cause"]


def _risk(params, design, kind: str) -> np.ndarray:
    c = patient_curves(params, design, np.array([HORIZON]))
    return 1.0 - c["event_free_survival"][0, :, 0] if kind == "efs" else c["relapse_incidence"][0, :, 0]


@pytest.mark.parametrize("kind", ["efs", "relapse"])
def test_true_predictions_are_calibrated(cohort, kind):
    design, time, cause = cohort
    table = calibration_table(_risk(TRUTH, design, kind), time, cause, HORIZON, n_groups=5, kind=kind)
    assert table["n"].tolist() == [160] * 5
    assert table["predicted"].is_monotonic_increasing
    fit = calibration_slope_intercept(table)
    assert fit.weights == "inverse_variance" and fit.n_groups == 5
    assert fit.slope_se < 0.15 and fit.intercept_se < 0.1          # the data can tell
    assert abs(fit.slope - 1.0) < 4 * fit.slope_se
    assert abs(fit.intercept) < 4 * fit.intercept_se
    assert fit.chi2 < 13.8                                          # joint p > 0.001


@pytest.mark.parametrize("kind", ["efs", "relapse"])
def test_wrong_predictions_are_not(cohort, kind):
    design, time, cause = cohort
    optimistic = calibration_slope_intercept(
        calibration_table(_risk(TOO_OPTIMISTIC, design, kind), time, cause, HORIZON, kind=kind))
    assert optimistic.chi2 > 30
    # everyone's risk under-predicted: the fitted line lies above the diagonal where the data are
    table = calibration_table(_risk(TOO_OPTIMISTIC, design, kind), time, cause, HORIZON, kind=kind)
    assert np.all(table["observed"] > table["predicted"])
    overfitted = calibration_slope_intercept(
        calibration_table(_risk(OVERFITTED, design, kind), time, cause, HORIZON, kind=kind))
    assert overfitted.chi2 > 30
    assert overfitted.slope < 1.0 - 2 * overfitted.slope_se       # predictions too spread out


def test_observed_risk_is_one_minus_kaplan_meier_with_greenwood_se(cohort):
    _, time, cause = cohort
    m = slice(0, 200)
    risk, se, lo, hi = observed_risk(time[m], cause[m], HORIZON, "efs")
    x, s = kaplan_meier_estimator(cause[m] > 0, time[m])
    i = np.searchsorted(x, HORIZON, side="right") - 1
    assert risk == pytest.approx(1.0 - s[i], abs=1e-12)
    # Greenwood, written out: Var S = S^2 sum d / (n (n - d)) over event times up to the horizon
    t, e = time[m], cause[m] > 0
    greenwood = sum(((t == u) & e).sum() / ((t >= u).sum() * ((t >= u).sum() - ((t == u) & e).sum()))
                    for u in np.unique(t[e & (t <= HORIZON)]))
    assert se == pytest.approx(s[i] * np.sqrt(greenwood), rel=1e-9)
    assert lo < risk < hi
    f, se_f, lo_f, hi_f = observed_risk(time[m], cause[m], HORIZON, "relapse")
    assert 0 < f < risk and se_f > 0 and lo_f < f < hi_f
    assert np.isnan(observed_risk(time[m], cause[m], 1000.0, "efs")[0])  # after follow-up: undefined
    # no competing death in the group: the relapse incidence is 1 - Kaplan-Meier
    no_death = cause[m] != 2
    assert observed_risk(time[m][no_death], cause[m][no_death], HORIZON, "relapse") == pytest.approx(
        observed_risk(time[m][no_death], cause[m][no_death], HORIZON, "efs"))


def test_weights_fall_back_to_group_size_when_a_group_has_no_spread():
    table = pd.DataFrame({"n": [50, 80, 100], "predicted": [0.1, 0.4, 0.7], "observed": [0.0, 0.42, 0.69],
                          "se": [0.0, 0.05, 0.04]})
    fit = calibration_slope_intercept(table)
    assert fit.weights == "n"
    w = np.array([50, 80, 100.0])
    slope, intercept = np.polyfit(table["predicted"], table["observed"], 1, w=np.sqrt(w))
    assert fit.slope == pytest.approx(slope) and fit.intercept == pytest.approx(intercept)


def test_calibration_figure_is_reproducible(cohort, tmp_path):
    design, time, cause = cohort
    table = calibration_table(_risk(TRUTH, design, "efs"), time, cause, HORIZON)
    a = calibration_figure(table, tmp_path / "a.png").read_bytes()
    b = calibration_figure(table, tmp_path / "b.png").read_bytes()
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and a == b

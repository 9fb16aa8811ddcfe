"""Predictive-accuracy wrappers: scikit-survival's numbers, the right orientation, no lost patients."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.utils import concordance_index
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.util import Surv

from relapse_model.checks.accuracy import (
    accuracy_metrics,
    censor_at_train_range,
    kfold_indices,
)
from relapse_model.cohort.bundled import load_bundled
from relapse_model.models.design import build_design
from relapse_model.models.outcomes import simulate_outcomes
from relapse_model.models.predict import patient_curves
from tests.model_helpers import competing_params

COVS = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd")
TRUTH = competing_params(COVS, cure_intercept=0.3, cure_beta=[-1.5, -0.3, 1.0, -1.0],
                         relapse_beta=[0.3, 0.0, 0.0, 0.3], n_studies=2)
TIMES = np.array([3.0, 6.0, 12.0, 24.0, 36.0, 60.0, 90.0, 120.0])


@pytest.fixture(scope="module")
def data():
    """cog_like covariates, outcomes drawn from TRUTH, and TRUTH's own EFS predictions."""
    design = build_design(load_bundled("cog_like").data, stemness=None, include_mrd=False, with_outcome=False)
    rng = np.random.default_rng(3)
    sim = simulate_outcomes(TRUTH, design, rng, censor_months=rng.uniform(24, 96, design.n))
    efs = patient_curves(TRUTH, design, TIMES)["event_free_survival"][0]
    y = Surv.from_arrays(event=sim["cause"] > 0, time=sim["time"], name_event="event", name_time="time")
    return y, sim["cause"], efs


def test_metrics_are_scikit_survivals_and_harrell_matches_lifelines(data):
    y, cause, efs = data
    train, test = kfold_indices(cause, k=4, seed=0)[0]
    risk = 1.0 - efs[test, TIMES.tolist().index(60.0)]
    acc = accuracy_metrics(y[train], y[test], risk, efs[test], TIMES)
    ytest = y[test]
    assert acc.n_test == len(test)
    used = np.isin(TIMES, acc.times)
    assert acc.harrell_c == concordance_index_censored(ytest["event"], ytest["time"], risk)[0]
    # an independent implementation, which scores survival times (higher is better): pass -risk
    assert acc.harrell_c == pytest.approx(concordance_index(ytest["time"], -risk, ytest["event"]), abs=1e-12)
    assert acc.uno_c == concordance_index_ipcw(y[train], ytest, risk, tau=acc.tau)[0]
    auc, mean_auc = cumulative_dynamic_auc(y[train], ytest, 1.0 - efs[test][:, used], acc.times)
    np.testing.assert_array_equal(acc.auc, auc)
    assert acc.mean_auc == mean_auc
    assert acc.integrated_brier == integrated_brier_score(y[train], ytest, efs[test][:, used], acc.times)
    # the true model ranks patients better than chance and predicts better than "everyone 50%"
    assert acc.harrell_c > 0.55 and acc.uno_c > 0.55 and acc.mean_auc > 0.55
    flat = accuracy_metrics(y[train], y[test], risk, np.full_like(efs[test], 0.5), TIMES)
    assert acc.integrated_brier < flat.integrated_brier


def test_orientation_reversing_the_risk_reverses_the_concordance(data):
    y, cause, efs = data
    train, test = kfold_indices(cause, k=4, seed=0)[1]
    risk = 1.0 - efs[test, -3]
    fwd = accuracy_metrics(y[train], y[test], risk, efs[test], TIMES)
    rev = accuracy_metrics(y[train], y[test], -risk, 1.0 - efs[test], TIMES)
    assert fwd.harrell_c + rev.harrell_c == pytest.approx(1.0, abs=1e-12)   # ties count 1/2 either way
    assert fwd.harrell_c > 0.55 > rev.harrell_c
    assert rev.mean_auc < 0.5


def test_follow_up_beyond_training_is_censored_and_counted_not_dropped():
    rng = np.random.default_rng(5)
    n = 300
    t = rng.exponential(40.0, n)
    c = rng.uniform(10.0, 100.0, n)
    y = Surv.from_arrays(event=t <= c, time=np.minimum(t, c), name_event="event", name_time="time")
    train, test = np.arange(0, 200), np.arange(200, n)
    limit = y["time"][train].max()
    # stretch three test patients' follow-up beyond the training range, keep the rest inside
    ytest = y[test].copy()
    ytest["time"] = np.minimum(ytest["time"], limit)
    ytest["time"][:3] = limit + np.array([1.0, 5.0, 20.0])
    ytest["event"][:3] = [True, False, True]
    risk = rng.normal(size=test.size)
    times = np.array([0.001, 10.0, 30.0, 60.0, 500.0])
    surv = np.clip(rng.uniform(0.2, 0.9, (test.size, times.size)), 0, 1)
    acc = accuracy_metrics(y[train], ytest, risk, surv, times)
    assert acc.n_test == test.size and acc.n_test_beyond_train == 3
    np.testing.assert_array_equal(acc.times_dropped, [0.001, 500.0])     # before the first event, after follow-up
    np.testing.assert_array_equal(acc.times, [10.0, 30.0, 60.0])
    cut, n_cut = censor_at_train_range(y[train], ytest)
    assert n_cut == 3 and np.all(cut["time"][:3] == limit) and not cut["event"][:3].any()
    np.testing.assert_array_equal(cut["time"][3:], ytest["time"][3:])
    # every test patient, including the three cut ones, is in the concordance
    assert acc.harrell_c == concordance_index_censored(cut["event"], cut["time"], risk)[0]
    assert acc.integrated_brier == integrated_brier_score(y[train], cut, surv[:, 1:4], acc.times)
    with pytest.raises(ValueError, match="survival_at"):
        accuracy_metrics(y[train], ytest, risk, surv[:, :2], times)


def test_kfold_indices_are_disjoint_complete_deterministic_and_stratified():
    rng = np.random.default_rng(0)
    cause = rng.choice([0, 1, 2], size=203, p=[0.3, 0.6, 0.1])
    folds = kfold_indices(cause, k=5, seed=11)
    assert len(folds) == 5
    tests = [te for _, te in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(cause.size))          # cover all, once
    for train, te in folds:
        assert np.intersect1d(train, te).size == 0 and train.size + te.size == cause.size
        for k in (0, 1, 2):
            expected = (cause == k).sum() / 5
            assert abs((cause[te] == k).sum() - expected) < 1.0                       # stratified
    again = kfold_indices(cause, k=5, seed=11)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = kfold_indices(cause, k=5, seed=12)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))
    with pytest.raises(ValueError, match="at least k patients"):
        kfold_indices(np.r_[np.zeros(20), np.ones(2)], k=5, seed=0)

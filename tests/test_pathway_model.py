"""PathwayModel: a small fit (one value of the pointwise log-likelihood per patient, LOO, prediction
from the posterior) and errors before fitting."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
from pathway_helpers import fake_cohort

from relapse_model.models.model import NotFittedError
from relapse_model.models.pathway.model import PathwayModel

N = 200


@pytest.fixture(scope="module")
def cohort():
    return fake_cohort(N, seed=11)


@pytest.fixture(scope="module")
def fitted(cohort):
    return PathwayModel().fit(cohort, draws=200, tune=200, chains=2, random_seed=2, progressbar=False)


def test_results_before_fit_name_the_method_to_call(cohort):
    model = PathwayModel()
    for call in (lambda: model.posterior, lambda: model.predict(cohort), lambda: model.simulate_paths(cohort),
                 lambda: model.transplant_effects(), lambda: model.check()):
        with pytest.raises(NotFittedError, match=r"call fit\(cohort\) first"):
            call()


def test_one_log_likelihood_term_per_patient_and_loo(fitted):
    print(fitted.check().to_string())
    ll = fitted.posterior["log_likelihood"]["pathway"]
    assert ll.shape == (2, 200, N)
    assert np.isfinite(ll.to_numpy()).all()
    with warnings.catch_warnings():
        # high Pareto k (short test chains) is counted below, as checks/loo.py reports it
        warnings.filterwarnings("ignore", message=".*shape parameter of Pareto.*")
        loo = az.loo(fitted.posterior, pointwise=True)
    k = np.asarray(loo.pareto_k).ravel()
    print(f"elpd_loo {float(loo.elpd):.1f}, p_loo {float(loo.p):.1f}, Pareto k > 0.7: {(k > 0.7).sum()} of {k.size}")
    assert np.isfinite(float(loo.elpd)) and k.size == N


def test_prediction_from_the_posterior(fitted, cohort):
    few = cohort.subset(np.arange(N) < 4)
    ds = fitted.predict(few, times=[0, 6, 12, 60], replicates=100, max_draws=50, seed=1)
    np.testing.assert_allclose(ds["state_occupation"].sel(estimate="mean").sum("state"), 1.0, atol=1e-12)
    assert ds.identical(fitted.predict(few, times=[0, 6, 12, 60], replicates=100, max_draws=50, seed=1))
    p = ds["response_probability"].sel(estimate="mean").sum("response")
    np.testing.assert_allclose(p, 1.0)
    paths = fitted.simulate_paths(few, replicates=3, max_draws=10, seed=0)
    assert paths.response.shape == (10, 4, 3)


@pytest.mark.slow
def test_fit_is_bit_reproducible_under_a_seed(fitted, cohort):
    again = PathwayModel().fit(cohort, draws=200, tune=200, chains=2, random_seed=2, progressbar=False)
    first, second = fitted.posterior["posterior"].to_dataset(), again.posterior["posterior"].to_dataset()
    for name in first.data_vars:                 # values, not attributes (sampling time differs)
        np.testing.assert_array_equal(first[name].to_numpy(), second[name].to_numpy(), err_msg=name)

"""Simulator and predictions: occupation probabilities, monotone curves, reproducibility."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
from pathway_helpers import fake_cohort, true_parameters

from relapse_model.models.design import build_design
from relapse_model.models.pathway.parameters import (
    PathwayParameters,
    patient_predictors,
)
from relapse_model.models.pathway.paths import EARLY_DEATH, REFRACTORY, RESPONSE
from relapse_model.models.pathway.predict import STATES, curves, summarise
from relapse_model.models.pathway.simulate import simulate_paths

TIMES = np.array([0.0, 1.0, 1.5, 3.0, 6.0, 12.0, 24.0, 60.0])


def draws(n_draws: int = 20, seed: int = 0) -> PathwayParameters:
    """True parameters jittered into ``n_draws`` draws (a stand-in posterior)."""
    rng = np.random.default_rng(seed)
    truth = true_parameters()
    changes = {f.name: getattr(truth, f.name).repeat(n_draws, axis=0) + rng.normal(0, 0.1, (n_draws,) + getattr(
        truth, f.name).shape[1:]) for f in fields(truth) if isinstance(getattr(truth, f.name), np.ndarray)}
    changes["weibull"] = {k: (a.repeat(n_draws) + rng.normal(0, 0.05, n_draws), b.repeat(n_draws))
                          for k, (a, b) in truth.weibull.items()}
    return replace(truth, **changes)


@pytest.fixture(scope="module")
def patients():
    cohort = fake_cohort(6, seed=1)
    return cohort, build_design(cohort.data, include_mrd=True, with_outcome=False)


def predictions(patients, seed=0):
    cohort, design = patients
    params = draws()
    paths = simulate_paths(params, design, np.full(design.n, 1.5), replicates=300, seed=seed)
    return summarise(curves(paths, patient_predictors(params, design), TIMES), list(cohort.data["patient_id"]),
                     TIMES)


def test_occupation_sums_to_one_and_curves_are_monotone(patients):
    ds = predictions(patients)
    occupation = ds["state_occupation"].sel(estimate="mean")
    np.testing.assert_allclose(occupation.sum("state"), 1.0, atol=1e-12)
    for name in ("state_occupation", "hsct_probability", "event_free_survival", "overall_survival"):
        values = ds[name].to_numpy()
        assert (values >= 0).all() and (values <= 1).all(), name
    for name in ("event_free_survival", "overall_survival"):
        assert (np.diff(ds[name].sel(estimate="mean").to_numpy(), axis=-1) <= 1e-12).all(), name
    assert (np.diff(ds["hsct_probability"].sel(estimate="mean").to_numpy(), axis=-1) >= -1e-12).all()
    assert (ds["event_free_survival"] <= ds["overall_survival"] + 1e-12).all()
    assert list(ds["state"].to_numpy()) == list(STATES)
    first = occupation.sel(time=0.0)
    np.testing.assert_allclose(first.sel(state="reinduction"), 1.0)


def test_predictions_are_reproducible_under_a_seed(patients):
    a, b, c = predictions(patients, 4), predictions(patients, 4), predictions(patients, 5)
    assert a.identical(b)
    assert not a.identical(c)


def test_simulated_response_frequencies_match_the_softmax(patients):
    cohort, design = patients
    params = draws(5)
    paths = simulate_paths(params, design, np.full(design.n, 1.5), replicates=4000, seed=2)
    exact = curves(paths, patient_predictors(params, design), TIMES[:1]).response
    for code, k in ((RESPONSE, 0), (REFRACTORY, 1), (EARLY_DEATH, 2)):
        np.testing.assert_allclose((paths.response == code).mean(axis=2), exact[..., k], atol=0.035)


def test_simulated_paths_are_consistent():
    cohort = fake_cohort(300, seed=9)
    design = build_design(cohort.data, include_mrd=True, with_outcome=False)
    paths = simulate_paths(draws(3), design, np.full(design.n, 1.5), replicates=20, seed=3)
    a = paths.assessment
    responder = paths.response == RESPONSE
    assert (paths.transplant[np.isfinite(paths.transplant)] >= a[np.isfinite(paths.transplant)]).all()
    assert np.isnan(paths.relapse[~responder]).all()                     # refractory is not a relapse
    dies = np.isfinite(paths.death)
    transplanted = np.isfinite(paths.transplant) & dies
    assert (paths.death[transplanted] >= paths.transplant[transplanted]).all()
    both = np.isfinite(paths.relapse) & dies
    assert (paths.death[both] >= paths.relapse[both]).all()
    early = paths.response == EARLY_DEATH
    assert (paths.death[early] <= a[early]).all() and np.isnan(paths.transplant[early]).all()
    assert not paths.cured[~responder].any()

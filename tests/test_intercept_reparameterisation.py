"""The intercept and study effects drawn in decorrelated coordinates: the same prior, the data's
level independent of the free intercept coordinate, and the fitted model still compiled through
the cached path."""

from __future__ import annotations

import numpy as np
import pymc as pm

from relapse_model.cohort.bundled import load_bundled
from relapse_model.models import RelapseModel
from relapse_model.models.hierarchy import intercept_and_study_z


def _standard_draws(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n, k))
    return rng.normal(size=n), rng.normal(size=n), raw - raw.mean(axis=1, keepdims=True)


def test_the_map_gives_the_prior_exactly():
    mu, sigma, k, n = -0.4, 0.8, 3, 400_000
    level, u, deviation = _standard_draws(n, k, seed=5)
    study_sd = np.abs(np.random.default_rng(6).normal(0, 0.6, n))
    intercept, z = intercept_and_study_z(mu, sigma, study_sd, level, u, deviation)
    # intercept ~ N(mu, sigma^2), z ~ N(0, I), all uncorrelated, whatever study_sd
    draws = np.column_stack([(intercept - mu) / sigma, z])
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(np.cov(draws.T), np.eye(k + 1), atol=0.01)
    # the exact linear map: the same for one fixed study_sd
    i1, z1 = intercept_and_study_z(mu, sigma, 0.5, 0.3, -1.2, np.array([0.4, -0.1, -0.3]))
    v = sigma ** 2 + 0.25 / k
    assert np.isclose(i1, mu + (sigma ** 2 * 0.3 + sigma * 0.5 * -1.2 / np.sqrt(k)) / np.sqrt(v))
    assert np.isclose(z1.sum(), k * (0.5 * 0.3 / np.sqrt(k) - sigma * -1.2) / np.sqrt(k * v))


def test_the_level_the_data_see_does_not_move_with_the_intercept_coordinate():
    deviation = np.array([0.5, -0.5])
    levels = []
    for u in (-2.0, 0.0, 3.0):
        intercept, z = intercept_and_study_z(0.0, 1.0, 0.7, 0.4, u, deviation)
        levels.append(intercept + 0.7 * z)
    np.testing.assert_allclose(levels[0], levels[1], rtol=1e-12)
    np.testing.assert_allclose(levels[2], levels[1], rtol=1e-12)


def test_model_prior_of_the_recorded_intercept_and_study_effects():
    cohort = load_bundled("cog_like")
    model = RelapseModel()
    pm_model = model.build(cohort)
    free = {v.name for v in pm_model.free_RVs}
    assert {"cure_level_z", "cure_intercept_u", "cure_study_deviation_z"} <= free
    assert "cure_intercept_z" not in free and "cure_study_z" not in free
    prior = pm.sample_prior_predictive(draws=4000, model=pm_model, random_seed=3,
                                       var_names=["cure_intercept", "cure_study_z", "cure_study_sd"])
    p = model.priors["cure", "intercept"].params
    intercept = prior["prior"]["cure_intercept"].values.ravel()
    z = prior["prior"]["cure_study_z"].values.reshape(-1, 2)
    assert abs(intercept.mean() - p["mu"]) < 0.06 and abs(intercept.std() - p["sigma"]) < 0.05
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.05)
    assert abs(np.corrcoef(intercept, z[:, 0])[0, 1]) < 0.05


def test_the_default_model_compiles_without_shared_variables():
    # a shared variable (a dims length) would send nutpie down its uncached compile path
    from relapse_model.models.nutpie_numba import compile_for_nutpie
    pm_model = RelapseModel().build(load_bundled("cog_like"))
    assert compile_for_nutpie(pm_model).shared_data == {}

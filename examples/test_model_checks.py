"""An example model-check test file for your own project: copy it, point it at your cohort.

Run with ``pytest examples/test_model_checks.py``. Uses a small fixed-seed fit so it runs in
about a minute; use more draws (and the ``slow`` marker) for the checks you publish with.
"""

from __future__ import annotations

import numpy as np
import pytest

from relapse_model.cohort.bundled import load_bundled   # your own: relapse_model.load_cohort("my.csv")
from relapse_model.models import RelapseModel
from relapse_model.testing import assert_reproducible, assert_survival_curves_valid


@pytest.fixture(scope="module")
def cohort():
    return load_bundled("bfm_like")


def _fit(cohort, seed: int) -> RelapseModel:
    return RelapseModel().fit(cohort, draws=50, tune=50, chains=2, random_seed=seed, progressbar=False)


def test_fit_is_reproducible_under_a_seed(cohort):
    assert_reproducible(lambda seed: _fit(cohort, seed), seed=7, other_seed=8)


def test_predicted_curves_are_valid(cohort):
    model = _fit(cohort, 7)
    assert_survival_curves_valid(model.predict(cohort, horizons=np.arange(3.0, 121.0, 3.0)))
    assert_survival_curves_valid(model.survival_curves("risk_group"))

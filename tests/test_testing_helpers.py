"""The model-check helpers in relapse_model.testing pass good results and catch bad ones."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from relapse_model.testing import (
    assert_parameter_recovery,
    assert_reproducible,
    assert_survival_curves_valid,
)


def _curves(efs, rel, death):
    dims = ("patient", "horizon")
    return xr.Dataset({"event_free_survival": (dims, np.atleast_2d(efs)),
                       "relapse_incidence": (dims, np.atleast_2d(rel)),
                       "death_without_relapse": (dims, np.atleast_2d(death))},
                      coords={"horizon": [12.0, 36.0, 60.0]})


def test_valid_curves_pass():
    assert_survival_curves_valid(_curves([0.8, 0.6, 0.5], [0.15, 0.3, 0.38], [0.05, 0.1, 0.12]))


@pytest.mark.parametrize("efs, rel, death, words", [
    ([0.8, 0.9, 0.5], [0.15, 0.05, 0.38], [0.05, 0.05, 0.12], "event_free_survival rises"),
    ([1.2, 0.6, 0.5], [-0.25, 0.3, 0.38], [0.05, 0.1, 0.12], "outside [0, 1]"),
    ([0.8, 0.6, 0.5], [0.15, 0.3, 0.30], [0.05, 0.1, 0.12], "sum"),
    ([0.8, 0.6, 0.5], [0.25, 0.3, 0.38], [0.05, 0.1, 0.12], "sum"),
])
def test_invalid_curves_fail(efs, rel, death, words):
    with pytest.raises(AssertionError, match=words.replace("[", r"\[").replace("]", r"\]")):
        assert_survival_curves_valid(_curves(efs, rel, death))


def test_reproducible_passes_a_seeded_function_and_catches_an_unseeded_one():
    assert_reproducible(lambda s: np.random.default_rng(s).normal(size=5), seed=3, other_seed=4)
    state = np.random.default_rng(0)
    with pytest.raises(AssertionError, match="differs between two runs"):
        assert_reproducible(lambda s: state.normal(size=5), seed=3)
    with pytest.raises(AssertionError, match="is the seed used"):
        assert_reproducible(lambda s: np.ones(3), seed=3, other_seed=4)


def test_recovery_passes_truth_and_fails_a_wrong_value():
    rng = np.random.default_rng(1)
    draws = {"a": rng.normal(0.5, 0.1, 4000), "b": rng.normal([1.0, -1.0], 0.2, (4000, 2))}
    assert_parameter_recovery(draws, {"a": 0.52, "b": [0.9, -1.1]})
    with pytest.raises(AssertionError, match=r"b\[1\]"):
        assert_parameter_recovery(draws, {"a": 0.52, "b": [0.9, 0.5]})
    assert_parameter_recovery(draws, {"a": 0.52, "b": [0.9, -1.1]}, outer_z=3.9)
    with pytest.raises(AssertionError, match=r"outside 3.9 posterior SDs of the mean: b\[1\] \(z = [+-]\d"):
        assert_parameter_recovery(draws, {"a": 0.52, "b": [0.9, 0.5]}, outer_z=3.9)

"""Pathway checks on fake cohorts drawn from known parameters: with the true parameters the
response, EFS and landmark predictions are calibrated; with wrong ones the checks show it."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from pathway_helpers import fake_cohort, true_parameters

from relapse_model.checks.pathway_checks import (
    PathwayCheckSpec,
    efs_calibration,
    landmark_calibration,
    response_calibration,
)
from relapse_model.models.design import build_design
from relapse_model.models.pathway.model import PathwayModel

N = 3000


class KnownParameters(PathwayModel):
    """A pathway model whose 'posterior' is one known parameter draw (no MCMC)."""

    def __init__(self, params):
        super().__init__()
        self._params = params

    @property
    def posterior(self):
        return xr.DataTree()

    def parameters(self, max_draws=None):
        return self._params

    def design(self, cohort):
        return build_design(cohort.data, stemness="lsc17", include_mrd=True, with_outcome=False)


@pytest.fixture(scope="module")
def cohort():
    return fake_cohort(N, seed=21)


SPEC = PathwayCheckSpec(replicates=100, landmark=6.0, landmark_horizons=(24.0, 60.0))


def _z(table):
    """Standardised differences, observed minus predicted, with the interval as +-1.96 SE."""
    se = (table["upper"] - table["lower"]) / (2 * 1.96)
    return ((table["observed"] - table["predicted"]) / np.maximum(se, 1e-3)).to_numpy()


def test_true_parameters_give_calibrated_response_and_wrong_ones_do_not(cohort):
    table = response_calibration(KnownParameters(true_parameters()), cohort)
    assert table["n"].sum() + table.attrs["unassessed"] == N
    assert np.abs(_z(table)).max() < 3.0, table
    wrong = response_calibration(KnownParameters(true_parameters(refractory_intercept=-0.7)), cohort)
    assert np.abs(_z(wrong)).max() > 4.0, wrong


def test_true_parameters_give_calibrated_landmark_predictions_by_transplant_status(cohort):
    table = landmark_calibration(KnownParameters(true_parameters()), cohort, SPEC)
    assert {"transplanted", "relapsed_refractory"} <= set(table["state"])
    assert np.abs(_z(table)).max() < 3.5, table
    os_60 = table[(table.quantity == "os") & (table.horizon == 60.0)].set_index("state")["observed"]
    assert os_60["transplanted"] > os_60["relapsed_refractory"] + 0.3
    # without the transplant's cure effect the transplanted patients' predictions are too low
    wrong = landmark_calibration(KnownParameters(true_parameters(transplant_cure_shift=0.0)), cohort, SPEC)
    z = _z(wrong[wrong.state == "transplanted"])
    assert z.max() > 4.0, wrong


def test_true_parameters_give_calibrated_efs(cohort):
    tables = efs_calibration(KnownParameters(true_parameters()), cohort, SPEC)
    assert list(tables) == ["efs_12m", "efs_36m", "efs_60m"]
    for key, table in tables.items():
        assert np.abs(_z(table)).max() < 3.5, (key, table)
        assert table["n"].sum() == N
    wrong = efs_calibration(KnownParameters(true_parameters(remission_cure_intercept=-1.5)), cohort, SPEC)
    assert np.abs(_z(wrong["efs_60m"])).max() > 4.0

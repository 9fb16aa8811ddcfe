"""Saved fits are verified on load: any edit, damage or removal is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from relapse_model.errors import InputError
from relapse_model.models import RelapseModel


@pytest.fixture(scope="module")
def saved(small_fit, tmp_path_factory):
    return small_fit.save(tmp_path_factory.mktemp("fit") / "fit.nc")


def _tampered(saved, tmp_path, edit) -> object:
    tree = xr.open_datatree(saved, engine="h5netcdf").load()
    edit(tree)
    path = tmp_path / "tampered.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    return path


def test_a_saved_fit_loads_back_identically(saved, small_fit):
    loaded = RelapseModel.load(saved)
    xr.testing.assert_identical(loaded.posterior["posterior"].to_dataset(),
                                small_fit.posterior["posterior"].to_dataset())


def _shift_intercept(tree):
    post = tree["posterior"].to_dataset()
    tree["posterior"] = xr.DataTree(post.assign(cure_intercept=post["cure_intercept"] + 3))


def _nan_draw(tree):
    post = tree["posterior"].to_dataset()
    values = post["cure_intercept"].values.copy()
    values[0, 0] = np.nan
    tree["posterior"] = xr.DataTree(post.assign(cure_intercept=(post["cure_intercept"].dims, values)))


def _drop_variable(tree):
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().drop_vars("relapse_log_shape"))


def _drop_group(tree):
    del tree["log_likelihood"]


def _edit_attribute(key, value):
    def edit(tree):
        tree.attrs[key] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_shift_intercept, "does not match its hash"),
    (_edit_attribute("standardisation", '{"age_centre": 12.0, "score_mean": {}, "score_sd": {}}'), "does not match its hash"),
    (_edit_attribute("studies", '["S1"]'), "does not match its hash"),
    (_drop_variable, "does not match its hash"),
    (_drop_group, "group\\(s\\) log_likelihood missing"),
], ids=["draws", "standardisation", "studies", "variable", "group"])
def test_edits_are_refused_in_one_line(saved, tmp_path, edit, message):
    with pytest.raises(InputError, match=message) as info:
        RelapseModel.load(_tampered(saved, tmp_path, edit))
    assert len(str(info.value).splitlines()) == 1


def test_non_finite_draws_are_refused_even_with_a_matching_hash(saved, tmp_path):
    from relapse_model.models import fit_file

    def edit(tree):
        _nan_draw(tree)
        fit_file.stamp(tree)         # a writer that re-stamped the hash after damaging a draw
    with pytest.raises(InputError, match="'cure_intercept' holds non-finite draws"):
        RelapseModel.load(_tampered(saved, tmp_path, edit))


@pytest.mark.parametrize("where", [0.3, 0.5, 0.7, 0.9])
def test_flipped_bytes_are_refused_or_change_nothing(saved, small_fit, tmp_path, where):
    data = bytearray(saved.read_bytes())
    at = int(len(data) * where)
    data[at:at + 64] = bytes(255 - b for b in data[at:at + 64])
    path = tmp_path / "flipped.nc"
    path.write_bytes(bytes(data))
    try:
        loaded = RelapseModel.load(path)
    except InputError as exc:
        assert len(str(exc).splitlines()) == 1
    else:  # the bytes were unused space in the HDF5 file: what loads must be the fit itself
        xr.testing.assert_identical(loaded.posterior["posterior"].to_dataset(),
                                    small_fit.posterior["posterior"].to_dataset())


def test_a_loaded_fit_groups_curves_by_a_column_of_its_recorded_cohort(saved, small_fit):
    """RelapseModel.load(path) without cohort= reads the cohort file the fit recorded (checked
    against the fit's data hash), so survival_curves("risk_group") works as after fit()."""
    loaded = RelapseModel.load(saved)
    curves = loaded.survival_curves("risk_group", times=[12, 36], max_draws=50)
    expected = small_fit.survival_curves("risk_group", times=[12, 36], max_draws=50)
    assert list(curves["group"].values) == ["adverse", "favourable", "intermediate", "unknown"]
    xr.testing.assert_allclose(curves, expected)
    with pytest.raises(InputError, match="'no_such_column' is not a column of the fitted cohort"):
        loaded.survival_curves("no_such_column")


def test_a_loaded_fit_whose_cohort_file_is_gone_says_to_pass_the_cohort(saved, tmp_path):
    from relapse_model.models.fit_file import write_fit
    from relapse_model.models.model import NotFittedError

    tree = xr.open_datatree(saved, engine="h5netcdf").load()
    tree.attrs["cohort_source"] = str(tmp_path / "my_cohort.csv")      # a file moved away since the fit
    path = write_fit(tree, tmp_path / "fit.nc")
    with pytest.raises(NotFittedError, match=r"my_cohort.csv is not there: load the fit with "
                                             r"RelapseModel.load\(path, cohort=...\)"):
        RelapseModel.load(path).survival_curves("risk_group")

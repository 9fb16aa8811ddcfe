"""Endpoints agree with lifelines and scikit-survival estimators on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from sksurv.nonparametric import (
    cumulative_incidence_competing_risks,
    kaplan_meier_estimator,
)

from relapse_model.cohort import load_cohort
from relapse_model.cohort.bundled import load_bundled
from relapse_model.cohort.cohort import Cohort
from tests.conftest import valid_rows


def test_endpoints_of_hand_made_rows():
    cohort = Cohort.from_frame(pd.DataFrame(valid_rows()))
    os_ = cohort.survival("os")
    efs = cohort.survival("efs")
    time, cause = cohort.competing_risks()
    assert os_["time"].tolist() == [40.0, 11.0, 3.0, 30.0]
    assert os_["event"].tolist() == [False, True, True, False]
    assert efs["time"].tolist() == [40.0, 6.0, 3.0, 9.5]
    assert efs["event"].tolist() == [False, True, True, True]
    assert time.tolist() == [40.0, 6.0, 3.0, 9.5]
    assert cause.tolist() == [0, 1, 2, 1]


def test_unknown_endpoint():
    with pytest.raises(ValueError, match="os, efs"):
        Cohort.from_frame(pd.DataFrame(valid_rows())).survival("pfs")


@pytest.mark.parametrize("endpoint", ["os", "efs"])
def test_kaplan_meier_equals_lifelines(endpoint):
    y = load_bundled("cog_like").survival(endpoint)
    times, surv = kaplan_meier_estimator(y["event"], y["time"])
    kmf = KaplanMeierFitter().fit(y["time"], y["event"])
    np.testing.assert_allclose(surv, kmf.survival_function_at_times(times).to_numpy(), atol=1e-12)
    assert np.all((surv >= 0) & (surv <= 1)) and np.all(np.diff(surv) <= 0)


def test_cumulative_incidences_plus_efs_sum_to_one_and_match_lifelines():
    cohort = load_bundled("cog_like")
    time, cause = cohort.competing_risks()
    t, cif = cumulative_incidence_competing_risks(cause, time)
    efs = cohort.survival("efs")
    t_km, s_km = kaplan_meier_estimator(efs["event"], efs["time"])
    s_at_t = np.interp(t, t_km, s_km, left=1.0)  # both step at the same event times
    np.testing.assert_allclose(cif[1] + cif[2] + s_at_t, 1.0, atol=1e-10)
    # lifelines' Aalen-Johansen jitters tied times; compare at the last time instead
    with pytest.warns(Warning, match="Tied event times"):
        aj = AalenJohansenFitter(calculate_variance=False, seed=0).fit(time, cause, event_of_interest=1)
    assert aj.cumulative_density_.iloc[-1, 0] == pytest.approx(cif[1][-1], abs=5e-3)


def test_parquet_and_csv_load_identically(tmp_path):
    from tests.conftest import COHORTS
    frame = pd.read_csv(COHORTS / "bfm_like.csv")
    frame.to_parquet(tmp_path / "bfm.parquet")
    a = load_cohort(COHORTS / "bfm_like.csv").data
    b = load_cohort(tmp_path / "bfm.parquet").data
    pd.testing.assert_frame_equal(a, b)


def test_aliases_are_normalised_and_extra_columns_kept():
    rows = valid_rows()
    rows[0].update(cytogenetics="RUNX1::RUNX1T1", hsct_cr1="No", mrd_method="MFC", extra="keep me")
    rows[1].update(cytogenetics="-7", hsct_cr1="YES")
    rows[2].update(cytogenetics="")
    cohort = Cohort.from_frame(pd.DataFrame(rows))
    d = cohort.data
    assert d["cytogenetics"].tolist()[:3] == ["t8_21", "monosomy7", "unknown"]
    assert d["risk_group"].tolist()[:3] == ["favourable", "adverse", "unknown"]
    assert d["hsct_cr1"].tolist()[:2] == [False, True]
    assert cohort.extra_columns == ["extra"] and d["extra"][0] == "keep me"
    assert len(cohort) == len(rows)  # nothing dropped


def test_parquet_with_nullable_columns_keeps_missing_values_missing(tmp_path):
    frame = pd.DataFrame(valid_rows()).astype(str).replace("", None)
    frame["lsc17"] = pd.array([0.4, None, 0.7, None], dtype="Float64")   # nullable: pd.NA, not NaN
    frame["age_years"] = pd.array([8, 9, 10, 11], dtype="Int64")
    frame.to_parquet(tmp_path / "nullable.parquet")
    cohort = load_cohort(tmp_path / "nullable.parquet")
    assert cohort.data["lsc17"].isna().tolist() == [False, True, False, True]
    assert cohort.data["age_years"].tolist() == [8.0, 9.0, 10.0, 11.0]

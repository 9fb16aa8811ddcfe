"""Observed paths: reading rules and one-line messages for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relapse_model.cohort.cohort import Cohort
from relapse_model.errors import InputError
from relapse_model.models.pathway.paths import (
    CENSORED_BEFORE_ASSESSMENT,
    DEFAULT_ASSESSMENT_MONTHS,
    EARLY_DEATH,
    MRD_POSITIVE,
    MRD_UNKNOWN,
    REFRACTORY,
    RESPONSE,
    observed_paths,
)

BASE = dict(patient_id="A", study="s", age_years=10, months_diagnosis_to_relapse=20, cytogenetics="normal",
            hsct_cr1="no", cr2="yes", hsct_after_relapse="no", hsct_after_relapse_months="", second_relapse="no",
            second_relapse_months="", died="no", death_months="", followup_months=40)

TRANSPLANTED = dict(hsct_after_relapse="yes", hsct_after_relapse_months=4)


def frame(*changes: dict) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, "patient_id": f"P{i}", **c} for i, c in enumerate(changes)])


def cohort(*changes: dict) -> Cohort:
    return Cohort.from_frame(frame(*changes), "fake.csv")


def message(*changes: dict) -> str:
    with pytest.raises(InputError) as info:
        observed_paths(cohort(*changes))
    return str(info.value)


def test_reading_rules():
    paths = observed_paths(cohort(
        {},                                                                   # responder, censored
        dict(died="yes", death_months=0.5, followup_months="", cr2=""),        # early death
        dict(cr2="no", second_relapse="yes", second_relapse_months=1.2),       # refractory (recorded at 1.2)
        dict(cr2="", followup_months=1.0),                                    # censored before the assessment
        dict(mrd_status="positive", hsct_after_relapse="yes", hsct_after_relapse_months=4,
             response_assessment_months=1.0),
    ))
    assert paths.response.tolist() == [RESPONSE, EARLY_DEATH, REFRACTORY, CENSORED_BEFORE_ASSESSMENT, RESPONSE]
    assert paths.mrd.tolist() == [MRD_UNKNOWN, -1, -1, -1, MRD_POSITIVE]
    assert paths.assessment.tolist() == [DEFAULT_ASSESSMENT_MONTHS] * 4 + [1.0]
    assert np.isnan(paths.transplant[:4]).all() and paths.transplant[4] == 4.0
    assert paths.rows.tolist() == [2, 3, 4, 5, 6]


def test_transplant_after_death_or_follow_up_or_negative_is_refused_by_the_cohort():
    with pytest.raises(InputError, match=r"^fake.csv, row 3, column 'hsct_after_relapse_months': HSCT after death$"):
        cohort({}, dict(hsct_after_relapse="yes", hsct_after_relapse_months=5, died="yes", death_months=4,
                        followup_months=""))
    with pytest.raises(InputError, match=r"^fake.csv, row 2, column 'hsct_after_relapse_months': "
                                         r"HSCT after last follow-up$"):
        cohort(dict(hsct_after_relapse="yes", hsct_after_relapse_months=50))
    with pytest.raises(InputError, match=r"^fake.csv, row 2, column 'hsct_after_relapse_months': negative time"):
        cohort(dict(hsct_after_relapse="yes", hsct_after_relapse_months=-1))


def test_paths_check_transplant_times_also_when_the_cohort_was_not_validated():
    # a Cohort built directly (no validation) still cannot reach the model with impossible times
    data = cohort(dict(hsct_after_relapse="yes", hsct_after_relapse_months=5)).data.copy()
    data.loc[0, "hsct_after_relapse_months"] = 60.0
    with pytest.raises(InputError) as info:
        observed_paths(Cohort(data, "raw.csv"))
    assert str(info.value) == ("raw.csv, row 2, column 'hsct_after_relapse_months': "
                               "HSCT (60 months) after last follow-up (40 months)")
    data.loc[0, "hsct_after_relapse_months"] = -2.0
    with pytest.raises(InputError) as info:
        observed_paths(Cohort(data, "raw.parquet"))
    assert str(info.value) == ("raw.parquet, row 1, column 'hsct_after_relapse_months': "
                               "HSCT before first relapse (negative time -2 months)")


def test_transplant_before_the_assessment():
    assert message(dict(hsct_after_relapse="yes", hsct_after_relapse_months=1.0)) == (
        "fake.csv, row 2, column 'hsct_after_relapse_months': HSCT (1 months) before the response assessment "
        "(1.5 months)")


def test_transplanted_without_a_time():
    assert message(TRANSPLANTED, dict(hsct_after_relapse="yes")) == (
        "fake.csv, row 3, column 'hsct_after_relapse_months': HSCT after relapse is 'yes' but no time of HSCT given")


def test_assessment_after_an_event():
    assert message(dict(second_relapse="yes", second_relapse_months=1.0)) == (
        "fake.csv, row 2, column 'response_assessment_months': response assessment (1.5 months) after second "
        "relapse (1 months)")
    assert message(dict(died="yes", death_months=2.0, followup_months="", response_assessment_months=3)) == (
        "fake.csv, row 2, column 'response_assessment_months': response assessment (3 months) after death (2 months)")
    assert message(dict(followup_months=1.0)) == (
        "fake.csv, row 2, column 'response_assessment_months': response assessment (1.5 months) after last "
        "follow-up (1 months)")


def test_unknown_response_of_a_patient_followed_past_the_assessment():
    assert message({}, dict(cr2="")) == ("fake.csv, row 3, column 'cr2': response to re-induction not given (blank), "
                                     "needed by the pathway model")


def test_every_bad_row_is_reported():
    text = message(TRANSPLANTED, dict(hsct_after_relapse="yes"), dict(cr2=""))
    assert text.count("\n") == 1 and "row 3" in text and "row 4" in text


def test_cohort_without_the_pathway_columns():
    bare = frame({}).drop(columns=["cr2", "hsct_after_relapse", "hsct_after_relapse_months"])
    with pytest.raises(InputError) as info:
        observed_paths(Cohort.from_frame(bare, "bare.csv"))
    assert str(info.value) == (
        "bare.csv: the pathway model needs column(s) cr2, hsct_after_relapse, hsct_after_relapse_months (response to "
        "re-induction, HSCT after relapse and its time); without them use --model competing")


def test_no_transplant_at_all_needs_no_transplant_times():
    assert observed_paths(cohort({}, {})).n == 2


def test_unknown_transplant_status_is_not_read_as_no():
    assert message(TRANSPLANTED, dict(hsct_after_relapse="")) == (
        "fake.csv, row 3, column 'hsct_after_relapse': HSCT after relapse not given (blank), needed by the pathway "
        "model")


def test_refractory_patient_censored_before_the_assessment():
    assert message(dict(cr2="no", followup_months=1.0)) == (
        "fake.csv, row 2, column 'response_assessment_months': response assessment (1.5 months) after last "
        "follow-up (1 months)")

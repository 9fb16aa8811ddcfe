"""MRD interpretation: thresholds, CHIP-only NGS, reasons recorded per patient."""

from __future__ import annotations

import pandas as pd
import pytest

from relapse_model.cohort import MRDRules, interpret_mrd
from relapse_model.cohort.cohort import Cohort
from tests.conftest import valid_rows


def _frame(**cols):
    n = len(next(iter(cols.values())))
    base = {"mrd_status": [None] * n, "mrd_level_pct": [float("nan")] * n,
            "mrd_method": [None] * n, "mrd_markers": [None] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_flow_threshold_is_inclusive_at_0_1_percent():
    out = interpret_mrd(_frame(mrd_level_pct=[0.099, 0.1, 2.0], mrd_method=["flow"] * 3))
    assert out["mrd_positive"].tolist() == [False, True, True]
    assert out["mrd_reason"][0] == "flow 0.099% < threshold 0.1%"


def test_ngs_carried_only_by_chip_genes_is_not_positive_by_default():
    frame = _frame(mrd_level_pct=[3.0, 3.0, 3.0], mrd_method=["ngs"] * 3,
                   mrd_markers=["DNMT3A", "TET2; asxl1", "DNMT3A;NPM1"])
    out = interpret_mrd(frame)
    assert out["mrd_positive"].tolist() == [False, False, True]
    assert "CHIP-type" in out["mrd_reason"][0] and "DNMT3A" in out["mrd_reason"][0]
    assert "ASXL1, TET2" in out["mrd_reason"][1]


def test_chip_policy_can_be_switched_off():
    frame = _frame(mrd_level_pct=[3.0], mrd_method=["ngs"], mrd_markers=["TET2"])
    assert interpret_mrd(frame, MRDRules(count_chip_only_ngs=True))["mrd_positive"].tolist() == [True]


def test_reported_status_used_without_level_and_overridden_by_level():
    frame = _frame(mrd_status=["positive", "positive", "unknown", None],
                   mrd_level_pct=[float("nan"), 0.01, float("nan"), float("nan")],
                   mrd_method=[None, "flow", None, None])
    out = interpret_mrd(frame)
    assert out["mrd_positive"].tolist()[:2] == [True, False]
    assert out["mrd_positive"].isna().tolist()[2:] == [True, True]
    assert out["mrd_reason"].tolist() == ["reported positive",
                                          "flow 0.01% < threshold 0.1% (reported positive, overridden)",
                                          "reported unknown", "not measured"]


def test_custom_threshold_per_method():
    rules = MRDRules(thresholds_pct={"flow": 0.01, "qpcr": 1.0, "ngs": 0.1})
    out = interpret_mrd(_frame(mrd_level_pct=[0.05, 0.5], mrd_method=["flow", "qpcr"]), rules)
    assert out["mrd_positive"].tolist() == [True, False]


def test_invalid_threshold_is_rejected():
    with pytest.raises(ValueError, match="flow"):
        MRDRules(thresholds_pct={"flow": 0.0, "qpcr": 0.1, "ngs": 0.1})


def test_cohort_carries_reason_per_patient():
    rows = valid_rows()
    rows[0].update(mrd_level_pct=5.0, mrd_method="NGS", mrd_markers="DNMT3A")
    rows[1].update(mrd_level_pct=0.5, mrd_method="MFC")
    cohort = Cohort.from_frame(pd.DataFrame(rows))
    assert cohort.data["mrd_positive"].tolist()[:2] == [False, True]
    assert cohort.data["mrd_reason"].str.contains("CHIP")[0]

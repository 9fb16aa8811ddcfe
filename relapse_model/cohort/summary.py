"""Summary tables of a cohort: characteristics, outcomes and counts of missing values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.schema import COLUMNS
from relapse_model.cohort.vocabulary import RISK_GROUPS
from relapse_model.common.survival import km_value_at


def km_at(cohort: Cohort, horizon_months: float, mask: np.ndarray | None = None,
          endpoint: str = "os") -> float:
    """Kaplan-Meier survival of ``cohort`` (or its ``mask`` rows) at ``horizon_months``
    (NaN with fewer than 5 patients)."""
    y = cohort.survival(endpoint)
    if mask is not None:
        y = y[np.asarray(mask, dtype=bool)]
    return km_value_at(y["event"], y["time"], horizon_months)


#: The columns a summary row is computed from: the row says "not recorded" when the file has
#: none of them (rows not listed use required columns only).
_ROW_COLUMNS = {
    "FLT3-ITD": ("flt3_itd",),
    "CR2 after re-induction": ("cr2",),
    "MRD positive / negative / unknown": ("mrd_status", "mrd_level_pct"),
    "MRD not counted: CHIP-only NGS": ("mrd_status", "mrd_level_pct"),
    "allo-HSCT after relapse": ("hsct_after_relapse",),
    "follow-up of survivors, median, months": ("followup_months",),
}
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class _Value:
    """One summary value, printable as text (``text``) or as JSON numbers (``json``)."""

    kind: str  # "count", "n_pct", "groups", "age", "mrd", "number", "fraction", "not_recorded"
    value: Any = None

    def text(self, min_count: int) -> str:
        v = self.value
        if self.kind == "count":
            return _count(v, min_count)
        if self.kind == "n_pct":
            k, total = v
            if 0 < k < min_count:
                return _count(k, min_count)
            return f"{k} ({100.0 * k / total:.0f}%)" if total else "0"
        if self.kind == "groups":
            return ", ".join(f"{name} ({_count(k, min_count)})" for name, k in v.items())
        if self.kind == "age":
            median, lo, hi, _ = v
            return f"{median:.1f} ({lo:.1f}-{hi:.1f})"
        if self.kind == "mrd":
            return " / ".join(_count(k, min_count) for k in v.values())
        if self.kind == "number":
            return f"{v:.1f}"
        if self.kind == "fraction":
            return f"{100 * v:.1f}%"
        return NOT_RECORDED

    def json(self) -> Any:
        v = self.value
        if self.kind == "n_pct":
            k, total = v
            return {"count": k, "percent": round(100.0 * k / total, 1) if total else None}
        if self.kind == "age":
            median, lo, hi, spread = v
            ends = ("q1", "q3") if spread == "iqr" else ("min", "max")
            return {"median": _num(median), ends[0]: _num(lo), ends[1]: _num(hi)}
        if self.kind in ("groups", "mrd"):
            return dict(v)
        if self.kind == "number":
            return _num(v)
        if self.kind == "fraction":
            return {"percent": _num(100 * v, 1)}
        return None if self.kind == "not_recorded" else v


def _num(x: float, digits: int = 2) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def _count(k: int, min_count: int) -> str:
    return f"<{min_count}" if 0 < k < min_count else str(k)


def _summary(cohort: Cohort, spread: str) -> list[tuple[str, _Value]]:
    d = cohort.data
    n = len(d)

    def n_pct(mask: pd.Series | np.ndarray) -> _Value:
        k = int(np.asarray(pd.Series(mask).astype("boolean").fillna(False), dtype=bool).sum())
        return _Value("n_pct", (k, n))

    age = d["age_years"]
    lo, hi = (age.min(), age.max()) if spread == "range" else (age.quantile(0.25), age.quantile(0.75))
    label = "range" if spread == "range" else "IQR"
    rows: list[tuple[str, _Value]] = [
        ("patients", _Value("count", n)),
        ("studies", _Value("groups", {str(k): int(v) for k, v in d["study"].value_counts().sort_index().items()})),
        (f"age at relapse, median ({label}), years", _Value("age", (float(age.median()), float(lo), float(hi), spread))),
        ("relapse < 12 months from diagnosis", n_pct(d["early_relapse"])),
        ("allo-HSCT in first remission", n_pct(d["hsct_cr1"])),
    ]
    rows += [(f"risk group: {g}", n_pct(d["risk_group"] == g)) for g in RISK_GROUPS]
    mrd = d["mrd_positive"]
    rows += [
        ("FLT3-ITD", n_pct(d["flt3_itd"])),
        ("CR2 after re-induction", n_pct(d["cr2"])),
        ("MRD positive / negative / unknown",
         _Value("mrd", {"positive": int((mrd == True).sum()), "negative": int((mrd == False).sum()),  # noqa: E712
                        "unknown": int(mrd.isna().sum())})),
        ("MRD not counted: CHIP-only NGS", _Value("count", int(d["mrd_reason"].str.contains("CHIP", na=False).sum()))),
        ("allo-HSCT after relapse", n_pct(d["hsct_after_relapse"])),
        ("second relapse or refractory disease", n_pct(d["second_relapse"])),
        ("deaths", n_pct(d["died"])),
        ("follow-up of survivors, median, months",
         _Value("number", float(d.loc[~d["died"].astype(bool), "followup_months"].median()))),
        ("5-y overall survival (Kaplan-Meier)", _Value("fraction", float(km_at(cohort, 60.0)))),
        ("5-y event-free survival (Kaplan-Meier)", _Value("fraction", float(km_at(cohort, 60.0, endpoint="efs")))),
    ]
    return [(label, value if any(cohort.recorded(c) for c in _ROW_COLUMNS.get(label, ("patient_id",)))
             else _Value("not_recorded")) for label, value in rows]


def summary_table(cohort: Cohort, min_count: int = 0, spread: str | None = None) -> pd.DataFrame:
    """Characteristics and outcomes as a two-column table (``characteristic``, ``value``).

    Counts from 1 to ``min_count - 1`` are shown as ``"<min_count"`` without a percentage
    (reports use 5; the default 0 shows every count). ``spread`` of age: ``"iqr"`` or
    ``"range"``; by default the IQR when counts are suppressed (the range shows two patients'
    ages), else the range. Rows computed from columns the file did not have say "not recorded".
    """
    # the range shows two individual patients' ages, so disclosure-controlled tables use the IQR
    spread = spread or ("iqr" if min_count else "range")
    rows = [(label, value.text(min_count)) for label, value in _summary(cohort, spread)]
    return pd.DataFrame(rows, columns=["characteristic", "value"])


def summary_values(cohort: Cohort, spread: str = "iqr") -> dict[str, Any]:
    """The characteristics of :func:`summary_table` as JSON-ready numbers: counts as
    ``{"count": 16, "percent": 27.0}``, age as ``{"median", "q1", "q3"}``, survival as
    ``{"percent": 39.2}``, and ``None`` for rows the file has no column for."""
    return {label: value.json() for label, value in _summary(cohort, spread)}


def not_recorded(cohort: Cohort) -> list[str]:
    """Optional schema columns the input did not have (all-missing because never recorded)."""
    return [c.name for c in COLUMNS if not cohort.recorded(c.name)]


def missing_table(cohort: Cohort) -> pd.DataFrame:
    """Missing values per optional column (kept missing, never dropped).

    Cytogenetics counts ``unknown``; MRD counts patients whose derived status is unknown;
    columns that are blank by design (outcome times, MRD details) are not listed, nor columns
    the file did not have (:func:`not_recorded`: never recorded is not the same as missing).
    """
    d = cohort.data
    n = max(len(d), 1)
    counts = {"cytogenetics (unknown)": int((d["cytogenetics"] == "unknown").sum())}
    counts |= {c.name: int(d[c.name].isna().sum()) for c in COLUMNS
               if c.nullable and not c.conditional and c.name != "cytogenetics" and cohort.recorded(c.name)}
    if any(cohort.recorded(c) for c in _ROW_COLUMNS["MRD positive / negative / unknown"]):
        counts["MRD status (derived)"] = int(d["mrd_positive"].isna().sum())
    return pd.DataFrame([(k, v, 100.0 * v / n) for k, v in counts.items()],
                        columns=["column", "missing", "percent"])

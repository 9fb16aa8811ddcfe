"""Summary tables of a cohort: characteristics, outcomes and counts of missing values."""

from __future__ import annotations

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


def _count(k: int, min_count: int) -> str:
    return f"<{min_count}" if 0 < k < min_count else str(k)


def summary_table(cohort: Cohort, min_count: int = 0) -> pd.DataFrame:
    """Characteristics and outcomes as a two-column table (``characteristic``, ``value``).

    Counts from 1 to ``min_count - 1`` are shown as ``"<min_count"`` without a percentage
    (reports use 5; the default 0 shows every count).
    """
    d = cohort.data
    n = len(d)

    def _n_pct(mask: pd.Series | np.ndarray, total: int) -> str:
        k = int(np.asarray(pd.Series(mask).astype("boolean").fillna(False), dtype=bool).sum())
        if 0 < k < min_count:
            return _count(k, min_count)
        return f"{k} ({100.0 * k / total:.0f}%)" if total else "0"

    rows: list[tuple[str, str]] = [
        ("patients", _count(n, min_count)),
        ("studies", ", ".join(f"{k} ({_count(v, min_count)})"
                              for k, v in d["study"].value_counts().sort_index().items())),
        _age_row(d["age_years"], spread="iqr" if min_count else "range"),
        ("relapse < 12 months from diagnosis", _n_pct(d["early_relapse"], n)),
        ("allo-HSCT in first remission", _n_pct(d["hsct_cr1"], n)),
    ]
    rows += [(f"risk group: {g}", _n_pct(d["risk_group"] == g, n)) for g in RISK_GROUPS]
    rows += [
        ("FLT3-ITD", _n_pct(d["flt3_itd"], n)),
        ("CR2 after re-induction", _n_pct(d["cr2"], n)),
        ("MRD positive / negative / unknown",
         " / ".join(_count(int(v), min_count) for v in ((d["mrd_positive"] == True).sum(),  # noqa: E712
                                          (d["mrd_positive"] == False).sum(),  # noqa: E712
                                          d["mrd_positive"].isna().sum()))),
        ("MRD not counted: CHIP-only NGS",
         _count(int(d["mrd_reason"].str.contains("CHIP", na=False).sum()), min_count)),
        ("allo-HSCT after relapse", _n_pct(d["hsct_after_relapse"], n)),
        ("second relapse or refractory disease", _n_pct(d["second_relapse"], n)),
        ("deaths", _n_pct(d["died"], n)),
        ("follow-up of survivors, median, months",
         f"{d.loc[~d['died'].astype(bool), 'followup_months'].median():.1f}"),
        ("5-y overall survival (Kaplan-Meier)", f"{100 * km_at(cohort, 60.0):.1f}%"),
        ("5-y event-free survival (Kaplan-Meier)", f"{100 * km_at(cohort, 60.0, endpoint='efs'):.1f}%"),
    ]
    return pd.DataFrame(rows, columns=["characteristic", "value"])


def _age_row(age: pd.Series, spread: str) -> tuple[str, str]:
    # the range shows two individual patients' ages, so disclosure-controlled tables use the IQR
    lo, hi = (age.min(), age.max()) if spread == "range" else (age.quantile(0.25), age.quantile(0.75))
    label = "range" if spread == "range" else "IQR"
    return f"age at relapse, median ({label}), years", f"{age.median():.1f} ({lo:.1f}-{hi:.1f})"


def missing_table(cohort: Cohort) -> pd.DataFrame:
    """Missing values per optional column (kept missing, never dropped).

    Cytogenetics counts ``unknown``; MRD counts patients whose derived status is unknown;
    columns that are blank by design (outcome times, MRD details) are not listed.
    """
    d = cohort.data
    n = max(len(d), 1)
    counts = {"cytogenetics (unknown)": int((d["cytogenetics"] == "unknown").sum())}
    counts |= {c.name: int(d[c.name].isna().sum()) for c in COLUMNS
               if c.nullable and not c.conditional and c.name != "cytogenetics"}
    counts["MRD status (derived)"] = int(d["mrd_positive"].isna().sum())
    return pd.DataFrame([(k, v, 100.0 * v / n) for k, v in counts.items()],
                        columns=["column", "missing", "percent"])

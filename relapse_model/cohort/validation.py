"""Validate a cohort table: parse every cell, then check values and cross-column consistency.

Parsing (text to numbers, booleans and controlled vocabularies) is done here cell by cell, so
each bad cell gets its own line; value ranges, required values, unique ids and the
consistency rules between outcome columns are a pandera schema over the parsed frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from relapse_model.cohort import vocabulary as voc
from relapse_model.cohort.schema import COLUMNS, REQUIRED_COLUMNS, ColumnSpec
from relapse_model.errors import InputError, Issue


def validate_table(raw: pd.DataFrame, source: str, row_offset: int) -> pd.DataFrame:
    """Parse and validate a text table against the cohort schema.

    Parameters
    ----------
    raw : pandas.DataFrame
        Text cells as returned by :func:`relapse_model.cohort.reading.read_text_table`.
    source : str
        File name used in error messages.
    row_offset : int
        Added to a 0-based index to give the row number the user sees.

    Returns
    -------
    pandas.DataFrame
        Typed columns: numbers as ``float64``, yes/no as pandas ``boolean``, vocabularies as
        ``category`` with every allowed code; absent optional columns are added as all-missing;
        columns outside the schema are kept unchanged at the end.

    Raises
    ------
    InputError
        Every problem found (missing columns first, since nothing else can be checked then).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(Issue(source, None, c, "required column is missing") for c in missing)

    issues: list[Issue] = []
    parsed = pd.DataFrame(index=raw.index)
    for spec in COLUMNS:
        cells = raw[spec.name] if spec.name in raw.columns else pd.Series(pd.NA, index=raw.index, dtype="string")
        values, bad = _parse(spec, cells)
        for idx, message in bad:
            issues.append(Issue(source, int(idx) + row_offset, spec.name, message))
        parsed[spec.name] = values

    typed = _typed(parsed)
    # a bad cell is reported once, by the parser, not again as "missing" by the schema
    already = {(i.row, i.column) for i in issues}
    issues.extend(i for i in _schema_issues(typed, source, row_offset)
                  if (i.row, i.column) not in already)
    if issues:
        raise InputError(issues)

    extra = [c for c in raw.columns if c not in parsed.columns]
    return pd.concat([typed, raw[extra]], axis=1)


# --- parsing -----------------------------------------------------------------------------

def _parse(spec: ColumnSpec, cells: pd.Series) -> tuple[pd.Series, list[tuple[int, str]]]:
    present = cells.notna()
    if spec.kind in ("id", "text"):
        return cells.astype(object).where(present, None), []
    if spec.kind == "number":
        numbers = pd.to_numeric(cells, errors="coerce").astype("float64")
        bad = present & ~np.isfinite(numbers.fillna(0.0).to_numpy()) | (present & numbers.isna())
        problems = [(i, f"'{cells[i]}' is not a number"
                     + (f" ({spec.unit})" if spec.unit else "")) for i in cells.index[bad]]
        return numbers.where(~bad, np.nan), problems
    if spec.kind == "bool":
        values = voc.normalise_booleans(cells)
        bad = values.notna() & ~values.isin([True, False])
        problems = [(i, f"'{cells[i]}' is not yes/no") for i in cells.index[bad]]
        return values.where(~bad, None), problems
    if spec.kind == "category":
        values = voc.normalise_categories(cells, spec.aliases or {})
        if spec.name == "cytogenetics":
            values = values.fillna("unknown")
        bad = values.notna() & ~values.isin(spec.allowed)
        allowed = ", ".join(spec.allowed)
        problems = [(i, f"unknown value '{cells[i]}' (allowed: {allowed})") for i in cells.index[bad]]
        return values.where(~bad, None), problems
    raise AssertionError(f"unhandled column kind {spec.kind!r}")


def _typed(parsed: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for spec in COLUMNS:
        col = parsed[spec.name]
        if spec.kind == "bool":
            col = col.astype("boolean")
        elif spec.kind == "category":
            col = pd.Categorical(col, categories=list(spec.allowed))
        elif spec.kind in ("id", "text"):
            col = col.astype("string")
        out[spec.name] = col
    return pd.DataFrame(out, index=parsed.index)


# --- value and consistency checks (pandera) ----------------------------------------------

# Each rule: (column the message is about, message, function of the frame -> True where OK).
Rule = tuple[str, str, Callable[[pd.DataFrame], pd.Series]]


def _given(s: pd.Series) -> pd.Series:
    return s.notna()


def _is_true(s: pd.Series) -> pd.Series:
    return s.fillna(False).astype(bool)


def _le(a: pd.Series, b: pd.Series) -> pd.Series:
    """a <= b where both are given (tolerating rounding of 1e-9 months)."""
    return a.isna() | b.isna() | (a <= b + 1e-9)


CONSISTENCY_RULES: tuple[Rule, ...] = (
    ("second_relapse_months", "second relapse flagged 'yes' but no time to second relapse given",
     lambda d: ~_is_true(d.second_relapse) | _given(d.second_relapse_months)),
    ("second_relapse_months", "time to second relapse given but second_relapse is 'no'",
     lambda d: _is_true(d.second_relapse) | ~_given(d.second_relapse_months)),
    ("death_months", "death flagged 'yes' but no time of death given",
     lambda d: ~_is_true(d.died) | _given(d.death_months)),
    ("death_months", "time of death given but died is 'no'",
     lambda d: _is_true(d.died) | ~_given(d.death_months)),
    ("death_months", "death before first relapse (negative time from relapse)",
     lambda d: ~(d.death_months < 0)),
    ("followup_months", "no time of last follow-up for a patient who did not die",
     lambda d: _is_true(d.died) | _given(d.followup_months)),
    ("second_relapse_months", "second relapse after death",
     lambda d: _le(d.second_relapse_months, d.death_months)),
    ("second_relapse_months", "second relapse after last follow-up",
     lambda d: _le(d.second_relapse_months, d.followup_months)),
    ("death_months", "death after last follow-up",
     lambda d: _le(d.death_months, d.followup_months)),
    ("hsct_after_relapse_months", "HSCT time given but hsct_after_relapse is not 'yes'",
     lambda d: _is_true(d.hsct_after_relapse) | ~_given(d.hsct_after_relapse_months)),
    ("hsct_after_relapse_months", "HSCT after death",
     lambda d: _le(d.hsct_after_relapse_months, d.death_months)),
    ("hsct_after_relapse_months", "HSCT after last follow-up",
     lambda d: _le(d.hsct_after_relapse_months, d.followup_months)),
)

_SEP = " :: "


def _build_schema() -> pa.DataFrameSchema:
    columns = {}
    for spec in COLUMNS:
        checks = []
        if spec.minimum is not None:
            checks.append(pa.Check.ge(spec.minimum, error=_range_message(spec), ignore_na=True))
        if spec.maximum is not None:
            checks.append(pa.Check.le(spec.maximum, error=_range_message(spec), ignore_na=True))
        columns[spec.name] = pa.Column(None, checks=checks, nullable=spec.nullable,
                                       unique=spec.kind == "id", required=True)
    rules = [pa.Check(fn, name=f"{column}{_SEP}{message}", error=f"{column}{_SEP}{message}")
             for column, message, fn in CONSISTENCY_RULES]
    return pa.DataFrameSchema(columns, checks=rules, strict=False)


def _range_message(spec: ColumnSpec) -> str:
    lo = "" if spec.minimum is None else f"{spec.minimum:g}"
    hi = "" if spec.maximum is None else f"{spec.maximum:g}"
    bounds = f"between {lo} and {hi}" if lo and hi else (f">= {lo}" if lo else f"<= {hi}")
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.unit == "months" and lo == "0" and not hi:
        return f"negative time (must be >= 0{unit})"
    return f"value out of range (must be {bounds}{unit})"


_SCHEMA = _build_schema()


def _schema_issues(parsed: pd.DataFrame, source: str, row_offset: int) -> list[Issue]:
    try:
        _SCHEMA.validate(parsed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    issues: set[Issue] = set()
    ids = parsed["patient_id"]
    for case in cases.itertuples(index=False):
        if case.index is None or pd.isna(case.index):
            continue
        idx = int(case.index)
        check = str(case.check)
        row = idx + row_offset
        if _SEP in check:
            column, message = check.split(_SEP, 1)
        elif check == "not_nullable":
            column, message = str(case.column), "missing value (this column is required)"
        elif check == "field_uniqueness":
            column = str(case.column)
            first = int(ids.index[(ids == ids[idx]).fillna(False)][0])
            if first == idx:  # the first occurrence is the original, the later ones are the error
                continue
            message = f"duplicate patient id '{ids[idx]}' (first seen in row {first + row_offset})"
        else:
            column = str(case.column)
            message = f"{check}: found {_fmt(case.failure_case)}"
        issues.add(Issue(source, row, column, message))
    return sorted(issues)


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)

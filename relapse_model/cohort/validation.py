"""Validate a cohort table: parse every cell, then check values and cross-column consistency.

Parsing (text to numbers, booleans and controlled vocabularies) is done here cell by cell, so
each bad cell gets its own line; value ranges, required values, unique ids and the
consistency rules between outcome columns are a pandera schema over the parsed frame.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from relapse_model.cohort import vocabulary as voc
from relapse_model.cohort.reading import ColumnMap, column_map, missing_value_tokens
from relapse_model.cohort.schema import COLUMNS, OUTCOME_COLUMNS, REQUIRED_COLUMNS, ColumnSpec, suggest_column
from relapse_model.errors import InputError, Issue


def validate_table(raw: pd.DataFrame, source: str, row_offset: int | np.ndarray, *,
                   missing_values: Iterable[str] = (), columns: ColumnMap | None = None,
                   outcomes_optional: bool = False) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Parse and validate a text table against the cohort schema.

    Parameters
    ----------
    raw : pandas.DataFrame
        Text cells as returned by :func:`relapse_model.cohort.reading.read_table`.
    source : str
        File name used in error messages.
    row_offset : int or numpy.ndarray
        The row number the user sees: added to a 0-based index (int), or one per row (array).
    missing_values : iterable of str
        Cells read as missing besides :data:`~relapse_model.cohort.reading.DEFAULT_MISSING_VALUES`.
    columns : mapping or path, optional
        File header -> schema column, or a mapping file (see
        :func:`~relapse_model.cohort.reading.read_column_map`).
    outcomes_optional : bool
        Outcome columns may be absent (patients for prediction): an absent outcome column is
        not required, and the consistency rules that use it are not applied.

    Returns
    -------
    data : pandas.DataFrame
        Typed columns: numbers as ``float64``, yes/no as pandas ``boolean``, vocabularies as
        ``category`` with every allowed code; absent optional columns are added as all-missing;
        columns outside the schema are kept unchanged at the end.
    supplied : tuple of str
        The schema columns the input has (the others were added as all-missing).

    Raises
    ------
    InputError
        Every problem found (header problems first, since nothing else can be checked then).
    """
    rows = (np.arange(len(raw)) + row_offset) if np.ndim(row_offset) == 0 else np.asarray(row_offset)
    tokens = missing_value_tokens(missing_values)
    raw, issues = _map_header(raw, source, columns, outcomes_optional)
    if any(i.message.startswith("required column is missing") or i.source != source for i in issues):
        raise InputError(issues)
    supplied = tuple(c.name for c in COLUMNS if c.name in raw.columns)
    absent = frozenset(c for c in OUTCOME_COLUMNS if c not in raw.columns) if outcomes_optional else frozenset()

    # a missing-value token is missing everywhere; the token is kept to name it in messages
    is_token = raw.isin(tokens).fillna(False).astype(bool)
    written = raw.where(is_token)
    raw = raw.mask(is_token, pd.NA)
    parsed = pd.DataFrame(index=raw.index)
    for spec in COLUMNS:
        cells = raw[spec.name] if spec.name in raw.columns else pd.Series(pd.NA, index=raw.index, dtype="string")
        values, bad = _parse(spec, cells)
        for idx, message in bad:
            issues.append(Issue(source, int(rows[idx]), spec.name, message))
        parsed[spec.name] = values

    typed = _typed(parsed)
    # a bad cell is reported once, by the parser, not again as "missing" by the schema
    already = {(i.row, i.column) for i in issues}
    issues.extend(i for i in _schema_issues(typed, source, rows, absent, written)
                  if (i.row, i.column) not in already)
    if issues:
        raise InputError(issues)

    extra = [c for c in raw.columns if c not in parsed.columns]
    return pd.concat([typed, raw[extra]], axis=1), supplied


def _map_header(raw: pd.DataFrame, source: str, columns: ColumnMap | None,
                outcomes_optional: bool) -> tuple[pd.DataFrame, list[Issue]]:
    """Rename by the user's mapping; report mapping mistakes, missing required columns and
    headers that look like a schema column the file lacks (did you mean ...?)."""
    mapping, map_source = column_map(columns)
    issues: list[Issue] = []
    header = list(raw.columns)
    schema = [c.name for c in COLUMNS]
    targets: dict[str, str] = {}
    for key, target in mapping.items():
        if key not in header:
            close = difflib.get_close_matches(key, header, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            issues.append(Issue(map_source, None, key, f"mapped to '{target}', but {source} has no column '{key}'{hint}"))
        elif target not in schema:
            guess = suggest_column(target)
            hint = f"; did you mean '{guess}'?" if guess else ""
            issues.append(Issue(map_source, None, key, f"mapped to '{target}', which is not a schema column{hint}"))
        elif target in targets:
            issues.append(Issue(map_source, None, key, f"mapped to '{target}', as is '{targets[target]}'"))
        elif target in header and target not in mapping:
            issues.append(Issue(map_source, None, key, f"mapped to '{target}', but {source} already has a "
                                                       f"column '{target}'"))
        else:
            targets[target] = key
    if issues:
        return raw, issues
    renamed = raw.rename(columns={key: target for target, key in targets.items()})

    header = list(renamed.columns)
    lacking = [n for n in schema if n not in header]
    unknown = [h for h in header if h not in schema]
    guesses = {h: suggest_column(h, lacking) for h in unknown}
    optional = set(OUTCOME_COLUMNS) if outcomes_optional else set()
    for name in REQUIRED_COLUMNS:
        if name in header or name in optional:
            continue
        like = [h for h, g in guesses.items() if g == name]
        hint = f"; did you mean the file's column '{like[0]}'? (rename it, or map it to '{name}')" if like else ""
        issues.append(Issue(source, None, name, f"required column is missing{hint}"))
    for h, guess in guesses.items():
        if guess is not None and (guess not in REQUIRED_COLUMNS or guess in optional):
            issues.append(Issue(source, None, h, f"not in the schema; did you mean '{guess}'? "
                                                 f"(rename it, or map it to '{guess}')"))
    return renamed, issues


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

# Each rule: (column the message is about, message, the columns it reads,
#             function of the frame -> True where OK).
Rule = tuple[str, str, tuple[str, ...], Callable[[pd.DataFrame], pd.Series]]


def _given(s: pd.Series) -> pd.Series:
    return s.notna()


def _is_true(s: pd.Series) -> pd.Series:
    return s.fillna(False).astype(bool)


def _le(a: pd.Series, b: pd.Series) -> pd.Series:
    """a <= b where both are given (tolerating rounding of 1e-9 months)."""
    return a.isna() | b.isna() | (a <= b + 1e-9)


_REL, _REL_T = "second_relapse", "second_relapse_months"
_HSCT, _HSCT_T = "hsct_after_relapse", "hsct_after_relapse_months"

CONSISTENCY_RULES: tuple[Rule, ...] = (
    (_REL_T, "second relapse flagged 'yes' but no time to second relapse given", (_REL, _REL_T),
     lambda d: ~_is_true(d.second_relapse) | _given(d.second_relapse_months)),
    (_REL_T, "time to second relapse given but second_relapse is 'no'", (_REL, _REL_T),
     lambda d: _is_true(d.second_relapse) | ~_given(d.second_relapse_months)),
    ("death_months", "death flagged 'yes' but no time of death given", ("died", "death_months"),
     lambda d: ~_is_true(d.died) | _given(d.death_months)),
    ("death_months", "time of death given but died is 'no'", ("died", "death_months"),
     lambda d: _is_true(d.died) | ~_given(d.death_months)),
    ("death_months", "death before first relapse (negative time from relapse)", ("death_months",),
     lambda d: ~(d.death_months < 0)),
    ("followup_months", "no time of last follow-up for a patient who did not die", ("died", "followup_months"),
     lambda d: _is_true(d.died) | _given(d.followup_months)),
    (_REL_T, "second relapse after death", (_REL_T, "death_months"),
     lambda d: _le(d.second_relapse_months, d.death_months)),
    (_REL_T, "second relapse after last follow-up", (_REL_T, "followup_months"),
     lambda d: _le(d.second_relapse_months, d.followup_months)),
    ("death_months", "death after last follow-up", ("death_months", "followup_months"),
     lambda d: _le(d.death_months, d.followup_months)),
    (_HSCT_T, "HSCT time given but hsct_after_relapse is not 'yes'", (_HSCT, _HSCT_T),
     lambda d: _is_true(d.hsct_after_relapse) | ~_given(d.hsct_after_relapse_months)),
    (_HSCT_T, "HSCT after death", (_HSCT_T, "death_months"),
     lambda d: _le(d.hsct_after_relapse_months, d.death_months)),
    (_HSCT_T, "HSCT after last follow-up", (_HSCT_T, "followup_months"),
     lambda d: _le(d.hsct_after_relapse_months, d.followup_months)),
)

_SEP = " :: "


@lru_cache(maxsize=None)
def _schema(absent: frozenset[str] = frozenset()) -> pa.DataFrameSchema:
    """The pandera schema; columns in ``absent`` (outcomes a patients file left out) may be
    blank and the rules that read them are not applied."""
    columns = {}
    for spec in COLUMNS:
        checks = []
        if spec.minimum is not None:
            checks.append(pa.Check.ge(spec.minimum, error=_range_message(spec), ignore_na=True))
        if spec.maximum is not None:
            checks.append(pa.Check.le(spec.maximum, error=_range_message(spec), ignore_na=True))
        columns[spec.name] = pa.Column(None, checks=checks, nullable=spec.nullable or spec.name in absent,
                                       unique=spec.kind == "id", required=True)
    rules = [pa.Check(fn, name=f"{column}{_SEP}{message}", error=f"{column}{_SEP}{message}")
             for column, message, uses, fn in CONSISTENCY_RULES if not absent.intersection(uses)]
    return pa.DataFrameSchema(columns, checks=rules, strict=False)


def _range_message(spec: ColumnSpec) -> str:
    lo = "" if spec.minimum is None else f"{spec.minimum:g}"
    hi = "" if spec.maximum is None else f"{spec.maximum:g}"
    bounds = f"between {lo} and {hi}" if lo and hi else (f">= {lo}" if lo else f"<= {hi}")
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.unit == "months" and lo == "0" and not hi:
        return f"negative time (must be >= 0{unit})"
    return f"value out of range (must be {bounds}{unit})"


def _schema_issues(parsed: pd.DataFrame, source: str, rows: np.ndarray, absent: frozenset[str],
                   written: pd.DataFrame) -> list[Issue]:
    try:
        _schema(absent).validate(parsed, lazy=True)
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
        row = int(rows[idx])
        if _SEP in check:
            column, message = check.split(_SEP, 1)
        elif check == "not_nullable":
            column = str(case.column)
            token = written[column].iloc[idx] if column in written.columns else pd.NA
            message = ("missing value" + ("" if pd.isna(token) else f" '{token}'")
                       + " (this column is required)")
        elif check == "field_uniqueness":
            column = str(case.column)
            first = int(ids.index[(ids == ids[idx]).fillna(False)][0])
            if first == idx:  # the first occurrence is the original, the later ones are the error
                continue
            message = f"duplicate patient id '{ids[idx]}' (first seen in row {int(rows[first])})"
        else:
            column = str(case.column)
            message = f"{check}: found {_fmt(case.failure_case)}"
        issues.add(Issue(source, row, column, message))
    return sorted(issues)


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)

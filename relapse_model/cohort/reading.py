"""Reading tabular input files (CSV, TSV or Parquet) as text, so that parsing errors can be
reported per cell rather than by a library deep inside.

Delimited text is read with the :mod:`csv` module, not pandas, so that the reader sees the file
as written: the row number of every record is the line it starts on (as a text editor shows
it, blank lines included), a header name given twice is reported rather than renamed, and a
row with the wrong number of fields is one error rather than a shifted row.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from relapse_model.errors import InputError, Issue

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
PARQUET_SUFFIXES = {".parquet", ".pq"}

#: Cells read as missing in every file, whatever the column (R's ``write.csv`` writes ``NA``,
#: SAS and Stata ``.``); more can be added with ``missing_values=`` or ``--na``.
DEFAULT_MISSING_VALUES: tuple[str, ...] = ("", "NA", "N/A", "n/a", "NaN", "nan", ".")

_SNIFF_DELIMITERS = ",\t;|"


@dataclass(frozen=True)
class TextTable:
    """A table read as text.

    Attributes
    ----------
    frame : pandas.DataFrame
        Stripped text cells (``string`` dtype, blank cells ``<NA>``), stripped column names and a
        fresh ``RangeIndex``.
    rows : numpy.ndarray
        The row number the user sees for each row of ``frame``: for delimited text the line the
        record starts on (the header is usually line 1; blank lines count), for Parquet the
        record number from 1.
    """

    frame: pd.DataFrame
    rows: np.ndarray


def read_table(path: str | Path) -> TextTable:
    """Read a CSV/TSV or Parquet file with every cell as text.

    Raises
    ------
    InputError
        Missing, empty, unreadable or unsupported file, a folder, text that is not UTF-8,
        a header name given twice, rows with more or fewer fields than the header, NUL bytes.
    """
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InputError.single(name, "is a folder, not a file (give the path of the file in it)")
    if suffix not in CSV_SUFFIXES and suffix not in PARQUET_SUFFIXES:
        raise InputError.single(name, f"unsupported file type '{path.suffix or '(none)'}' "
                                      "(use .csv, .tsv or .parquet)")
    if not path.is_file():
        raise InputError.single(name, "file not found")
    if path.stat().st_size == 0:
        raise InputError.single(name, "file is empty")
    if suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
        duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        if duplicated:
            raise InputError.single(name, "duplicate column name(s): " + ", ".join(duplicated))
        table = TextTable(frame, np.arange(1, len(frame) + 1))
    else:
        table = _read_delimited(path, CSV_SUFFIXES[suffix])
    if len(table.frame) == 0:
        raise InputError.single(name, "file has a header but no data rows")
    _check_nul(table, name)
    return table


def read_text_table(path: str | Path) -> tuple[pd.DataFrame, int]:
    """:func:`read_table` as ``(frame, row_offset)``: add the offset to a 0-based index for the
    row number (exact when the file has no blank lines; :func:`read_table` is always exact)."""
    table = read_table(path)
    return table.frame, 1 if Path(path).suffix.lower() in PARQUET_SUFFIXES else 2


# --- delimited text ----------------------------------------------------------------------

def _decode(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError.single(str(path), "the file is UTF-16 text (Excel's 'Unicode Text'); "
                                           "save it as 'CSV UTF-8' instead", row=1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start:exc.start + 1].hex().upper()
        raise InputError.single(str(path), f"not UTF-8 text (byte 0x{bad}); save the file as 'CSV UTF-8' "
                                           "(Excel) or with fileEncoding = \"UTF-8\" (R)", row=line) from None


def _read_delimited(path: Path, sep: str | None) -> TextTable:
    name = str(path)
    text = _decode(path)
    if sep is None:
        sample = text[:65536].lstrip("\r\n").splitlines()[:1]
        try:
            sep = csv.Sniffer().sniff(sample[0] if sample else "", delimiters=_SNIFF_DELIMITERS).delimiter
        except csv.Error:
            sep = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header: list[str] | None = None
    header_line = 0
    records: list[list[str]] = []
    lines: list[int] = []
    issues: list[Issue] = []
    previous = 0
    try:
        for fields in reader:
            start, previous = previous + 1, reader.line_num
            if all(not f.strip() for f in fields):
                continue  # blank line (or only separators): no data, and no row number shifts
            if header is None:
                header, header_line = [f.strip() for f in fields], start
                continue
            if len(fields) != len(header):
                issues.append(Issue(name, start, None, _field_count_message(fields, len(header), sep)))
                continue
            records.append([f.strip() or None for f in fields])
            lines.append(start)
    except csv.Error as exc:
        raise InputError.single(name, f"not a readable delimited table ({exc})", row=previous + 1) from None
    if header is None:
        raise InputError.single(name, "file is empty")
    issues += _header_issues(header, name, header_line, sep)
    if issues:
        raise InputError(issues)
    columns = [h if h else f"Unnamed: {i}" for i, h in enumerate(header)]
    frame = pd.DataFrame(records, columns=columns, dtype=object).astype("string")
    return TextTable(frame, np.asarray(lines, dtype=int))


def _field_count_message(fields: list[str], expected: int, sep: str) -> str:
    what = {",": "comma", "\t": "tab", ";": "semicolon", "|": "bar"}.get(sep, repr(sep))
    if len(fields) > expected:
        hint = f"an unquoted {what} inside a value? put the value in double quotes"
    elif any("\n" in f or "\r" in f for f in fields):
        hint = "a double quote opened in this row is never closed?"
    else:
        hint = f"a {what} missing?"
    return f"{len(fields)} field{'s' if len(fields) != 1 else ''}, but the header has {expected} ({hint})"


def _header_issues(header: list[str], name: str, line: int, sep: str) -> list[Issue]:
    issues = []
    if len(header) == 1 and sep == "," and ";" in header[0]:
        return [Issue(name, line, None, "the fields are separated by ';', not ',' (a European Excel "
                                        "export?): save the file as 'CSV UTF-8 (comma delimited)'")]
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(header, start=1):
        if h:
            positions.setdefault(h, []).append(i)
    for h, where in positions.items():
        if len(where) > 1:
            listed = ", ".join(str(w) for w in where[:-1]) + f" and {where[-1]}"
            issues.append(Issue(name, line, h, f"column name given {len(where)} times in the header "
                                               f"(columns {listed}); rename or remove the copies"))
    return issues


# --- Parquet and data frames -------------------------------------------------------------

def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise InputError.single(str(path), f"not a readable Parquet file ({_first_line(exc)})") from None
    return frame_as_text(frame)


def frame_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Any-typed cells as stripped text, missing (None, NaN, pd.NA) and blank cells as ``<NA>``.

    ``str`` gives repr-exact text for numbers, so parsing back gives the stored value.
    """
    def cell(v: object) -> object:
        return pd.NA if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v).strip()

    text = frame.reset_index(drop=True).apply(lambda col: col.map(cell)).replace("", pd.NA).astype("string")
    text.columns = [str(c).strip() for c in text.columns]
    return text


def _check_nul(table: TextTable, name: str) -> None:
    issues = []
    for column in table.frame.columns:
        bad = table.frame[column].str.contains("\x00", regex=False, na=False).to_numpy()
        issues += [Issue(name, int(table.rows[i]), str(column),
                         "the value contains a NUL byte (the file is damaged or not a text export)")
                   for i in np.flatnonzero(bad)]
    if issues:
        raise InputError(issues)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --- reading options: missing-value tokens and column mappings ----------------------------

def missing_value_tokens(extra: Iterable[str] = (), *, label: str = "missing_values") -> frozenset[str]:
    """The cells read as missing: :data:`DEFAULT_MISSING_VALUES` and ``extra``.

    A token that is a valid value of some column (a yes/no or vocabulary code, or a number)
    is refused, so that adding a token can never turn real data into missing data.

    Raises
    ------
    InputError
        Naming ``label`` (``--na`` on the command line) and the token.
    """
    from relapse_model.cohort.schema import legal_value_of  # schema imports nothing from here

    if isinstance(extra, str):
        extra = [extra]
    tokens = set(DEFAULT_MISSING_VALUES)
    issues = []
    for token in extra:
        token = str(token).strip()
        where = legal_value_of(token)
        if where:
            issues.append(Issue(label, None, None, f"'{token}' cannot mean missing: it is {where}"))
        tokens.add(token)
    if issues:
        raise InputError(issues)
    return frozenset(tokens)


ColumnMap = Mapping[str, str] | str | Path


def read_column_map(path: str | Path) -> dict[str, str]:
    """Read a column mapping file: TOML with one ``[columns]`` table of ``"file header" = "schema
    column"`` pairs, e.g. ``"Patient ID" = "patient_id"``.

    Raises
    ------
    InputError
        Missing or unreadable file, malformed TOML, no ``[columns]`` table, other keys, values
        that are not text.
    """
    path = Path(path)
    name = str(path)
    if path.is_dir():
        raise InputError.single(name, "is a folder, not a file (give the path of the mapping file)")
    if not path.is_file():
        raise InputError.single(name, "file not found")
    try:
        content = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError.single(name, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError.single(name, f"malformed TOML ({exc})") from None
    unknown = [k for k in content if k != "columns"]
    issues = [Issue(name, None, None, f"key '{k}': unknown (the file holds one [columns] table)")
              for k in unknown]
    table = content.get("columns")
    if not isinstance(table, dict):
        issues.append(Issue(name, None, None, "no [columns] table (e.g. [columns] then "
                                              "\"Patient ID\" = \"patient_id\")"))
    else:
        issues += [Issue(name, None, None, f"key 'columns.{k}': the schema column must be text in quotes")
                   for k, v in table.items() if not isinstance(v, str)]
    if issues:
        raise InputError(issues)
    return {str(k).strip(): v.strip() for k, v in table.items()}


def column_map(columns: ColumnMap | None) -> tuple[dict[str, str], str]:
    """A mapping given as a dict or as the path of a mapping file, and the name to report it by."""
    if columns is None:
        return {}, "columns"
    if isinstance(columns, (str, Path)):
        return read_column_map(columns), str(columns)
    return {str(k).strip(): str(v).strip() for k, v in columns.items()}, "columns"

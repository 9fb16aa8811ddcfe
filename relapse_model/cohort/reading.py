"""Reading tabular input files (CSV or Parquet) as text, so that parsing errors can be reported
per cell rather than by a library deep inside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from relapse_model.errors import InputError

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_text_table(path: str | Path) -> tuple[pd.DataFrame, int]:
    """Read a CSV/TSV or Parquet file with every cell as text (blank cells as ``<NA>``).

    Parameters
    ----------
    path : str or Path
        The file to read.

    Returns
    -------
    frame : pandas.DataFrame
        Text cells, a fresh ``RangeIndex`` and stripped column names.
    row_offset : int
        Add to a 0-based data index to get the row number the user sees: 2 for delimited text
        (the header is row 1), 1 for Parquet.

    Raises
    ------
    InputError
        Missing, empty, unreadable or unsupported file, or duplicate column names.
    """
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES and suffix not in PARQUET_SUFFIXES:
        raise InputError.single(name, f"unsupported file type '{path.suffix or '(none)'}' "
                                      "(use .csv, .tsv or .parquet)")
    if not path.is_file():
        raise InputError.single(name, "file not found")
    if path.stat().st_size == 0:
        raise InputError.single(name, "file is empty")
    if suffix in PARQUET_SUFFIXES:
        frame, offset = _read_parquet(path), 1
    else:
        frame, offset = _read_delimited(path, CSV_SUFFIXES[suffix]), 2
    frame.columns = [str(c).strip() for c in frame.columns]
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise InputError.single(name, "duplicate column name(s): " + ", ".join(duplicated))
    if len(frame) == 0:
        raise InputError.single(name, "file has a header but no data rows")
    return frame.reset_index(drop=True), offset


def _read_delimited(path: Path, sep: str | None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[],
                            encoding="utf-8-sig", engine="python" if sep is None else "c",
                            skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise InputError.single(str(path), "file is empty") from None
    except pd.errors.ParserError as exc:
        raise InputError.single(str(path), f"not a readable delimited table ({_first_line(exc)})") from None
    except UnicodeDecodeError:
        raise InputError.single(str(path), "not UTF-8 text (save the file as UTF-8 CSV)") from None
    return frame.apply(lambda col: col.str.strip()).replace("", pd.NA).astype("string")


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


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

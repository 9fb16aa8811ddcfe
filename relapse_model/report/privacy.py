"""Disclosure control for reports: small counts suppressed, no patient identifiers.

Counts from 1 to ``min_count - 1`` are shown as ``"<5"`` (for the default ``min_count`` of 5):
a small cell can identify a patient when combined with other knowledge, while zero and large
counts cannot. Estimates computed from fewer than ``min_count`` patients are blanked with their
count. Reports never contain ``patient_id`` or any other per-patient row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

MIN_COUNT = 5


def suppressed(count: int | float, min_count: int = MIN_COUNT) -> str:
    """A count as text, ``"<min_count"`` when it is small but not zero."""
    k = int(count)
    return f"<{min_count}" if 0 < k < min_count else str(k)


def suppress_counts(frame: pd.DataFrame, count_columns: Iterable[str], min_count: int = MIN_COUNT, *,
                    blank_with: Iterable[str] = (), group_size: str | None = None) -> pd.DataFrame:
    """Copy of ``frame`` with small counts replaced by ``"<min_count"``.

    Parameters
    ----------
    count_columns : iterable of str
        Columns holding counts of patients or events.
    blank_with : iterable of str
        Columns of estimates that are blanked (NaN, an empty cell in CSV and HTML) in rows whose
        ``group_size`` is small.
    group_size : str, optional
        The column giving how many patients a row describes.
    """
    out = frame.copy()
    small = np.zeros(len(out), dtype=bool)
    if group_size is not None:
        n = pd.to_numeric(out[group_size], errors="coerce").fillna(0).to_numpy()
        small = (n > 0) & (n < min_count)
    for col in blank_with:
        out[col] = out[col].where(~small)
    for col in count_columns:
        out[col] = [suppressed(v, min_count) if pd.notna(v) else "" for v in out[col]]
    return out


def find_identifiers(paths: Iterable[Path], identifiers: Iterable[str]) -> dict[str, list[str]]:
    """Which of ``identifiers`` occur (as whole tokens) in which files; empty when none do.

    Binary files are searched as bytes, so an identifier stored inside a NetCDF file is found too.
    """
    ids = sorted({str(i) for i in identifiers if str(i)}, key=len, reverse=True)
    if not ids:
        return {}
    pattern = re.compile(rb"(?<![\w-])(" + b"|".join(re.escape(i.encode()) for i in ids) + rb")(?![\w-])")
    found: dict[str, list[str]] = {}
    for path in paths:
        hits = sorted({m.group(1).decode() for m in pattern.finditer(Path(path).read_bytes())})
        if hits:
            found[str(path)] = hits
    return found

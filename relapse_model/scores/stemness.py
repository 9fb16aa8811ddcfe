"""LSC17 and pLSC6 stemness scores from an expression table, and high/low calls."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from relapse_model.cohort.reading import read_text_table
from relapse_model.errors import InputError, Issue
from relapse_model.scores.weights import GENE_ALIASES, SCORES

ScoreName = Literal["lsc17", "plsc6"]
_ALL_GENES = frozenset(g for w in SCORES.values() for g in w) | frozenset(GENE_ALIASES)


def weights(score: str) -> dict[str, float]:
    """Published weights of ``score`` (``"lsc17"`` or ``"plsc6"``), keyed by HGNC symbol."""
    try:
        return dict(SCORES[score.lower()])
    except KeyError:
        raise ValueError(f"unknown score '{score}' (choose one of {', '.join(SCORES)})") from None


def read_expression(path: str | Path) -> pd.DataFrame:
    """Read a log2-normalised expression table in either orientation.

    Genes may be rows (first column: gene symbols, one column per sample) or columns (first
    column: sample ids, one column per gene). The orientation is recognised from the score genes
    found among the row labels or the column headers.

    Returns
    -------
    pandas.DataFrame
        Samples as rows, genes (upper-case symbols, aliases mapped to current symbols) as columns,
        ``float64`` values.

    Raises
    ------
    InputError
        Unreadable file, unrecognisable orientation, duplicated gene, non-numeric value.
    """
    text, offset = read_text_table(path)
    source = str(path)
    first = text.columns[0]
    row_labels = text[first].fillna("").str.strip()
    genes_in_rows = _count_known(row_labels)
    genes_in_cols = _count_known(pd.Series(text.columns[1:], dtype="string"))
    if max(genes_in_rows, genes_in_cols) == 0:
        raise InputError.single(source, "no gene of LSC17 or pLSC6 found in the first column or "
                                        "the header (expected gene symbols such as DNMT3B, CD34)")
    body = text.set_index(first)
    body.index = body.index.fillna("")
    # only the score genes are parsed: other genes may hold anything without blocking a score
    if genes_in_rows >= genes_in_cols:
        keep = np.flatnonzero(row_labels.map(_canonical).isin(_ALL_GENES).to_numpy())
        frame = _to_numbers(body.iloc[keep], keep, source, offset).T
    else:
        keep_cols = [c for c in body.columns if _canonical(c) in _ALL_GENES]
        frame = _to_numbers(body[keep_cols], np.arange(len(body)), source, offset)
    frame.columns = [_canonical(c) for c in frame.columns]
    dupes = sorted({c for c in frame.columns if c in _ALL_GENES and list(frame.columns).count(c) > 1})
    if dupes:
        raise InputError.single(source, "gene given twice (under its current and its old symbol?): "
                                        + ", ".join(dupes))
    frame.index = frame.index.astype(str)
    frame.index.name = "sample"
    return frame


def stemness_score(expression: pd.DataFrame, score: str = "lsc17", *,
                   source: str = "expression table") -> pd.Series:
    """Weighted sum of log2 expression: the LSC17 or pLSC6 score of every sample.

    Parameters
    ----------
    expression : pandas.DataFrame
        Samples as rows, genes as columns (as from :func:`read_expression`); old symbols
        (KIAA0125, NGFRAP1, GPR56) are accepted.
    score : {"lsc17", "plsc6"}
    source : str
        Name used in the error message.

    Returns
    -------
    pandas.Series
        One score per sample, named after the score.

    Raises
    ------
    InputError
        When genes of the score are missing (all of them are listed) or a sample lacks a value.
    """
    w = weights(score)
    expr = expression.rename(columns=_canonical)
    missing = [g for g in w if g not in expr.columns]
    if missing:
        shown = [g + _old_name(g) for g in missing]
        raise InputError.single(source, f"{len(missing)} gene(s) of {score.upper()} missing: "
                                        + ", ".join(shown))
    values = expr[list(w)].astype(float)
    blanks = values.isna()
    if blanks.to_numpy().any():
        issues = [Issue(source, None, values.columns[int(g)], f"no expression value for sample "
                  f"'{values.index[int(s)]}'") for s, g in zip(*np.nonzero(blanks.to_numpy()))]
        raise InputError(issues)
    result = values.to_numpy() @ np.array(list(w.values()))
    return pd.Series(result, index=values.index, name=score.lower())


def call_high(scores: pd.Series, reference: float | None = None) -> pd.Series:
    """High/low call: above the cohort median, or above a fixed ``reference`` value.

    A fixed reference is preferable when a published cut-off exists (the pLSC6 split in AML02 was
    not the median); the median makes the call relative to the cohort at hand. Missing scores
    stay missing.
    """
    cut = float(np.nanmedian(scores.to_numpy(dtype=float))) if reference is None else float(reference)
    high = pd.array(np.where(scores.isna(), None, scores > cut), dtype="boolean")
    return pd.Series(high, index=scores.index, name=f"{scores.name}_high")


def _canonical(name: object) -> str:
    key = str(name).strip().upper()
    return GENE_ALIASES.get(key, key)


def _old_name(gene: str) -> str:
    old = [a for a, g in GENE_ALIASES.items() if g == gene]
    return f" (alias {old[0]})" if old else ""


def _count_known(labels: pd.Series) -> int:
    return int(labels.map(_canonical).isin(_ALL_GENES).sum())


_NA_TOKENS = ("NA", "NaN", "nan", "N/A", "null", "")


def _to_numbers(body: pd.DataFrame, positions: np.ndarray, source: str, offset: int) -> pd.DataFrame:
    """Parse cells as numbers; ``positions`` are the 0-based data rows of ``body`` in the file."""
    body = body.mask(body.isin(_NA_TOKENS))
    numbers = body.apply(pd.to_numeric, errors="coerce").astype(float)
    given = body.notna().to_numpy()
    bad = given & ~np.isfinite(numbers.fillna(0.0).to_numpy()) | given & numbers.isna().to_numpy()
    if bad.any():
        issues = [Issue(source, int(positions[r]) + offset, str(body.columns[c]),
                        f"'{body.iat[r, c]}' is not a number (log2 expression)")
                  for r, c in zip(*np.nonzero(bad))]
        raise InputError(issues)
    return numbers

"""Interpretation of measurable residual disease (MRD) results.

Status is derived from level, method and a per-method threshold where the level is known, and
taken as reported otherwise. NGS MRD carried only by mutations typical of clonal haematopoiesis
(DNMT3A, TET2, ASXL1; seed 003, Table 1) persists in remission without leukaemia and is not an
MRD marker, so by default such a result does not count as positive. The reason for every
patient's status is kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Mutations of clonal haematopoiesis of indeterminate potential (CHIP) that ELN 2021 excludes
#: as MRD markers (seed 003, Table 1).
CHIP_GENES = frozenset({"DNMT3A", "TET2", "ASXL1"})


@dataclass(frozen=True)
class MRDRules:
    """Thresholds and policies for calling MRD positive.

    Parameters
    ----------
    thresholds_pct : dict
        Level at or above which a result is positive, per method, in percent. Flow cytometry uses
        0.1% (ELN 2021); the qPCR and NGS defaults of 0.1% are placeholders to be set per assay
        (the ELN figures for them were not verified for this package).
    chip_genes : frozenset of str
        Genes whose NGS signal alone is not MRD.
    count_chip_only_ngs : bool
        If True, NGS results carried only by ``chip_genes`` are interpreted like any other.
    """

    thresholds_pct: dict[str, float] = field(
        default_factory=lambda: {"flow": 0.1, "qpcr": 0.1, "ngs": 0.1})
    chip_genes: frozenset[str] = CHIP_GENES
    count_chip_only_ngs: bool = False

    def __post_init__(self) -> None:
        for method, value in self.thresholds_pct.items():
            if not (0.0 < float(value) <= 100.0):
                raise ValueError(f"MRD threshold for {method} must be in (0, 100] %, got {value}")


def interpret_mrd(data: pd.DataFrame, rules: MRDRules | None = None) -> pd.DataFrame:
    """Derive MRD status per patient.

    Parameters
    ----------
    data : pandas.DataFrame
        Validated cohort columns ``mrd_status``, ``mrd_level_pct``, ``mrd_method`` and
        ``mrd_markers``.
    rules : MRDRules, optional
        Thresholds and CHIP policy; defaults to :class:`MRDRules()`.

    Returns
    -------
    pandas.DataFrame
        ``mrd_positive`` (nullable boolean: missing when unknown) and ``mrd_reason`` (text), on
        the index of ``data``.
    """
    rules = rules or MRDRules()
    n = len(data)
    level = data["mrd_level_pct"].to_numpy(dtype=float)
    method = data["mrd_method"].astype(object).to_numpy()
    reported = data["mrd_status"].astype(object).to_numpy()
    markers = data["mrd_markers"].astype(object).to_numpy()

    positive = np.full(n, None, dtype=object)
    reason = np.full(n, "not measured", dtype=object)

    is_reported = np.array([r in ("positive", "negative") for r in reported])
    for i in np.flatnonzero(is_reported):
        positive[i] = bool(reported[i] == "positive")
    for i in np.flatnonzero(is_reported):
        reason[i] = f"reported {reported[i]}"
    for i in np.flatnonzero(np.array([r == "unknown" for r in reported])):
        reason[i] = "reported unknown"

    for i in np.flatnonzero(~np.isnan(level)):
        m = method[i]
        if not isinstance(m, str):
            if not is_reported[i]:
                reason[i] = "level given without method: status unknown"
            continue
        threshold = rules.thresholds_pct[m]
        derived = bool(level[i] >= threshold)
        text = f"{m} {level[i]:g}% {'>=' if derived else '<'} threshold {threshold:g}%"
        if is_reported[i] and bool(positive[i]) != derived:
            text += f" (reported {reported[i]}, overridden)"
        positive[i], reason[i] = derived, text

    for i in range(n):
        if method[i] == "ngs" and positive[i] is True and not rules.count_chip_only_ngs:
            genes = _genes(markers[i])
            if genes and genes <= rules.chip_genes:
                positive[i] = False
                reason[i] = (f"NGS signal only in CHIP-type gene(s) {', '.join(sorted(genes))}: "
                             "not counted as MRD")
    return pd.DataFrame({"mrd_positive": pd.array(positive, dtype="boolean"),
                         "mrd_reason": pd.array(reason, dtype="string")}, index=data.index)


def _genes(text: object) -> frozenset[str]:
    if not isinstance(text, str):
        return frozenset()
    return frozenset(g.strip().upper() for g in text.replace(",", ";").split(";") if g.strip())

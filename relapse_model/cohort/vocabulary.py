"""Controlled vocabularies of the cohort schema, with the aliases users actually write.

Every categorical column maps free text (case- and space-insensitive) to one canonical code.
Unknown text is never guessed: validation reports it with the list of allowed values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class CytogeneticClass:
    """A cytogenetic / molecular class at relapse and the risk group it is nested in."""

    code: str
    label: str
    risk_group: str
    aliases: tuple[str, ...] = ()


#: Classes at relapse (DESIGN.md, "The data"); risk groups follow the 4-year OS after relapse in
#: Klein et al., Pediatr Blood Cancer 2022 (CBF classes good; KMT2A-r, -7 and complex poor).
CYTOGENETIC_CLASSES: tuple[CytogeneticClass, ...] = (
    CytogeneticClass("t8_21", "t(8;21) RUNX1::RUNX1T1", "favourable",
                     ("t(8;21)", "RUNX1::RUNX1T1", "RUNX1-RUNX1T1", "RUNX1/RUNX1T1")),
    CytogeneticClass("inv16", "inv(16)/t(16;16) CBFB::MYH11", "favourable",
                     ("inv(16)", "t(16;16)", "inv(16)/t(16;16)", "CBFB::MYH11", "CBFB-MYH11")),
    CytogeneticClass("kmt2a_t9_11", "KMT2A-r t(9;11) KMT2A::MLLT3", "adverse",
                     ("t(9;11)", "KMT2A::MLLT3", "KMT2A-MLLT3", "MLL-AF9")),
    CytogeneticClass("kmt2a_t10_11", "KMT2A-r t(10;11) KMT2A::MLLT10", "adverse",
                     ("t(10;11)", "KMT2A::MLLT10", "KMT2A-MLLT10", "MLL-AF10")),
    CytogeneticClass("kmt2a_other", "KMT2A-r, other partner", "adverse",
                     ("KMT2A-r", "KMT2A", "MLL-r", "11q23")),
    CytogeneticClass("nup98", "NUP98-rearranged", "adverse",
                     ("NUP98-r", "NUP98", "NUP98::NSD1", "NUP98::KDM5A")),
    CytogeneticClass("cbfa2t3_glis2", "CBFA2T3::GLIS2", "adverse",
                     ("CBFA2T3::GLIS2", "CBFA2T3-GLIS2", "inv(16)(p13.3q24.3)")),
    CytogeneticClass("monosomy7", "monosomy 7 / 7q-", "adverse",
                     ("-7", "7q-", "-7/7q-", "monosomy 7", "del(7q)")),
    CytogeneticClass("complex", "complex karyotype", "adverse", ("complex karyotype", "CK")),
    CytogeneticClass("normal", "normal karyotype", "intermediate", ("normal karyotype", "CN", "46,XX", "46,XY")),
    CytogeneticClass("other", "other abnormality", "intermediate", ()),
    # "NA", "n/a" and blanks are missing values (reading.DEFAULT_MISSING_VALUES), read as unknown
    CytogeneticClass("unknown", "not known / failed", "unknown", ("not done", "failed")),
)

CYTOGENETICS = tuple(c.code for c in CYTOGENETIC_CLASSES)
RISK_GROUPS = ("favourable", "intermediate", "adverse", "unknown")
RISK_GROUP_OF = {c.code: c.risk_group for c in CYTOGENETIC_CLASSES}
CBF_CLASSES = ("t8_21", "inv16")
KMT2A_CLASSES = ("kmt2a_t9_11", "kmt2a_t10_11", "kmt2a_other")

MRD_STATUS = ("negative", "positive", "unknown")
MRD_METHODS = ("flow", "qpcr", "ngs")
MRD_TIMEPOINTS = ("reinduction1", "reinduction2", "pre_hsct")

_BOOL_TEXT = {
    "yes": True, "y": True, "true": True, "1": True, "1.0": True, "positive": True, "pos": True,
    "no": False, "n": False, "false": False, "0": False, "0.0": False, "negative": False, "neg": False,
}


def _key(text: str) -> str:
    return " ".join(str(text).strip().lower().split())


def _alias_table(codes: tuple[str, ...], extra: dict[str, str] | None = None) -> dict[str, str]:
    table = {_key(c): c for c in codes}
    for alias, code in (extra or {}).items():
        table[_key(alias)] = code
    return table


CYTOGENETICS_ALIASES = _alias_table(
    CYTOGENETICS,
    {alias: c.code for c in CYTOGENETIC_CLASSES for alias in (c.label, *c.aliases)},
)
MRD_STATUS_ALIASES = _alias_table(
    MRD_STATUS, {"neg": "negative", "pos": "positive", "detectable": "positive",
                 "undetectable": "negative", "not done": "unknown"})
MRD_METHOD_ALIASES = _alias_table(
    MRD_METHODS, {"mfc": "flow", "flow cytometry": "flow", "pcr": "qpcr", "rt-qpcr": "qpcr",
                  "next-generation sequencing": "ngs", "sequencing": "ngs"})
MRD_TIMEPOINT_ALIASES = _alias_table(
    MRD_TIMEPOINTS, {"after reinduction 1": "reinduction1", "after re-induction 1": "reinduction1",
                     "after reinduction 2": "reinduction2", "after re-induction 2": "reinduction2",
                     "pre-hsct": "pre_hsct", "before hsct": "pre_hsct"})


def normalise_categories(values: pd.Series, aliases: dict[str, str]) -> pd.Series:
    """Map free text to canonical codes; blanks become NA, unknown text is returned unchanged.

    Leaving unknown text in place lets validation report the exact value the user wrote.
    """
    text = values.astype("string").str.strip()
    keys = text.str.lower().str.split().str.join(" ")
    mapped = keys.map(aliases)
    out = mapped.where(mapped.notna(), text).astype(object)
    out[text.isna() | (text == "")] = pd.NA
    return out


def normalise_booleans(values: pd.Series) -> pd.Series:
    """Map yes/no, true/false, 1/0 (any case) to ``True``/``False``; blanks become NA."""
    return normalise_categories(values, _BOOL_TEXT)  # type: ignore[arg-type]

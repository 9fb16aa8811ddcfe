"""The cohort schema: one row per patient at first relapse; times in months from first relapse.

The column specifications below are the single source of truth: the validator, the summary
table and the README's schema table are all derived from them.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from relapse_model.cohort import vocabulary as voc


@dataclass(frozen=True)
class ColumnSpec:
    """How one cohort column is parsed and checked.

    Parameters
    ----------
    name : str
        Column header in the file.
    kind : {"id", "text", "number", "bool", "category"}
        How cells are parsed.
    required : bool
        The column must be present in the file.
    nullable : bool
        Cells may be blank (missing values stay missing and are counted, never dropped).
    description, unit : str
        Documentation shown in the README and the validate summary.
    allowed : tuple of str
        Canonical codes of a ``category`` column.
    aliases : dict
        Free-text spellings accepted for each code.
    minimum, maximum : float or None
        Inclusive bounds of a ``number`` column.
    conditional : bool
        Blank is the normal state unless another column says otherwise (time of death of a
        survivor, MRD details of an unmeasured patient); such blanks are not counted as missing.
    """

    name: str
    kind: str
    required: bool
    nullable: bool
    description: str
    unit: str = ""
    allowed: tuple[str, ...] = ()
    aliases: dict[str, str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    conditional: bool = False


def _cat(name: str, description: str, allowed: tuple[str, ...], aliases: dict[str, str],
         *, required: bool = False, nullable: bool = True, conditional: bool = False) -> ColumnSpec:
    return ColumnSpec(name, "category", required, nullable, description, allowed=allowed,
                      aliases=aliases, conditional=conditional)


def _num(name: str, description: str, unit: str, minimum: float | None = 0.0,
         maximum: float | None = None, *, required: bool = False,
         nullable: bool = True, conditional: bool = False) -> ColumnSpec:
    return ColumnSpec(name, "number", required, nullable, description, unit=unit,
                      minimum=minimum, maximum=maximum, conditional=conditional)


def _bool(name: str, description: str, *, required: bool = False,
          nullable: bool = True) -> ColumnSpec:
    return ColumnSpec(name, "bool", required, nullable, description, unit="yes/no")


COLUMNS: tuple[ColumnSpec, ...] = (
    # identity and grouping
    ColumnSpec("patient_id", "id", True, False, "patient identifier, unique within the file"),
    ColumnSpec("study", "text", True, False,
               "study or series; the grouping for partial pooling across series"),
    ColumnSpec("centre", "text", False, True, "treating centre (optional second grouping)"),
    # patient and disease at first relapse
    _num("age_years", "age at first relapse", "years", 0.0, 40.0, required=True, nullable=False),
    _num("months_diagnosis_to_relapse", "time from diagnosis to first relapse "
         "(early relapse: < 12 months)", "months", 0.0, required=True, nullable=False),
    _cat("cytogenetics", "cytogenetic / molecular class at relapse (blank means 'unknown')",
         voc.CYTOGENETICS, voc.CYTOGENETICS_ALIASES, required=True),
    _bool("flt3_itd", "FLT3-ITD at relapse"),
    _bool("npm1", "NPM1 mutation at relapse"),
    _bool("cd33_positive", "CD33-positive blasts (target of gemtuzumab ozogamicin)"),
    # stemness
    _num("lsc17", "LSC17 score (Ng et al. 2016)", "score", None, None),
    _num("plsc6", "pLSC6 score (Elsayed et al. 2020)", "score", None, None),
    # measurable residual disease
    _cat("mrd_status", "MRD status as reported; re-derived from level and method when both are given",
         voc.MRD_STATUS, voc.MRD_STATUS_ALIASES, conditional=True),
    _num("mrd_level_pct", "MRD level: % of nucleated cells (flow), % of the reference transcript "
         "(qPCR) or variant allele frequency in % (NGS)", "%", 0.0, 100.0, conditional=True),
    _cat("mrd_method", "MRD method", voc.MRD_METHODS, voc.MRD_METHOD_ALIASES, conditional=True),
    _cat("mrd_timepoint", "MRD time point", voc.MRD_TIMEPOINTS, voc.MRD_TIMEPOINT_ALIASES,
         conditional=True),
    ColumnSpec("mrd_markers", "text", False, True,
               "genes carrying NGS MRD, separated by ';' (e.g. 'NPM1;FLT3')", conditional=True),
    # transplant history and response
    _bool("hsct_cr1", "allogeneic HSCT in first remission", required=True, nullable=False),
    _bool("cr2", "second complete remission after re-induction"),
    _num("response_assessment_months", "time from first relapse to the response assessment (pathway model; blank: 1.5)", "months", conditional=True),
    _num("day28_blasts_pct", "marrow blasts at day 28 of re-induction", "%", 0.0, 100.0),
    _bool("hsct_after_relapse", "allogeneic HSCT after first relapse"),
    _num("hsct_after_relapse_months", "time from first relapse to HSCT", "months", conditional=True),
    ColumnSpec("regimen", "text", False, True, "re-induction regimen or trial arm"),
    # outcomes, time origin = first relapse
    _bool("second_relapse", "second relapse or refractory disease observed", required=True,
          nullable=False),
    _num("second_relapse_months", "time to second relapse or refractory disease", "months",
         conditional=True),
    _bool("died", "death observed", required=True, nullable=False),
    _num("death_months", "time to death", "months", None, None, conditional=True),
    _num("followup_months", "time to last follow-up (may be blank for patients who died)",
         "months", 0.0, conditional=True),
)

COLUMN = {c.name: c for c in COLUMNS}
REQUIRED_COLUMNS = tuple(c.name for c in COLUMNS if c.required)
EARLY_RELAPSE_MONTHS = 12.0

#: Outcome columns: a patients file for prediction may leave them out.
OUTCOME_COLUMNS = ("second_relapse", "second_relapse_months", "died", "death_months", "followup_months")


def _header_key(name: str) -> str:
    """Headers compared without case, spaces, underscores or punctuation: 'Age (years)' = 'age_years'."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


#: Headers users write for schema columns, beyond what a close spelling match finds.
HEADER_ALIASES: dict[str, str] = {_header_key(k): v for k, v in {
    "id": "patient_id", "patient": "patient_id", "pid": "patient_id", "subject": "patient_id",
    "subject id": "patient_id", "usubjid": "patient_id", "patient number": "patient_id",
    "trial": "study", "series": "study", "cohort": "study",
    "center": "centre", "site": "centre", "hospital": "centre",
    "age": "age_years", "age at relapse": "age_years", "age at first relapse": "age_years",
    "time to relapse": "months_diagnosis_to_relapse", "months to relapse": "months_diagnosis_to_relapse",
    "cyto": "cytogenetics", "karyotype": "cytogenetics", "cytogenetic": "cytogenetics",
    "flt3": "flt3_itd", "npm1 mutation": "npm1", "npm1 mut": "npm1", "cd33": "cd33_positive",
    "mrd": "mrd_status", "mrd level": "mrd_level_pct", "mrd pct": "mrd_level_pct", "mrd percent": "mrd_level_pct",
    "hsct cr1": "hsct_cr1", "sct cr1": "hsct_cr1", "transplant cr1": "hsct_cr1",
    "hsct": "hsct_after_relapse", "sct": "hsct_after_relapse", "transplant": "hsct_after_relapse",
    "day 28 blasts": "day28_blasts_pct", "blasts": "day28_blasts_pct",
    "treatment": "regimen", "arm": "regimen", "reinduction": "regimen",
    "relapse2": "second_relapse", "second relapse": "second_relapse",
    "dead": "died", "death": "died", "deceased": "died",
    "followup": "followup_months", "follow-up": "followup_months", "fu": "followup_months",
    "fu months": "followup_months", "follow up time": "followup_months",
}.items()}


def suggest_column(header: str, candidates: tuple[str, ...] | list[str] | None = None) -> str | None:
    """The schema column a header probably means (alias table, then a close spelling), or None.

    Only ``candidates`` (default: every schema column) are suggested; comparison ignores case,
    spaces, underscores and punctuation.
    """
    names = [c.name for c in COLUMNS] if candidates is None else list(candidates)
    key = _header_key(header)
    by_key = {_header_key(n): n for n in names}
    if key in by_key:
        return by_key[key]
    if HEADER_ALIASES.get(key) in names:
        return HEADER_ALIASES[key]
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.8)
    return by_key[close[0]] if close else None


def legal_value_of(token: str) -> str | None:
    """Why ``token`` is a valid cell value somewhere in the schema (so it cannot mean missing),
    or None: a yes/no answer, a vocabulary code or alias, or a number."""
    key = " ".join(str(token).strip().lower().split())
    if key in voc._BOOL_TEXT:
        return "a yes/no answer"
    for c in COLUMNS:
        if c.kind == "category" and key in (c.aliases or {}):
            return f"a value of column '{c.name}'"
    try:
        number = float(key)
    except ValueError:
        return None
    return "a number" if math.isfinite(number) else None


def schema_markdown() -> str:
    """The schema as a Markdown table (the README's copy is checked against it by a test)."""
    lines = ["| column | required | type | unit / values | meaning |", "|---|---|---|---|---|"]
    for c in COLUMNS:
        required = "yes" if c.required and not c.nullable else (
            "column yes, blank = unknown" if c.required else "no")
        if c.kind == "category":
            values = ", ".join(f"`{a}`" for a in c.allowed)
        elif c.kind == "bool":
            values = "yes / no"
        elif c.kind == "number":
            bounds = [f">= {c.minimum:g}"] if c.minimum is not None else []
            bounds += [f"<= {c.maximum:g}"] if c.maximum is not None else []
            values = c.unit + (f" ({', '.join(bounds)})" if bounds else "")
        else:
            values = "text"
        lines.append(f"| `{c.name}` | {required} | {c.kind} | {values} | {c.description} |")
    return "\n".join(lines)

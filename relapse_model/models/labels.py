"""Readable labels for codes: design covariates, cytogenetic classes and effect-table rows, one
mapping used by every figure, table and printed result."""

from __future__ import annotations

from relapse_model.cohort.vocabulary import CYTOGENETIC_CLASSES
from relapse_model.models.design import COVARIATE_LABELS

_CYTOGENETICS = {c.code: c.label for c in CYTOGENETIC_CLASSES}
_PREFIX = "cytogenetics: "


def label(code: str) -> str:
    """A design covariate (``age_per_10y``), a cytogenetic class, or an effect-table covariate
    (``cytogenetics: t8_21``) in words; anything else unchanged."""
    code = str(code)
    if code.startswith(_PREFIX):
        return _CYTOGENETICS.get(code[len(_PREFIX):], code[len(_PREFIX):])
    return COVARIATE_LABELS.get(code) or _CYTOGENETICS.get(code) or code.replace("_", " ")

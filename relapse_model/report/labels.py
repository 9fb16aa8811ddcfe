"""Readable labels for codes, one mapping used by every figure and table the report shows."""

from __future__ import annotations

from relapse_model.models.labels import label

__all__ = ["label", "setting_text"]


def setting_text(value: object) -> str:
    """A model setting as a clinician reads it: lists of covariates as their labels, yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        items = [f"{v:g}" if isinstance(v, float) else label(v) for v in value]
        return ", ".join(items) if items else "none"
    return str(value)

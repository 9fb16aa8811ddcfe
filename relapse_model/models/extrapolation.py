"""Warnings for predictions the fit cannot vouch for: patients from a study the fit never saw,
with a cytogenetic class absent from the fitted cohort, or with a stemness score far outside its
range. The prediction is still made (with the average study effect, the class's risk-group
mean, the linear extrapolation); :class:`~relapse_model.errors.ExtrapolationWarning` says so."""

from __future__ import annotations

import warnings

import numpy as np

from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.errors import ExtrapolationWarning, ThinDataWarning
from relapse_model.models.design import Design

#: A standardised score further than this from the fitted cohort's mean is extrapolation.
MAX_SCORE_Z = 4.0


def extrapolation_notes(patients: Cohort, design: Design, fitted_classes: tuple[str, ...] | None) -> list[str]:
    """One sentence per kind of extrapolation among ``patients`` (empty when there is none)."""
    data, notes = patients.data, []
    unseen = design.study_index < 0
    if unseen.any():
        names = sorted(set(data.loc[unseen, "study"].astype(str)))
        notes.append(f"{int(unseen.sum())} patient(s) from a study the fit did not include ({', '.join(names)}): "
                     "predicted with the average study effect")
    if fitted_classes is not None:
        classes = np.array(CYTOGENETICS)[design.class_index]
        absent = ~np.isin(classes, fitted_classes)
        if absent.any():
            notes.append(f"{int(absent.sum())} patient(s) with a cytogenetic class absent from the fitted cohort "
                         f"({', '.join(sorted(set(classes[absent])))}): predicted from its risk group's mean")
    for score in ("lsc17", "plsc6"):
        column = f"{score}_z"
        if column in design.covariates:
            z = design.column(column)
            far = np.abs(z) > MAX_SCORE_Z
            if far.any():
                values = data.loc[far, score].astype(float)
                notes.append(f"{int(far.sum())} patient(s) with {score} more than {MAX_SCORE_Z:g} SD from the "
                             f"fitted cohort's mean (e.g. {values.iloc[0]:g}): the model extrapolates")
    return notes


def warn_extrapolation(patients: Cohort, design: Design, fitted_classes: tuple[str, ...] | None) -> None:
    """Issue an :class:`ExtrapolationWarning` per note of :func:`extrapolation_notes`."""
    for note in extrapolation_notes(patients, design, fitted_classes):
        warnings.warn(f"{patients.source}: {note}", ExtrapolationWarning, stacklevel=3)


def fitted_classes(design: Design) -> tuple[str, ...]:
    """The cytogenetic classes present in a fitted design."""
    return tuple(CYTOGENETICS[i] for i in sorted(set(design.class_index.tolist())))


#: Fewer patients than this in a fit is worth a warning.
FEW_PATIENTS = 20


def thin_data_notes(design: Design, causes: dict[str, int] | None = None) -> list[str]:
    """What a cohort cannot inform: very few patients, no event of a kind (``causes`` maps an
    event's name to its count), a single cytogenetic class. (One study is not a note: the model
    then has no study effect, and needs none.)"""
    notes = []
    if design.n < FEW_PATIENTS:
        notes.append(f"only {design.n} patient(s): the posterior is mostly the prior")
    for name, count in (causes or {}).items():
        if count == 0:
            notes.append(f"no {name} in the cohort: its hazard and effects are the prior's")
    if len(set(design.class_index.tolist())) == 1:
        notes.append(f"a single cytogenetic class ({CYTOGENETICS[int(design.class_index[0])]}): class effects are "
                     "the prior's")
    return notes


def warn_thin_data(source: str, design: Design, causes: dict[str, int] | None = None) -> None:
    """Issue a :class:`ThinDataWarning` per note of :func:`thin_data_notes`."""
    for note in thin_data_notes(design, causes):
        warnings.warn(f"{source}: {note}", ThinDataWarning, stacklevel=3)

"""From a validated cohort to the arrays a model needs.

Missing values are handled by explicit categories, not imputation: MRD is
positive / negative / unknown (``mrd_positive``, ``mrd_unknown``; negative is the reference),
and a missing stemness score is set to the cohort mean with an indicator ``stemness_missing``.
Why: in relapse series a score or an MRD result is missing for reasons tied to the patient (no
remission to measure MRD in, no stored sample, a trial that did not measure it), so
missing-at-random imputation would be wrong, and the indicator lets the model learn the
missing group's own risk. No row is dropped; a missing FLT3-ITD flag counts as absent and is
counted by ``relapse-model validate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from relapse_model.cohort import endpoints
from relapse_model.cohort.vocabulary import CYTOGENETICS


@dataclass(frozen=True)
class Standardisation:
    """Centre and scale of the continuous covariates, fixed at fit time and reused in prediction."""

    age_centre: float = 10.0
    score_mean: dict[str, float] = field(default_factory=dict)
    score_sd: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Design:
    """Model-ready arrays of one cohort.

    Attributes
    ----------
    X : ndarray (n, p)
        Covariates, columns named by ``covariates``.
    class_index : ndarray (n,)
        Index into ``CYTOGENETICS`` (all classes are always modelled, so rare or absent classes
        borrow strength from their risk group).
    study_index : ndarray (n,)
        Index into ``studies``; -1 for a study not seen at fit time.
    time, event, cause : ndarray (n,)
        Outcome of the chosen endpoint (``cause`` for competing risks; ``event`` = cause > 0).
    """

    X: np.ndarray
    covariates: tuple[str, ...]
    class_index: np.ndarray
    study_index: np.ndarray
    studies: tuple[str, ...]
    standardisation: Standardisation
    time: np.ndarray | None = None
    event: np.ndarray | None = None
    cause: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def column(self, name: str) -> np.ndarray:
        return self.X[:, self.covariates.index(name)]

    def rows(self, index: np.ndarray) -> Design:
        """The design of some patients (``index`` into the rows)."""
        def pick(x):
            return None if x is None else x[index]

        return replace(self, X=self.X[index], class_index=self.class_index[index], study_index=self.study_index[index],
                       time=pick(self.time), event=pick(self.event), cause=pick(self.cause))


#: What each design column means, as figures and tables show it.
COVARIATE_LABELS = {
    "early_relapse": "early relapse (< 12 months)",
    "age_per_10y": "age (per 10 years)",
    "hsct_cr1": "allo-HSCT in first remission",
    "flt3_itd": "FLT3-ITD",
    "lsc17_z": "LSC17 (per SD)",
    "plsc6_z": "pLSC6 (per SD)",
    "stemness_missing": "stemness score not measured",
    "mrd_positive": "MRD positive",
    "mrd_unknown": "MRD not known",
    "cr2": "CR2 after re-induction",
}


def covariate_names(stemness: str | None, include_mrd: bool, include_cr2: bool) -> tuple[str, ...]:
    """Columns of X for a model configuration."""
    names = ["early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd"]
    if stemness:
        names += [f"{stemness}_z", "stemness_missing"]
    if include_mrd:
        names += ["mrd_positive", "mrd_unknown"]
    if include_cr2:
        names += ["cr2"]
    return tuple(names)


def standardisation_of(data: pd.DataFrame) -> Standardisation:
    """Means and SDs of the observed stemness scores (NaN-safe; sd 1 if fewer than 2 values)."""
    means, sds = {}, {}
    for score in ("lsc17", "plsc6"):
        values = data[score].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        means[score] = float(values.mean()) if values.size else 0.0
        sds[score] = float(values.std(ddof=1)) if values.size > 1 and values.std() > 0 else 1.0
    return Standardisation(score_mean=means, score_sd=sds)


def build_design(data: pd.DataFrame, *, stemness: str | None = "lsc17", include_mrd: bool = True,
                 include_cr2: bool = False, endpoint: str = "competing",
                 standardisation: Standardisation | None = None,
                 studies: tuple[str, ...] | None = None, with_outcome: bool = True) -> Design:
    """Build the design of a validated cohort's data.

    Parameters
    ----------
    data : pandas.DataFrame
        ``Cohort.data``.
    stemness : {"lsc17", "plsc6", None}
    include_mrd, include_cr2 : bool
    endpoint : {"competing", "efs", "os"}
    standardisation, studies :
        From the fit when building a design for prediction; computed from ``data`` otherwise.
    with_outcome : bool
        Also extract the outcome (False for new patients without follow-up).
    """
    std = standardisation or standardisation_of(data)
    studies = studies or tuple(sorted(data["study"].astype(str).unique()))
    cols: dict[str, np.ndarray] = {
        "early_relapse": data["early_relapse"].to_numpy(dtype=float),
        "age_per_10y": (data["age_years"].to_numpy(dtype=float) - std.age_centre) / 10.0,
        "hsct_cr1": data["hsct_cr1"].fillna(False).to_numpy(dtype=float),
        "flt3_itd": data["flt3_itd"].fillna(False).to_numpy(dtype=float),
    }
    if stemness:
        score = data[stemness].to_numpy(dtype=float)
        missing = ~np.isfinite(score)
        z = (score - std.score_mean[stemness]) / std.score_sd[stemness]
        cols[f"{stemness}_z"] = np.where(missing, 0.0, z)
        cols["stemness_missing"] = missing.astype(float)
    if include_mrd:
        mrd = data["mrd_positive"]
        cols["mrd_positive"] = mrd.fillna(False).to_numpy(dtype=float)
        cols["mrd_unknown"] = mrd.isna().to_numpy(dtype=float)
    if include_cr2:
        cols["cr2"] = data["cr2"].fillna(False).to_numpy(dtype=float)
    names = covariate_names(stemness, include_mrd, include_cr2)
    X = np.column_stack([cols[c] for c in names]) if len(data) else np.zeros((0, len(names)))
    class_index = np.array([CYTOGENETICS.index(c) for c in data["cytogenetics"].astype(str)], dtype=np.int64)
    lookup = {s: i for i, s in enumerate(studies)}
    study_index = np.array([lookup.get(s, -1) for s in data["study"].astype(str)], dtype=np.int64)

    time = event = cause = None
    if with_outcome:
        if endpoint == "competing":
            time, cause = endpoints.competing_risks(data)
            event = (cause > 0).astype(np.int64)
        elif endpoint in ("os", "efs"):
            y = endpoints.survival_array(data, endpoint)
            time, event = y["time"].astype(float), y["event"].astype(np.int64)
        else:
            raise ValueError(f"unknown endpoint {endpoint!r} (competing, efs, os)")
        # an event recorded at time 0 (e.g. death on the day of relapse) has no log hazard
        time = np.maximum(time, 1e-3)
    return Design(X, names, class_index, study_index, studies, std, time, event, cause)

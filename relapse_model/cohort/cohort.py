"""The validated cohort: the one object every later stage (scores, model, simulation) reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from relapse_model.cohort import endpoints
from relapse_model.cohort.mrd import MRDRules, interpret_mrd
from relapse_model.cohort.reading import ColumnMap, frame_as_text, read_table
from relapse_model.cohort.schema import COLUMNS, EARLY_RELAPSE_MONTHS
from relapse_model.cohort.validation import validate_table
from relapse_model.cohort.vocabulary import RISK_GROUP_OF, RISK_GROUPS
from relapse_model.errors import InputError, Issue

#: Columns the package derives; an input column of the same name must agree with them.
DERIVED_COLUMNS = ("early_relapse", "risk_group", "mrd_positive", "mrd_reason")
_TRUTH = {"true": "true", "yes": "true", "1": "true", "1.0": "true", "false": "false", "no": "false", "0": "false",
          "0.0": "false"}


@dataclass(frozen=True)
class Cohort:
    """A validated relapse cohort, one row per patient at first relapse.

    Build one with :func:`load_cohort` (from a file) or :meth:`Cohort.from_frame`.

    Attributes
    ----------
    data : pandas.DataFrame
        Typed schema columns, then the derived columns ``early_relapse``, ``risk_group``,
        ``mrd_positive`` and ``mrd_reason``, then any extra columns of the input, unchanged.
    source : str
        Where the data came from (file name), used in messages and provenance.
    mrd_rules : MRDRules
        The rules that produced ``mrd_positive``.
    supplied_columns : tuple of str or None
        The schema columns the input had; the others are all-missing because they were not
        recorded (summaries say "not recorded" rather than counting them missing). ``None``:
        not known, every column treated as recorded.
    """

    data: pd.DataFrame
    source: str = "<frame>"
    mrd_rules: MRDRules = field(default_factory=MRDRules)
    supplied_columns: tuple[str, ...] | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "<frame>", *,
                   mrd_rules: MRDRules | None = None, row_offset: int = 2,
                   missing_values: Iterable[str] = (), columns: ColumnMap | None = None) -> Cohort:
        """Validate a DataFrame (any cell types) and derive the model-ready columns.

        ``missing_values`` and ``columns`` are as for :func:`load_cohort`.
        """
        return cls._from_text(frame_as_text(frame), source, row_offset, mrd_rules or MRDRules(),
                              missing_values=missing_values, columns=columns)

    @classmethod
    def _from_text(cls, text: pd.DataFrame, source: str, row_offset: int | np.ndarray,
                   mrd_rules: MRDRules, *, missing_values: Iterable[str] = (),
                   columns: ColumnMap | None = None, outcomes_optional: bool = False) -> Cohort:
        data, supplied = validate_table(text, source, row_offset, missing_values=missing_values,
                                        columns=columns, outcomes_optional=outcomes_optional)
        derived = pd.DataFrame({
            "early_relapse": data["months_diagnosis_to_relapse"] < EARLY_RELAPSE_MONTHS,
            "risk_group": pd.Categorical(data["cytogenetics"].map(RISK_GROUP_OF).astype(str),
                                         categories=list(RISK_GROUPS)),
        }, index=data.index)
        mrd = interpret_mrd(data, mrd_rules)
        n_schema = len(COLUMNS)
        ours = pd.concat([derived, mrd], axis=1)
        extras = _without_derived_copies(data.iloc[:, n_schema:], ours, source, row_offset)
        data = pd.concat([data.iloc[:, :n_schema], ours, extras], axis=1)
        return cls(data=data, source=source, mrd_rules=mrd_rules, supplied_columns=supplied)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        studies = self.data["study"].nunique()
        return f"Cohort({len(self)} patients, {studies} stud{'y' if studies == 1 else 'ies'}, from {self.source})"

    @property
    def extra_columns(self) -> list[str]:
        """Input columns outside the schema, kept but not used by the package."""
        known = {c.name for c in COLUMNS} | {"early_relapse", "risk_group", "mrd_positive", "mrd_reason"}
        return [c for c in self.data.columns if c not in known]

    def survival(self, endpoint: endpoints.Endpoint = "os") -> np.ndarray:
        """scikit-survival structured array for ``"os"`` or ``"efs"``."""
        return endpoints.survival_array(self.data, endpoint)

    def competing_risks(self) -> tuple[np.ndarray, np.ndarray]:
        """``(time, cause)``: 1 second relapse/refractory, 2 death without relapse, 0 censored."""
        return endpoints.competing_risks(self.data)

    def subset(self, mask: np.ndarray | pd.Series) -> Cohort:
        """A cohort of the rows where ``mask`` is True (already validated: no re-check)."""
        mask = np.asarray(mask, dtype=bool)
        return Cohort(self.data.loc[mask].reset_index(drop=True), self.source, self.mrd_rules,
                      self.supplied_columns)

    def recorded(self, column: str) -> bool:
        """Whether the input had the schema column ``column`` (True when not known)."""
        return self.supplied_columns is None or column in self.supplied_columns


def _as_text(values: pd.Series) -> pd.Series:
    text = values.astype("string").fillna("").str.strip().str.lower()
    return text.map(lambda v: _TRUTH.get(v, v))


def _without_derived_copies(extras: pd.DataFrame, ours: pd.DataFrame, source: str,
                            row_offset: int | np.ndarray) -> pd.DataFrame:
    """Drop input columns named like a derived column when they hold the derived values (a saved
    ``Cohort.data`` reads back); refuse them, naming the rows, when they differ."""
    issues = []
    for name in [c for c in DERIVED_COLUMNS if c in extras.columns]:
        differs = (_as_text(extras[name]) != _as_text(ours[name])).to_numpy()
        rows = np.flatnonzero(differs)
        numbers = (np.asarray(row_offset)[rows] if np.ndim(row_offset) else rows + row_offset)
        issues += [Issue(source, int(r), name, f"'{extras[name].iloc[i]}' differs from the value the package derives "
                         f"('{ours[name].iloc[i]}'): this column is derived from the schema columns; rename yours")
                   for i, r in zip(rows, numbers)]
    if issues:
        raise InputError(issues)
    return extras.drop(columns=[c for c in DERIVED_COLUMNS if c in extras.columns])


def load_cohort(path: str | Path, *, mrd_rules: MRDRules | None = None,
                missing_values: Iterable[str] = (), columns: ColumnMap | None = None) -> Cohort:
    """Read and validate a cohort from a CSV/TSV or Parquet file.

    Parameters
    ----------
    path : str or Path
        The cohort file (one row per patient at first relapse; see the README's schema table).
    mrd_rules : MRDRules, optional
        MRD thresholds and CHIP policy.
    missing_values : iterable of str, optional
        More cells to read as missing, besides blank, ``NA``, ``N/A``, ``n/a``, ``NaN``, ``nan``
        and ``.`` (always missing). A token that is a valid value (``no``, ``0``, a vocabulary
        code) is refused. A missing value in a required column is an error naming row and column.
    columns : dict or path, optional
        The file's headers renamed to schema columns, ``{"Patient ID": "patient_id"}``, or the
        path of a TOML file with that mapping as a ``[columns]`` table.

    Returns
    -------
    Cohort

    Raises
    ------
    relapse_model.errors.InputError
        Every problem found, each naming file, row and column.
    """
    table = read_table(path)
    return Cohort._from_text(table.frame, str(path), table.rows, mrd_rules or MRDRules(),
                             missing_values=missing_values, columns=columns)


def load_patients(path: str | Path, *, mrd_rules: MRDRules | None = None,
                  missing_values: Iterable[str] = (), columns: ColumnMap | None = None) -> Cohort:
    """Read patients for prediction: the cohort schema, with the outcome columns optional.

    Outcome columns that are absent stay missing (they are never used by prediction) and the
    consistency rules that read them are not applied; every covariate column is validated as
    for :func:`load_cohort`, whose keywords this takes.
    """
    table = read_table(path)
    return Cohort._from_text(table.frame, str(path), table.rows, mrd_rules or MRDRules(),
                             missing_values=missing_values, columns=columns, outcomes_optional=True)

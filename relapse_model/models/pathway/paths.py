"""Each patient's observed path after first relapse, from a validated cohort.

Times are months from first relapse (the cohort's origin, :mod:`relapse_model.cohort.endpoints`).
The course is read as

    re-induction -> response assessment at ``a``: response (CR2/CRi), refractory, or early death
    -> MRD among responders (negative / positive / not measured; ``mrd_positive``, CHIP rule applied)
    -> allogeneic HSCT after relapse at ``s`` (a time-dependent transition, never a baseline covariate)
    -> second relapse (``second_relapse_months``), death, or censoring at last follow-up.

Reading rules (each written once, here):

- ``a`` is the column ``response_assessment_months``, blank = :data:`DEFAULT_ASSESSMENT_MONTHS`.
- Death at or before ``a`` is an *early death* unless ``cr2`` is yes (then the row is an error:
  a response cannot be assessed after death). ``cr2`` = no otherwise means refractory disease,
  which enters the relapsed/refractory state at ``a`` (its ``second_relapse`` flag, recorded at
  about the assessment, is the refractory record itself).
- A responder's second relapse and death must come after ``a``, and no survivor's follow-up
  (responder or refractory) may end before it; a transplant must come after ``a`` and at or
  before death and last follow-up.
- A patient alive with ``cr2`` blank and follow-up ending before ``a`` is *censored before the
  assessment* (response unknown); ``cr2`` blank otherwise is an error, and so is a blank
  ``hsct_after_relapse`` of a patient alive at the assessment (never read as "no").
- A transplant at or after a responder's second relapse is a transplant from the
  relapsed/refractory state.

Nothing is dropped: every problem is one line naming file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from relapse_model.cohort.cohort import Cohort
from relapse_model.errors import InputError, Issue

#: Response assessment after re-induction when ``response_assessment_months`` is blank: 1.5
#: months from relapse. Response is scored on the day-28 marrow of course 1 (Relapsed AML
#: 2001/01) or after up to two courses (COG AAML1421): one course plus count recovery is about
#: 6 weeks; the bundled reference cohorts record refractory disease at 1-2 months.
DEFAULT_ASSESSMENT_MONTHS = 1.5
#: Response codes.
RESPONSE, REFRACTORY, EARLY_DEATH, CENSORED_BEFORE_ASSESSMENT = 0, 1, 2, -1
#: MRD codes among responders (-1 for non-responders).
MRD_NEGATIVE, MRD_POSITIVE, MRD_UNKNOWN = 0, 1, 2
#: Columns the pathway model needs beyond the outcome columns every cohort has.
PATHWAY_COLUMNS = ("cr2", "hsct_after_relapse", "hsct_after_relapse_months")


@dataclass(frozen=True)
class ObservedPaths:
    """Per-patient arrays of the observed path (NaN where a transition did not happen).

    Attributes
    ----------
    assessment : (n,) response assessment time ``a``.
    response : (n,) :data:`RESPONSE`, :data:`REFRACTORY`, :data:`EARLY_DEATH` or
        :data:`CENSORED_BEFORE_ASSESSMENT`.
    mrd : (n,) MRD code among responders, -1 otherwise.
    transplant, relapse, death : (n,) times (NaN: not observed).
    censor : (n,) end of follow-up (time of death for patients who died).
    rows : (n,) row numbers as the user sees them (CSV header row 1).
    """

    assessment: np.ndarray
    response: np.ndarray
    mrd: np.ndarray
    transplant: np.ndarray
    relapse: np.ndarray
    death: np.ndarray
    censor: np.ndarray
    rows: np.ndarray

    @property
    def n(self) -> int:
        return len(self.response)


def row_offset(source: str) -> int:
    """Row number of the first patient as the user sees it: 1 for Parquet, 2 for CSV/TSV (header
    row 1) and for data frames (as :meth:`Cohort.from_frame` counts them)."""
    return 1 if Path(str(source)).suffix.lower() in (".parquet", ".pq") else 2


def _missing_columns(data: pd.DataFrame) -> list[str]:
    """Pathway columns absent or entirely blank (the validator adds absent optional columns as blank)."""
    missing = [c for c in PATHWAY_COLUMNS if c not in data.columns or data[c].isna().all()]
    if "hsct_after_relapse_months" in missing and "hsct_after_relapse" not in missing \
            and not data["hsct_after_relapse"].fillna(False).astype(bool).any():
        missing.remove("hsct_after_relapse_months")   # no transplant at all: no times to give
    return missing


@dataclass(frozen=True)
class _Recorded:
    """The recorded times and flags of every patient (NaN where not recorded), before checking."""

    assessment: np.ndarray
    death: np.ndarray
    relapse: np.ndarray
    transplant: np.ndarray
    censor: np.ndarray
    transplanted: np.ndarray
    transplant_given: np.ndarray
    cr2: np.ndarray


def _recorded(data: pd.DataFrame) -> _Recorded:
    died = data["died"].fillna(False).to_numpy(dtype=bool)
    relapsed = data["second_relapse"].fillna(False).to_numpy(dtype=bool)
    transplanted = data["hsct_after_relapse"].fillna(False).to_numpy(dtype=bool)
    death = np.where(died, data["death_months"].to_numpy(dtype=float), np.nan)
    assessment = (data["response_assessment_months"].to_numpy(dtype=float)
                  if "response_assessment_months" in data.columns else np.full(len(data), np.nan))
    return _Recorded(
        assessment=np.where(np.isfinite(assessment), assessment, DEFAULT_ASSESSMENT_MONTHS),
        death=death,
        relapse=np.where(relapsed, data["second_relapse_months"].to_numpy(dtype=float), np.nan),
        transplant=np.where(transplanted, data["hsct_after_relapse_months"].to_numpy(dtype=float), np.nan),
        censor=np.where(died, death, data["followup_months"].to_numpy(dtype=float)),
        transplanted=transplanted,
        transplant_given=data["hsct_after_relapse"].notna().to_numpy(),
        cr2=np.array([None if pd.isna(v) else bool(v) for v in data["cr2"]], dtype=object),
    )


def _response(t: _Recorded) -> np.ndarray:
    cr2 = t.cr2
    early_death = np.isfinite(t.death) & (t.death <= t.assessment)
    response = np.where(cr2 == True, RESPONSE, REFRACTORY)  # noqa: E712 - object array of True/False/None
    response = np.where(early_death & (cr2 != True), EARLY_DEATH, response)  # noqa: E712
    unknown = np.array([v is None for v in cr2]) & ~early_death
    return np.where(unknown & (t.censor < t.assessment), CENSORED_BEFORE_ASSESSMENT, response)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _row_issues(t: _Recorded, response: np.ndarray) -> list[tuple[int, str, str]]:
    """(index, column, message) for every inconsistent path."""
    out: list[tuple[int, str, str]] = []
    a, s = t.assessment, t.transplant
    for i in range(len(a)):
        if t.cr2[i] is None:
            if response[i] not in (EARLY_DEATH, CENSORED_BEFORE_ASSESSMENT):
                out.append((i, "cr2", "response to re-induction not given (blank), needed by the pathway model"))
        if not t.transplant_given[i] and response[i] not in (EARLY_DEATH, CENSORED_BEFORE_ASSESSMENT):
            out.append((i, "hsct_after_relapse", "HSCT after relapse not given (blank), needed by the pathway model"))
        if t.transplanted[i] and not np.isfinite(s[i]):
            out.append((i, "hsct_after_relapse_months", "HSCT after relapse is 'yes' but no time of HSCT given"))
        if np.isfinite(s[i]):
            out += [(i, "hsct_after_relapse_months", m) for m in _transplant_issues(i, t, response)]
        out += [(i, "response_assessment_months", m) for m in _assessment_issues(i, t, response)]
    return out


def _assessment_issues(i: int, t: _Recorded, response: np.ndarray) -> list[str]:
    """A responder's second relapse and death must come after ``a``; a survivor's follow-up (responder
    or refractory) must not end before it."""
    a, too_early = t.assessment[i], []
    if response[i] == RESPONSE:
        too_early += [(label, time) for label, time in (("second relapse", t.relapse[i]), ("death", t.death[i]))
                      if np.isfinite(time) and time <= a]
    if response[i] in (RESPONSE, REFRACTORY) and not np.isfinite(t.death[i]) and t.censor[i] < a:
        too_early.append(("last follow-up", t.censor[i]))
    return [f"response assessment ({_fmt(a)} months) after {label} ({_fmt(time)} months)" for label, time in too_early]


def _transplant_issues(i: int, t: _Recorded, response: np.ndarray) -> list[str]:
    s = t.transplant[i]
    out = []
    if s < 0:
        out.append(f"HSCT before first relapse (negative time {_fmt(s)} months)")
    elif response[i] in (RESPONSE, REFRACTORY) and s < t.assessment[i]:
        out.append(f"HSCT ({_fmt(s)} months) before the response assessment ({_fmt(t.assessment[i])} months)")
    if np.isfinite(t.death[i]) and s > t.death[i] + 1e-9:
        out.append(f"HSCT ({_fmt(s)} months) after death ({_fmt(t.death[i])} months)")
    elif np.isfinite(t.censor[i]) and s > t.censor[i] + 1e-9:
        out.append(f"HSCT ({_fmt(s)} months) after last follow-up ({_fmt(t.censor[i])} months)")
    if response[i] == EARLY_DEATH:
        out.append("HSCT recorded for a patient who died before the response assessment")
    return out


def mrd_codes(data: pd.DataFrame) -> np.ndarray:
    """MRD code of every row from ``mrd_positive`` (CHIP rule applied): blank = not measured."""
    mrd = data["mrd_positive"]
    return np.where(mrd.isna().to_numpy(), MRD_UNKNOWN,
                    np.where(mrd.fillna(False).to_numpy(dtype=bool), MRD_POSITIVE, MRD_NEGATIVE)).astype(np.int64)


def _mrd(data: pd.DataFrame, response: np.ndarray) -> np.ndarray:
    return np.where(response == RESPONSE, mrd_codes(data), -1).astype(np.int64)


def observed_paths(cohort: Cohort) -> ObservedPaths:
    """Read every patient's path (see the module docstring for the rules).

    Raises
    ------
    InputError
        A cohort without the response or transplant columns (one line naming them), or one line
        per inconsistent row naming file, row and column.
    """
    data = cohort.data
    missing = _missing_columns(data)
    if missing:
        raise InputError.single(cohort.source, f"the pathway model needs column(s) {', '.join(missing)} "
                                "(response to re-induction, HSCT after relapse and its time); "
                                "without them use --model competing")
    t = _recorded(data)
    response = _response(t)
    offset = row_offset(cohort.source)
    issues = [Issue(cohort.source, i + offset, col, msg) for i, col, msg in _row_issues(t, response)]
    if issues:
        raise InputError(issues)
    return ObservedPaths(t.assessment, response.astype(np.int64), _mrd(data, response), t.transplant,
                         t.relapse, t.death, t.censor, np.arange(len(data)) + offset)

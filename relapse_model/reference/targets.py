"""Calibration targets of the reference cohorts: published figures beside what a cohort shows.

Survival proportions are Kaplan-Meier estimates from scikit-survival, read at the horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.summary import km_at
from relapse_model.cohort.vocabulary import CBF_CLASSES
from relapse_model.models.pathway.paths import DEFAULT_ASSESSMENT_MONTHS
from relapse_model.scores.stemness import call_high

ADVERSE_CLASSES = ("kmt2a_t9_11", "kmt2a_t10_11", "kmt2a_other", "monosomy7", "complex")


@dataclass(frozen=True)
class Target:
    """A published figure and the function that measures the same quantity in a cohort."""

    key: str
    description: str
    published: str
    measure: Callable[[Cohort], float]


def _share(col: str) -> Callable[[Cohort], float]:
    return lambda c: float(c.data[col].astype("boolean").fillna(False).mean())


def _share_within(col: str, c: Cohort, mask: np.ndarray) -> float:
    return float(c.data.loc[mask, col].astype("boolean").fillna(False).mean())


def _early_death_share(c: Cohort) -> float:
    """Deaths at or before the response assessment (the pathway model's reading rule)."""
    d = c.data
    assessment = d["response_assessment_months"].fillna(DEFAULT_ASSESSMENT_MONTHS).to_numpy(dtype=float)
    died = d["died"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return float((died & (d["death_months"].to_numpy(dtype=float) <= assessment)).mean())


def _gap(mask_worse: Callable[[Cohort], np.ndarray], mask_better: Callable[[Cohort], np.ndarray],
         horizon: float = 60.0) -> Callable[[Cohort], float]:
    return lambda c: km_at(c, horizon, mask_better(c)) - km_at(c, horizon, mask_worse(c))


def _flag(c: Cohort, col: str, value: bool) -> np.ndarray:
    return (c.data[col] == value).fillna(False).to_numpy(dtype=bool)


def _stem_high(c: Cohort) -> pd.Series:
    return call_high(c.data["lsc17"])


TARGETS: tuple[Target, ...] = (
    Target("os5", "5-y overall survival after first relapse",
           "42% AML-BFM (n=197), 35% COG (n=852) (Rasche 2021); 33-37% other series",
           lambda c: km_at(c, 60.0)),
    Target("early_share", "share relapsing < 12 months from diagnosis",
           "about half (Relapsed AML 2001/01)", _share("early_relapse")),
    Target("os5_early", "5-y OS, relapse < 12 months from diagnosis",
           "29% BFM, 25% COG (Rasche 2021); 24% LAME", lambda c: km_at(c, 60.0, _flag(c, "early_relapse", True))),
    Target("os5_late", "5-y OS, relapse >= 12 months from diagnosis",
           "45-55%; LAME 54%", lambda c: km_at(c, 60.0, _flag(c, "early_relapse", False))),
    Target("cr2_rate", "second complete remission (CR2)",
           "55-70% (BFM 63%, NOPHO 66%, St Jude 54%)", _share("cr2")),
    Target("cr2_early", "CR2, relapse < 12 months from diagnosis",
           "27% (AML99, n=71); 44% (St Jude, <= 1 y)", lambda c: _share_within("cr2", c, _flag(c, "early_relapse", True))),
    Target("cr2_late", "CR2, relapse >= 12 months from diagnosis",
           "88% (AML99); 65% (St Jude, > 1 y)", lambda c: _share_within("cr2", c, _flag(c, "early_relapse", False))),
    Target("early_death", "death before the response assessment",
           "about 6% (Relapsed AML 2001/01 interim)", lambda c: _early_death_share(c)),
    Target("hsct_rate", "allogeneic HSCT after relapse",
           "60-78% (BFM 54%, Relapsed AML 2001/01 63%)", _share("hsct_after_relapse")),
    Target("os4_cbf", "4-y OS, CBF: t(8;21) or inv(16)",
           "59-71% (Klein 2022)", lambda c: km_at(c, 48.0, c.data["cytogenetics"].isin(CBF_CLASSES).to_numpy())),
    Target("os4_adverse", "4-y OS, KMT2A-r / -7 / complex",
           "17-22% (Klein 2022)", lambda c: km_at(c, 48.0, c.data["cytogenetics"].isin(ADVERSE_CLASSES).to_numpy())),
    Target("os5_no_cr2", "5-y OS without CR2",
           "3% (Sander 2010); 17% not in CR2 with HSCT (AML99)", lambda c: km_at(c, 60.0, _flag(c, "cr2", False))),
    Target("mrd_os5_gap", "5-y OS gap, MRD-negative minus MRD-positive (in CR2)",
           "HR ~1.8-2.7 (St Jude, AAML03P1); meta-analysis 68% vs 34%",
           _gap(lambda c: _flag(c, "mrd_positive", True), lambda c: _flag(c, "mrd_positive", False))),
    Target("stemness_os5_gap", "5-y OS gap, LSC17 low minus high (cohort median)",
           "adults HR ~1.8 (Ng 2016); weaker in children",
           _gap(lambda c: _stem_high(c).eq(True).fillna(False).to_numpy(dtype=bool),
                lambda c: _stem_high(c).eq(False).fillna(False).to_numpy(dtype=bool))),
    Target("hsct_cr1_share", "share with allo-HSCT in first remission",
           "about 7%", _share("hsct_cr1")),
    Target("hsct_cr1_os5_gap", "5-y OS gap, no prior HSCT minus prior HSCT in CR1",
           "prior HSCT adverse (St Jude: OR 0.17 for CR2)",
           _gap(lambda c: _flag(c, "hsct_cr1", True), lambda c: _flag(c, "hsct_cr1", False))),
)
TARGET = {t.key: t for t in TARGETS}


def target_table(cohort: Cohort, ranges: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Published figure, accepted range and observed value for each target of a cohort.

    Parameters
    ----------
    cohort : Cohort
    ranges : dict
        Accepted ``(low, high)`` per target key (from the cohort's specification file).

    Returns
    -------
    pandas.DataFrame
        One row per target: ``key, description, published, low, high, observed, ok``.
    """
    unknown = sorted(set(ranges) - set(TARGET))
    if unknown:
        raise KeyError(f"unknown calibration target(s): {', '.join(unknown)}")
    rows = []
    for key, (low, high) in ranges.items():
        t = TARGET[key]
        value = t.measure(cohort)
        rows.append({"key": key, "description": t.description, "published": t.published,
                     "low": low, "high": high, "observed": value,
                     "ok": bool(np.isfinite(value) and low <= value <= high)})
    return pd.DataFrame(rows)

"""Generative model of synthetic reference cohorts calibrated to published relapse series.

Time origin is the first relapse; times are months. For each virtual patient:

1. covariates at relapse: study, age, time from diagnosis to relapse, cytogenetic class,
   FLT3-ITD, NPM1, CD33, HSCT in first remission, a latent stemness factor measured (with noise,
   sometimes missing) by LSC17 and pLSC6;
2. re-induction: a response assessment 1-2 months after relapse (written to
   ``response_assessment_months``); early death before it, else CR2 by a logistic model (early
   relapse lowers it to the published 27-44%), day-28 blasts consistent with the response;
3. MRD after re-induction 1 in CR2 (flow, qPCR or NGS; some NGS results carried only by
   CHIP-type mutations, which are not MRD);
4. intended HSCT after relapse (more likely in CR2), done only if the patient is alive and
   relapse-free at the planned time;
5. in CR2: a **mixture cure model** for second relapse (logistic cure fraction with covariate
   effects; Weibull relapse times in the non-cured, from the assessment) **competing** with death
   in remission (Weibull with decreasing hazard from the assessment, higher after HSCT); without
   CR2: refractory disease, recorded at the assessment;
6. after a second relapse or refractory disease: a small salvage cure fraction, else death;
7. censoring: uniform accrual, a data cut-off and loss to follow-up; a patient lost before the
   assessment has no response, MRD or transplant recorded (blank, not "no").

This is not the pathway model's own generative code (:mod:`relapse_model.models.pathway.simulate`):
transplant is planned at a random time and done only if the patient is still in remission,
and cure depends on the plan, so fitting the pathway model to these cohorts tests it under a
data-generating process it does not share.

Every effect is a parameter of :class:`GeneratorParameters`, chosen from the figures in
``../shared/mission/published-figures.md`` and tuned so that each bundled cohort reproduces its
published targets (see the data cards in ``cohorts/``). Nothing here is real patient data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from relapse_model.cohort.vocabulary import CBF_CLASSES, CYTOGENETICS, RISK_GROUP_OF

#: Class frequencies at relapse: karyotype unknown in about 30% (166 of 569 in Relapsed AML
#: 2001/01); among the known, t(8;21) 15% and inv(16) 6% (Klein 2022), the rest spread as in
#: paediatric relapse series.
DEFAULT_CYTOGENETICS_PROBS: dict[str, float] = {
    "t8_21": 0.10, "inv16": 0.045, "kmt2a_t9_11": 0.07, "kmt2a_t10_11": 0.04, "kmt2a_other": 0.06,
    "nup98": 0.035, "cbfa2t3_glis2": 0.015, "monosomy7": 0.035, "complex": 0.06, "normal": 0.13,
    "other": 0.11, "unknown": 0.30,
}

#: Log-odds effects on cure from second relapse (in CR2); risk-group values are from the 4-y OS
#: by karyotype after relapse (Klein 2022: inv(16) 71%, t(8;21) 59%, t(10;11) and complex 22%,
#: t(9;11) 19%, -7 17%, against about 38% trial-wide).
DEFAULT_CURE_EFFECTS: dict[str, float] = {
    "t8_21": 1.0, "inv16": 1.5, "kmt2a_t9_11": -1.4, "kmt2a_t10_11": -1.3, "kmt2a_other": -1.0,
    "nup98": -1.2, "cbfa2t3_glis2": -1.5, "monosomy7": -1.5, "complex": -1.3, "normal": 0.0,
    "other": 0.0, "unknown": 0.0,
    "early_relapse": -1.3,       # LAME: 5-y OS 24% vs 54% by CR1 < or > 12 months
    "flt3_itd": -0.5,            # JPLSG AML-05R: FLT3-ITD adverse
    "mrd_positive": -1.0,        # AAML03P1: 3-y relapse 60% vs 29% (HR ~2.7)
    "stemness_sd": -0.35,        # per SD of the latent stemness factor (LSC17 HR ~1.8 adults)
    "hsct_cr1": -0.8,            # prior allo-HSCT in CR1 adverse
    "no_hsct": -1.2,             # 87 of 90 BFM survivors transplanted
    "age_10_plus": -0.3,         # Sander 2010: age < 10 favourable
}


@dataclass(frozen=True)
class GeneratorParameters:
    """All parameters of the reference-cohort generator (see module docstring for the model)."""

    # covariates
    diagnosis_to_relapse_median_months: float = 12.0   # about half relapse within 12 months
    diagnosis_to_relapse_log_sd: float = 0.7
    age_gamma_shape: float = 2.2
    age_gamma_scale_years: float = 4.0
    cytogenetics_probs: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CYTOGENETICS_PROBS))
    p_flt3_itd: float = 0.12
    p_flt3_itd_nup98: float = 0.5
    p_npm1: float = 0.05
    p_npm1_normal: float = 0.3
    p_cd33_positive: float = 0.85
    p_hsct_cr1: float = 0.07
    stemness_adverse_shift: float = 0.35
    stemness_cbf_shift: float = -0.45
    stemness_measurement_sd: float = 0.45
    p_lsc17_missing: float = 0.40
    p_plsc6_missing: float = 0.55
    # re-induction
    response_assessment_months: tuple[float, float] = (1.0, 2.0)   # day-28 marrow to two courses
    p_early_death: float = 0.05                          # Relapsed AML 2001/01: 6%
    cr2_rate_reference: float = 0.85                    # late relapse, intermediate, no prior HSCT
    cr2_effects: dict[str, float] = field(default_factory=lambda: {
        "early_relapse": -1.9,   # Japan AML99: CR2 88% late vs 27% early; St Jude 65% vs 44%
        "favourable": 0.8, "adverse": -0.5, "hsct_cr1": -1.0, "stemness_sd": -0.3})
    # MRD (measured after re-induction 1 in patients reaching CR2)
    p_mrd_measured: float = 0.85
    mrd_positive_rate: float = 0.30                      # AAML03P1/AAML0531: 24-31% positive
    mrd_stemness_log_or: float = 0.5
    p_mrd_status_only: float = 0.10                      # status reported without a level
    p_ngs_chip_carrier: float = 0.25                     # of MRD-negative NGS patients
    # transplant after relapse
    p_hsct_if_cr2: float = 0.92
    p_hsct_if_no_cr2: float = 0.45
    hsct_months_cr2: tuple[float, float] = (2.5, 5.0)
    hsct_months_no_cr2: tuple[float, float] = (2.0, 4.0)
    # outcome in CR2: mixture cure for relapse competing with death in remission
    cure_rate_reference: float = 0.88                    # late, intermediate, MRD-neg, transplanted
    cure_effects: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CURE_EFFECTS))
    relapse_weibull_shape: float = 1.3
    relapse_weibull_scale_months: float = 9.0
    remission_death_weibull_shape: float = 0.5           # hazard falls after the first months
    remission_death_5y_risk: float = 0.05                # without HSCT
    remission_death_hsct_hr: float = 2.5                 # transplant-related mortality
    # after second relapse or refractory disease
    salvage_cure_after_relapse: float = 0.15              # Rasche 2021: 5-y OS 15% after 2nd relapse
    salvage_cure_refractory_hsct: float = 0.12
    salvage_cure_refractory_no_hsct: float = 0.01         # Sander 2010: no CR2, OS 3%
    death_after_event_median_months: float = 5.0
    # follow-up
    accrual_months: float = 120.0
    min_followup_months: float = 24.0
    loss_to_followup_per_month: float = 0.002

    def with_overrides(self, overrides: dict[str, Any]) -> GeneratorParameters:
        """A copy with some parameters replaced; dictionaries are merged key by key."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(f"unknown generator parameter(s): {', '.join(unknown)}")
        merged: dict[str, Any] = {}
        for key, value in overrides.items():
            current = getattr(self, key)
            if isinstance(current, dict):
                bad = sorted(set(value) - set(current))
                if bad:
                    raise KeyError(f"unknown key(s) in {key}: {', '.join(bad)}")
                merged[key] = {**current, **value}
            elif isinstance(current, tuple):
                merged[key] = tuple(value)
            else:
                merged[key] = type(current)(value)
        return replace(self, **merged)


@dataclass(frozen=True)
class Study:
    """One study of a reference cohort: its share of patients and its effect on cure (log-odds)."""

    name: str
    share: float
    cure_log_odds: float = 0.0


def simulate_reference_cohort(n: int, studies: list[Study], params: GeneratorParameters,
                              seed: int) -> pd.DataFrame:
    """Simulate ``n`` patients from the generative model, as a cohort file would hold them.

    Parameters
    ----------
    n : int
        Number of patients.
    studies : list of Study
        Studies and their shares (normalised to sum to one).
    params : GeneratorParameters
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same cohort.

    Returns
    -------
    pandas.DataFrame
        Columns of the cohort schema, rounded as a registry would record them.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    v = SimpleNamespace()    # the simulated quantities, filled stage by stage in a fixed order
    shares = np.array([s.share for s in studies], dtype=float)
    v.study_idx = rng.choice(len(studies), size=n, p=shares / shares.sum())
    v.study_offset = np.array([s.cure_log_odds for s in studies])[v.study_idx]
    for stage in (_draw_covariates, _draw_reinduction, _draw_course):
        stage(rng, n, params, v)
    return _observe(rng, n, params, v, studies, seed)


def _draw_covariates(rng: np.random.Generator, n: int, params: GeneratorParameters, v: SimpleNamespace) -> None:
    """Covariates at relapse: age, timing, cytogenetics, mutations, stemness."""
    # 1. covariates at relapse
    v.age = np.clip(rng.gamma(params.age_gamma_shape, params.age_gamma_scale_years, n), 0.3, 21.9)
    v.dx_to_relapse = np.exp(np.log(params.diagnosis_to_relapse_median_months)
                           + params.diagnosis_to_relapse_log_sd * rng.standard_normal(n))
    v.early = v.dx_to_relapse < 12.0
    probs = np.array([params.cytogenetics_probs[c] for c in CYTOGENETICS])
    v.cyto = np.array(CYTOGENETICS)[rng.choice(len(CYTOGENETICS), size=n, p=probs / probs.sum())]
    v.risk = np.array([RISK_GROUP_OF[c] for c in v.cyto])
    v.cbf = np.isin(v.cyto, CBF_CLASSES)
    v.adverse = v.risk == "adverse"
    v.flt3 = rng.random(n) < np.where(v.cyto == "nup98", params.p_flt3_itd_nup98, params.p_flt3_itd)
    v.npm1 = (rng.random(n) < np.where(v.cyto == "normal", params.p_npm1_normal, params.p_npm1)) & ~v.cbf
    v.cd33 = rng.random(n) < params.p_cd33_positive
    v.hsct_cr1 = rng.random(n) < params.p_hsct_cr1
    v.stem = (params.stemness_adverse_shift * v.adverse + params.stemness_cbf_shift * v.cbf
            + rng.standard_normal(n))
    noise = params.stemness_measurement_sd
    v.lsc17 = 0.60 + 0.25 * (v.stem + noise * rng.standard_normal(n))
    v.plsc6 = 2.00 + 0.35 * (v.stem + noise * rng.standard_normal(n))
    v.lsc17[rng.random(n) < params.p_lsc17_missing] = np.nan
    v.plsc6[rng.random(n) < params.p_plsc6_missing] = np.nan


def _draw_reinduction(rng: np.random.Generator, n: int, params: GeneratorParameters, v: SimpleNamespace) -> None:
    """Re-induction (early death, CR2, day-28 blasts), MRD in CR2 and the intended HSCT."""
    # 2. re-induction
    v.assessment = np.round(rng.uniform(*params.response_assessment_months, n), 2)
    v.early_death = rng.random(n) < params.p_early_death
    v.early_death_time = 0.1 + (v.assessment - 0.1) * rng.random(n)
    e = params.cr2_effects
    cr2_lp = (logit(params.cr2_rate_reference) + e["early_relapse"] * v.early
              + e["favourable"] * v.cbf + e["adverse"] * v.adverse + e["hsct_cr1"] * v.hsct_cr1
              + e["stemness_sd"] * v.stem)
    v.cr2 = ~v.early_death & (rng.random(n) < expit(cr2_lp))
    v.blasts = np.where(
        v.cr2,
        np.where(rng.random(n) < 0.8, rng.uniform(0.0, 5.0, n), rng.uniform(5.1, 10.0, n)),
        rng.choice([7.0, 15.0, 40.0], size=n, p=[0.15, 0.30, 0.55]) * rng.uniform(0.8, 1.2, n),
    )
    v.blasts = np.where(v.early_death, np.nan, np.clip(v.blasts, 0.0, 100.0))

    # 3. MRD after re-induction 1 (only in CR2)
    v.mrd = _simulate_mrd(rng, n, v.cr2, v.stem, v.cbf | v.npm1, params)

    # 4. intended HSCT after relapse
    v.wants_hsct = rng.random(n) < np.where(v.cr2, params.p_hsct_if_cr2, params.p_hsct_if_no_cr2)
    lo, hi = np.where(v.cr2, params.hsct_months_cr2[0], params.hsct_months_no_cr2[0]),\
        np.where(v.cr2, params.hsct_months_cr2[1], params.hsct_months_no_cr2[1])
    v.hsct_time = rng.uniform(lo, hi)


def _draw_course(rng: np.random.Generator, n: int, params: GeneratorParameters, v: SimpleNamespace) -> None:
    """Cure or second relapse and death in remission in CR2; refractory disease; salvage."""
    # 5. CR2: cure mixture for relapse, competing death in remission
    c = params.cure_effects
    cure_lp = (logit(params.cure_rate_reference) + v.study_offset
               + np.array([c[k] for k in v.cyto]) + c["early_relapse"] * v.early
               + c["flt3_itd"] * v.flt3 + c["mrd_positive"] * v.mrd["true_positive"]
               + c["stemness_sd"] * v.stem + c["hsct_cr1"] * v.hsct_cr1
               + c["no_hsct"] * ~v.wants_hsct + c["age_10_plus"] * (v.age >= 10.0))
    v.cured = rng.random(n) < expit(cure_lp)
    v.relapse_time = v.assessment + params.relapse_weibull_scale_months * rng.weibull(params.relapse_weibull_shape, n)
    v.relapse_time[v.cured] = np.inf
    planned = np.where(v.wants_hsct & v.cr2, v.hsct_time - v.assessment, np.inf)
    v.remission_death = v.assessment + _remission_death_times(rng, n, planned, params)

    v.refractory_time = v.assessment
    v.event_time = np.where(v.cr2, v.relapse_time, np.where(v.early_death, np.inf, v.refractory_time))
    v.death_first = np.where(v.cr2, v.remission_death, np.where(v.early_death, v.early_death_time, np.inf))
    v.relapsed = v.event_time < v.death_first
    v.hsct_done = v.wants_hsct & ~v.early_death & np.where(
        v.cr2, v.hsct_time < np.minimum(v.relapse_time, v.remission_death), True)
    v.hsct_time = np.where(v.cr2 | ~v.hsct_done, v.hsct_time, v.refractory_time + rng.uniform(1.0, 2.0, n))

    # 6. after second relapse or refractory disease
    salvage = np.where(v.cr2, params.salvage_cure_after_relapse,
                       np.where(v.hsct_done, params.salvage_cure_refractory_hsct,
                                params.salvage_cure_refractory_no_hsct))
    survives_event = rng.random(n) < salvage
    death_after = v.event_time + rng.exponential(params.death_after_event_median_months / np.log(2), n)
    death_after[survives_event] = np.inf
    v.death_time = np.where(v.relapsed, death_after, v.death_first)
    v.relapse_obs_time = np.where(v.relapsed, v.event_time, np.inf)


def _observe(rng: np.random.Generator, n: int, params: GeneratorParameters, v: SimpleNamespace,
             studies: list[Study], seed: int) -> pd.DataFrame:
    """Censoring by accrual and loss to follow-up, and the cohort file's columns."""
    # 7. censoring
    entry = rng.uniform(0.0, params.accrual_months, n)
    admin = params.accrual_months + params.min_followup_months - entry
    censor = np.round(np.minimum(admin, rng.exponential(1.0 / params.loss_to_followup_per_month, n)), 2)
    died = v.death_time <= censor
    # lost to follow-up alive before the assessment: response, MRD and transplant unknown
    v.unassessed = ~died & (censor < v.assessment)
    second_relapse = v.relapse_obs_time <= censor
    hsct_seen = v.hsct_done & (v.hsct_time <= np.minimum(censor, v.death_time))

    centre = np.array([f"C{k:02d}" for k in range(1, 13)])[rng.integers(0, 12, n)]
    regimen = np.array(["FLAG-Ida", "FLAG + liposomal daunorubicin", "other"])[
        rng.choice(3, size=n, p=[0.6, 0.25, 0.15])]

    frame = pd.DataFrame({
        "patient_id": [f"{seed % 1000:03d}-{i + 1:04d}" for i in range(n)],
        "study": np.array([s.name for s in studies])[v.study_idx],
        "centre": centre,
        "age_years": np.round(v.age, 1),
        "months_diagnosis_to_relapse": np.round(v.dx_to_relapse, 1),
        "cytogenetics": v.cyto,
        "flt3_itd": _yes_no(v.flt3), "npm1": _yes_no(v.npm1), "cd33_positive": _yes_no(v.cd33),
        "lsc17": np.round(v.lsc17, 4), "plsc6": np.round(v.plsc6, 4),
        "mrd_status": v.mrd["status"], "mrd_level_pct": v.mrd["level"], "mrd_method": v.mrd["method"],
        "mrd_timepoint": np.where(v.mrd["method"] != "", "reinduction1", ""),
        "mrd_markers": v.mrd["markers"],
        "hsct_cr1": _yes_no(v.hsct_cr1),
        "response_assessment_months": v.assessment,   # as planned, also for early deaths and the lost
        "cr2": np.where(v.unassessed, "", _yes_no(v.cr2)),
        "day28_blasts_pct": np.where(v.unassessed, np.nan, np.round(v.blasts, 1)),
        "hsct_after_relapse": np.where(v.unassessed, "", _yes_no(hsct_seen)),
        "hsct_after_relapse_months": np.where(hsct_seen, np.round(v.hsct_time, 2), np.nan),
        "regimen": regimen,
        "second_relapse": _yes_no(second_relapse),
        "second_relapse_months": np.where(second_relapse, np.round(v.relapse_obs_time, 2), np.nan),
        "died": _yes_no(died),
        "death_months": np.where(died, np.round(v.death_time, 2), np.nan),
        "followup_months": np.where(died, np.nan, np.round(censor, 2)),
    })
    for key in ("mrd_status", "mrd_method", "mrd_timepoint", "mrd_markers"):
        frame.loc[v.unassessed, key] = ""
    frame.loc[v.unassessed, "mrd_level_pct"] = np.nan
    # rounding must not reorder events: a responder's relapse or death, and a refractory patient's
    # death, stay after the assessment; a relapse recorded at the same time as death stays first
    after = np.round(v.assessment + 0.01, 2)
    for key, rows in (("second_relapse_months", second_relapse & v.cr2), ("death_months", died & ~v.early_death)):
        frame.loc[rows, key] = np.maximum(frame.loc[rows, key], after[rows])
    both = second_relapse & died
    frame.loc[both, "death_months"] = np.maximum(frame.loc[both, "death_months"],
                                                 frame.loc[both, "second_relapse_months"])
    return frame


def _remission_death_times(rng: np.random.Generator, n: int, hsct_time: np.ndarray,
                           params: GeneratorParameters) -> np.ndarray:
    """Weibull death-in-remission times whose hazard is multiplied after HSCT.

    Baseline cumulative hazard H0(t) = H5 (t / 60)^shape; after HSCT at s it becomes
    H0(t) + (m - 1)(H0(t) - H0(s)). Inverting at an Exp(1) draw E is closed-form on each piece.
    """
    shape = params.remission_death_weibull_shape
    h5 = -np.log1p(-params.remission_death_5y_risk)
    m = params.remission_death_hsct_hr
    e = rng.exponential(1.0, n)
    h_at_hsct = np.where(np.isfinite(hsct_time), h5 * (np.minimum(hsct_time, 1e6) / 60.0) ** shape, np.inf)
    h0 = np.where(e < h_at_hsct, e, (e + (m - 1.0) * h_at_hsct) / m)
    return 60.0 * (h0 / h5) ** (1.0 / shape)


def _simulate_mrd(rng: np.random.Generator, n: int, cr2: np.ndarray, stem: np.ndarray,
                  has_fusion_or_npm1: np.ndarray, params: GeneratorParameters) -> dict[str, np.ndarray]:
    measured = cr2 & (rng.random(n) < params.p_mrd_measured)
    true_positive = cr2 & (rng.random(n) < expit(logit(params.mrd_positive_rate)
                                                + params.mrd_stemness_log_or * stem))
    u = rng.random(n)
    method = np.where(has_fusion_or_npm1 & (u < 0.6), "qpcr", np.where(u > 0.85, "ngs", "flow"))
    positive_level = 10 ** rng.uniform(-1.0, 1.3, n)         # 0.1% to 20%
    negative_level = np.where(rng.random(n) < 0.3, 0.0, 10 ** rng.uniform(-3.0, -1.1, n))
    level = np.where(true_positive, positive_level, negative_level)
    chip = (method == "ngs") & ~true_positive & (rng.random(n) < params.p_ngs_chip_carrier)
    level = np.where(chip, 10 ** rng.uniform(0.0, 1.2, n), level)  # CHIP VAF 1-16%
    leukaemic = np.array(["NPM1", "FLT3", "WT1", "NRAS", "KIT"])[rng.integers(0, 5, n)]
    chip_gene = np.array(["DNMT3A", "TET2", "ASXL1", "DNMT3A;TET2"])[rng.integers(0, 4, n)]
    markers = np.where(method != "ngs", "",
                       np.where(chip, chip_gene, np.where(true_positive, leukaemic, "")))
    status_only = rng.random(n) < params.p_mrd_status_only
    status = np.where(status_only, np.where(true_positive, "positive", "negative"), "")
    level = np.where(status_only, np.nan, np.round(level, 4))
    return {
        "true_positive": true_positive,
        "method": np.where(measured, method, ""),
        "level": np.where(measured, level, np.nan),
        "status": np.where(measured, status, ""),
        "markers": np.where(measured, markers, ""),
    }


def _yes_no(flag: np.ndarray) -> np.ndarray:
    return np.where(flag, "yes", "no")

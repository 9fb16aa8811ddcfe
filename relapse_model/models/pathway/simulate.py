"""The pathway model's own generative code: whole paths per parameter draw, vectorised.

Arrays are (draws S, patients n, replicates K); there is no loop over patients. For each path:
response (softmax), early-death time uniform on (0, a], MRD category of responders, cure in
remission, Weibull times of relapse (non-cured), death and transplant from the assessment; after
transplant a fresh cure indicator with probability logistic(eta_cure + H_R(u_s) + delta) (the
likelihood's post-transplant cure: drawing it afresh gives the same distribution of observable
paths as carrying the remission cure forward), relapse with hazard ratio e^gamma and the
transplant-related death hazard; in the relapsed/refractory state death (hazard ratio e^theta
after a second relapse) and salvage transplant. Censoring at ``censor`` (none by default).
A Weibull time with H(t) = (t / lambda)^k e^eta is lambda (E e^-eta)^(1/k), E ~ Exp(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relapse_model.models.design import Design
from relapse_model.models.pathway.build import TRANSPLANT_TIME_CENTRE
from relapse_model.models.pathway.parameters import PathwayParameters, patient_predictors
from relapse_model.models.pathway.paths import (CENSORED_BEFORE_ASSESSMENT, EARLY_DEATH, MRD_POSITIVE, MRD_UNKNOWN,
                                                REFRACTORY, RESPONSE)


@dataclass(frozen=True)
class SimulatedPaths:
    """Simulated paths, each array (S, n, K); times in months from relapse, NaN = not observed.

    ``end`` is the time of death or of censoring; ``cured`` the latent cure (responders: the
    remission cure, or the post-transplant cure after a transplant from remission).
    """

    assessment: np.ndarray
    response: np.ndarray
    mrd: np.ndarray
    transplant: np.ndarray
    relapse: np.ndarray
    death: np.ndarray
    end: np.ndarray
    cured: np.ndarray


@dataclass(frozen=True)
class TransitionOffsets:
    """Shifts added to the model's linear predictors, each 0 or an array broadcastable to the
    paths' shape (S, n, K): how a virtual trial gives some patients a treatment effect.

    ``response`` is a log odds ratio of response against refractory disease and early death
    together (both their logits move down by it); ``early_death`` then moves the logit of early
    death against response; ``mrd_negative`` the log odds of MRD negativity against positivity
    in responders ("not measured" is untouched); ``cure`` the log odds of cure in remission,
    carried through transplant; ``relapse``, ``death`` and ``transplant`` are log hazard ratios
    of relapse (before and after transplant from remission), death without relapse (in
    remission and after that transplant) and transplant from remission.
    """

    response: Any = 0.0
    early_death: Any = 0.0
    mrd_negative: Any = 0.0
    cure: Any = 0.0
    relapse: Any = 0.0
    death: Any = 0.0
    transplant: Any = 0.0


NO_OFFSETS = TransitionOffsets()


def _expand(x: np.ndarray) -> np.ndarray:
    """(S,) -> (S, 1, 1); (S, n) -> (S, n, 1)."""
    return x[:, None, None] if x.ndim == 1 else x[:, :, None]


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _weibull_time(rng, shape, log_shape, log_scale, eta=0.0, after=None):
    """Weibull times; with ``after`` (clock time already survived) the residual time given
    survival to it, by H(T) = H(after) + E."""
    e = rng.exponential(size=shape)
    k, scale = np.exp(_expand(log_shape)), np.exp(_expand(log_scale))
    if after is not None:
        e = e + (after / scale) ** k * np.exp(eta)
    return scale * (e * np.exp(-eta)) ** (1.0 / k)


def _cum_h(t, log_shape, log_scale):
    return np.exp(np.exp(_expand(log_shape)) * (np.log(t) - _expand(log_scale)))


def _cum_h0(t, log_shape, log_scale):
    """Cumulative hazard that is 0 at t = 0 without a log(0) warning."""
    t = np.asarray(t, dtype=float)
    return np.where(t > 0, _cum_h(np.where(t > 0, t, 1.0), log_shape, log_scale), 0.0)


def _categorical(rng, shape, eta1, eta2):
    """Codes 0, 1, 2 with logits (0, eta1, eta2)."""
    z = np.stack(np.broadcast_arrays(np.zeros(shape), eta1, eta2))
    p = np.exp(z - z.max(axis=0))
    p /= p.sum(axis=0)
    u = rng.random(shape)
    return np.where(u < p[0], 0, np.where(u < p[0] + p[1], 1, 2))


def remission_cure_logit(params, eta_c, mrd):
    """Log odds of cure at the assessment: ``eta_c`` (without MRD) plus the MRD category's effect."""
    mrd_effect = params.remission_cure_beta[:, [params.cure_covariates.index(c)
                                                for c in ("mrd_positive", "mrd_unknown")]]
    return eta_c + _expand(mrd_effect[:, 0]) * (mrd == MRD_POSITIVE) + _expand(mrd_effect[:, 1]) * (mrd == MRD_UNKNOWN)


def _remission(rng, params, shape, eta_c, mrd, after=None, off: TransitionOffsets = NO_OFFSETS):
    """Cure, then (relapse, death, transplant) times from the assessment, and the cure logit.

    With ``after`` (time since the assessment survived relapse-free, untransplanted) the cure
    is drawn from its posterior given that survival, logit ``eta + H_R(after)``, and the times
    are residual times beyond ``after``; the returned logit is the one at the assessment.
    """
    eta = remission_cure_logit(params, eta_c, mrd)
    w = params.weibull
    updated = eta if after is None else eta + _cum_h0(after, *w["relapse"]) * np.exp(off.relapse)
    cured = rng.random(shape) < _logistic(updated)
    t_r = np.where(cured, np.inf, _weibull_time(rng, shape, *w["relapse"], eta=off.relapse, after=after))
    return (cured, t_r, _weibull_time(rng, shape, *w["death"], eta=off.death, after=after),
            _weibull_time(rng, shape, *w["transplant"], eta=off.transplant, after=after), eta)


def _after_transplant(rng, params, shape, eta_c, mrd, u_s, after=None, off: TransitionOffsets = NO_OFFSETS):
    """Cure after transplant, then (relapse, death) times since transplant; with ``after`` (time
    since transplant survived relapse-free) cure given that survival and residual times."""
    w, mod = params.weibull, params.transplant_cure_modifier
    u_s_safe = np.where(np.isfinite(u_s), u_s, TRANSPLANT_TIME_CENTRE)
    delta = (_expand(params.transplant_cure_shift) + _expand(mod[:, 0]) * (mrd == MRD_POSITIVE)
             + _expand(mod[:, 1]) * (mrd == MRD_UNKNOWN) + _expand(mod[:, 2]) * np.log(u_s_safe / TRANSPLANT_TIME_CENTRE))
    gamma = _expand(params.transplant_relapse_log_hr) + off.relapse
    eta = eta_c + _cum_h(u_s_safe, *w["relapse"]) * np.exp(off.relapse) + delta
    if after is not None:
        eta = eta + _cum_h0(after, *w["relapse"]) * np.exp(gamma)
    cured = rng.random(shape) < _logistic(eta)
    v_r = _weibull_time(rng, shape, *w["relapse"], eta=gamma, after=after)
    return (cured, np.where(cured, np.inf, v_r),
            _weibull_time(rng, shape, *w["transplant_death"], eta=off.death, after=after))


@dataclass(frozen=True)
class RemissionCourse:
    """The course from remission (times from relapse, NaN = did not happen): relapse, death in
    remission or after transplant from remission, transplant from remission, and cure."""

    relapse: np.ndarray
    death: np.ndarray
    transplant: np.ndarray
    cured: np.ndarray


def remission_course(rng, params, shape, a, eta_c, mrd, responding, after=None,
                     transplant_allowed=None, offsets: TransitionOffsets = NO_OFFSETS) -> RemissionCourse:
    """Paths of responders from the assessment ``a`` (or from ``a + after``, survived in remission);
    where ``transplant_allowed`` is False nobody is transplanted from remission (a counterfactual).
    ``eta_c`` already includes any cure offset."""
    cured_r, t_r, t_d, t_t, eta_c = _remission(rng, params, shape, eta_c, mrd, after, offsets)
    if transplant_allowed is not None:
        t_t = np.where(transplant_allowed, t_t, np.inf)
    tx = responding & (t_t < t_r) & (t_t < t_d)
    cured_t, v_r, v_d = _after_transplant(rng, params, shape, eta_c, mrd, np.where(tx, t_t, np.nan), off=offsets)
    relapse = np.where(tx, np.where(v_r < v_d, a + t_t + v_r, np.nan),
                       np.where(responding & (t_r < np.minimum(t_d, t_t)), a + t_r, np.nan))
    death = np.where(tx, np.where(v_d < v_r, a + t_t + v_d, np.nan),
                     np.where(responding & (t_d < np.minimum(t_r, t_t)), a + t_d, np.nan))
    return RemissionCourse(relapse, death, np.where(tx, a + t_t, np.nan), responding & np.where(tx, cured_t, cured_r))


def relapsed_course(rng, params, shape, entry, by_relapse, may_transplant, after=None):
    """(death, salvage transplant) times from relapse in the relapsed/refractory state entered at
    ``entry``; with ``after`` (time in the state survived) residual times."""
    w = params.weibull
    w_d = _weibull_time(rng, shape, *w["rr_death"], eta=_expand(params.rr_death_second_relapse_log_hr) * by_relapse,
                        after=after)
    w_t = _weibull_time(rng, shape, *w["rr_transplant"], after=after)
    return entry + w_d, np.where(may_transplant & (w_t < w_d), entry + w_t, np.nan)


def simulate_paths(params: PathwayParameters, design: Design, assessment: np.ndarray, *, replicates: int = 1,
                   censor: np.ndarray | None = None, seed: int = 0, alive_at: np.ndarray | None = None) -> SimulatedPaths:
    """Draw ``replicates`` whole paths per draw and patient.

    Parameters
    ----------
    params : PathwayParameters
    design : Design
        The patients (baseline covariates; MRD columns are not used: MRD is drawn).
    assessment : (n,) array
        Response assessment times (months from relapse).
    censor : array broadcastable to (S, n, K), optional
        Censoring times (default: none).
    seed : int
    alive_at : (n,) array, optional
        Times before the assessment each patient is known to have survived (paths given
        survival to then: an early death falls after it, with its probability scaled by the
        share of (0, a] left). Default 0.
    """
    rng = np.random.default_rng(seed)
    shape = (params.n_draws, design.n, replicates)
    pp = patient_predictors(params, design)
    a = np.broadcast_to(np.asarray(assessment, float)[None, :, None], shape)
    alive = np.zeros(shape) if alive_at is None else np.broadcast_to(np.asarray(alive_at, float)[None, :, None], shape)
    eta_e = _expand(pp.eta_early_death) + (0.0 if alive_at is None else np.log1p(-np.minimum(alive / a, 1 - 1e-12)))
    paths = paths_from_predictors(rng, params, shape, _expand(pp.eta_refractory), eta_e,
                                  _expand(pp.eta_cure_without_mrd), a, alive)
    return _censored(paths, censor)


def paths_from_predictors(rng: np.random.Generator, params: PathwayParameters, shape: tuple[int, int, int],
                          eta_refractory, eta_early_death, eta_cure, assessment, alive=0.0,
                          offsets: TransitionOffsets = NO_OFFSETS) -> SimulatedPaths:
    """Uncensored paths of shape ``shape`` from patients' linear predictors (broadcastable to it).

    The draws of ``params`` run along the first axis (one per simulated trial in a virtual
    trial, where ``params`` holds that trial's draw). ``alive`` is the time before the
    assessment each path is known to have survived (0: none), ``offsets`` any treatment effects.
    """
    a = assessment
    response = _categorical(rng, shape, eta_refractory - offsets.response,
                            eta_early_death - offsets.response + offsets.early_death)
    mrd = np.where(response == RESPONSE,
                   _categorical(rng, shape, _expand(params.mrd_positive_log_odds) - offsets.mrd_negative,
                                _expand(params.mrd_unknown_log_odds)), -1)
    course = remission_course(rng, params, shape, a, eta_cure + offsets.cure, mrd, response == RESPONSE,
                              offsets=offsets)
    refractory = response == REFRACTORY
    by_relapse = np.isfinite(course.relapse)
    in_rr = refractory | by_relapse
    rr_death, salvage = relapsed_course(rng, params, shape, np.where(refractory, a, course.relapse), by_relapse,
                                        in_rr & ~np.isfinite(course.transplant))
    transplant = np.where(np.isfinite(salvage), salvage, course.transplant)
    early = alive + (a - alive) * (1.0 - rng.random(shape))
    death = np.select([response == EARLY_DEATH, in_rr], [early, rr_death], course.death)
    return SimulatedPaths(a, response, mrd, transplant, course.relapse, death, death, course.cured)


def _censored(paths: SimulatedPaths, censor: np.ndarray | None) -> SimulatedPaths:
    """Paths as observed when follow-up ends at ``censor``."""
    if censor is None:
        return SimulatedPaths(paths.assessment, paths.response, paths.mrd, paths.transplant, paths.relapse,
                              paths.death, np.where(np.isfinite(paths.death), paths.death, np.inf), paths.cured)
    c = np.broadcast_to(censor, paths.response.shape)
    death = np.where(paths.death <= c, paths.death, np.nan)
    unassessed = (c < paths.assessment) & ~(np.isfinite(death) & (paths.response == EARLY_DEATH))
    return SimulatedPaths(
        paths.assessment, np.where(unassessed, CENSORED_BEFORE_ASSESSMENT, paths.response),
        np.where(unassessed, -1, paths.mrd), np.where(paths.transplant <= c, paths.transplant, np.nan),
        np.where(paths.relapse <= c, paths.relapse, np.nan), death, np.where(np.isfinite(death), death, c),
        paths.cured)


def as_cohort_frame(paths: SimulatedPaths, covariates: pd.DataFrame, draw: int = 0, replicate: int = 0) -> pd.DataFrame:
    """One simulated data set in the cohort schema: ``covariates`` (the template's rows, schema
    columns) with the response, MRD, transplant and outcome columns replaced by the paths of one
    draw and replicate; refractory disease is recorded as ``second_relapse`` at the assessment."""
    def pick(x):
        return x[draw, :, replicate]

    frame = covariates.copy()
    response, mrd, died = pick(paths.response), pick(paths.mrd), np.isfinite(pick(paths.death))
    frame["response_assessment_months"] = pick(paths.assessment)
    frame["cr2"] = pd.array(np.where(response == RESPONSE, True, np.where(response == REFRACTORY, False, None)),
                            dtype="boolean")
    frame["mrd_status"] = np.select([mrd == 0, mrd == 1, mrd == 2], ["negative", "positive", "unknown"], "")
    for column in ("mrd_level_pct", "mrd_method", "mrd_timepoint", "mrd_markers"):
        frame[column] = pd.NA
    transplant = pick(paths.transplant)
    frame["hsct_after_relapse"] = np.isfinite(transplant)
    frame["hsct_after_relapse_months"] = transplant
    second = np.where(response == REFRACTORY, pick(paths.assessment), pick(paths.relapse))
    frame["second_relapse"] = np.isfinite(second)
    frame["second_relapse_months"] = second
    frame["died"] = died
    frame["death_months"] = pick(paths.death)
    frame["followup_months"] = np.where(died, np.nan, pick(paths.end))
    return frame


def simulate_cohort(params: PathwayParameters, template: pd.DataFrame, design: Design, *, seed: int = 0,
                    followup: tuple[float, float] = (24.0, 96.0),
                    assessment: float | np.ndarray | None = None) -> pd.DataFrame:
    """A fake data set in the cohort schema from the first draw of ``params``: the template's
    covariates (``template`` = its schema columns, ``design`` = its design), paths drawn by
    :func:`simulate_paths`, administrative censoring uniform on ``followup`` months."""
    from relapse_model.models.pathway.paths import DEFAULT_ASSESSMENT_MONTHS

    rng = np.random.default_rng([seed, 1])
    censor = rng.uniform(*followup, size=(1, design.n, 1))
    a = np.full(design.n, DEFAULT_ASSESSMENT_MONTHS if assessment is None else assessment, dtype=float)
    paths = simulate_paths(params.thin(1), design, a, censor=censor, seed=seed)
    return as_cohort_frame(paths, template)

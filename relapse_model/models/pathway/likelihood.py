"""The log-likelihood of each patient's whole observed path (one term per patient, for LOO).

Clocks (semi-Markov): the response-state hazards run on time since the assessment ``u = t - a``;
post-transplant hazards on time since transplant ``v = t - s``; relapsed/refractory hazards on
time since entering that state ``w = t - r``. Weibull hazards h, H (``models/baselines.py``).

Terms of patient i (log scale, summed):

1. response, softmax over (response, refractory, early death) with logits (0, eta_N, eta_E):
   log p_k; a patient censored before the assessment with response unknown: log(1 - p_E c / a)
   (early deaths spread uniformly over (0, a]; their timing carries no parameter);
2. responders: MRD category, softmax over (negative, positive, unknown) with logits (0, m_P, m_U);
3. responders before transplant, cure pi = logistic(eta_C) acting on relapse, hazards of relapse
   (non-cured) h_R, death h_D and transplant h_T, exit at ``u``:
   relapse: log(1 - pi) + log h_R - H_R - H_D - H_T;
   death / transplant / censored: log(pi + (1 - pi) e^{-H_R}) + [log h_D | log h_T | 0] - H_D - H_T;
4. after transplant at ``u_s`` (exit at ``v``): the probability of being cured is
   pi* = logistic(eta_C + H_R(u_s) + delta), where eta_C + H_R(u_s) is the log odds of cure given
   relapse-free survival to transplant (Bayes) and delta is the transplant's cure effect
   (plus MRD and time-to-transplant modifiers). The non-cured relapse hazard is
   h_R(v) e^gamma (gamma: log hazard ratio after vs before transplant, same sojourn time);
   death h_DT (its own baseline: transplant-related mortality). delta = gamma = 0 and h_DT = h_D
   with constant hazards is exactly "transplant has no effect";
   relapse: log(1 - pi*) + log h_R + gamma - H_R e^gamma - H_DT;
   death / censored: log(pi* + (1 - pi*) e^{-H_R e^gamma}) + [log h_DT | 0] - H_DT;
5. relapsed/refractory (entered at ``a`` when refractory, at second relapse otherwise): death
   hazard h_X e^{theta [entered by relapse]}; patients not yet transplanted also carry the
   salvage-transplant hazard h_TX (no effect on death in this step):
   dead * log h_X - H_X + at_risk_T * (transplanted * log h_TX - H_TX).

Written with ``xp`` = numpy or pytensor.tensor so sampler and tests share the formulas. Each term
is computed only on the patients it concerns (:class:`SojournIndex`: responders, transplanted,
relapsed/refractory, censored before the assessment), on log sojourn times taken once from the
data, and added into the (n,) vector of per-patient terms; with pytensor every piece is one
fused elementwise kernel and one scatter-add (``inc_subtensor`` with repeated indices).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from relapse_model.models.baselines import weibull_cumulative_hazard, weibull_log_hazard
from relapse_model.models.likelihood import cure_mixture, logaddexp
from relapse_model.models.pathway.paths import (CENSORED_BEFORE_ASSESSMENT, EARLY_DEATH, REFRACTORY, RESPONSE,
                                                ObservedPaths)

#: Exit codes of a sojourn.
CENSORED, RELAPSE, DEATH, TRANSPLANT = 0, 1, 2, 3
#: Shortest sojourn (months): an event on the day of entry has a finite log hazard.
MIN_SOJOURN = 1e-3


@dataclass(frozen=True)
class Sojourns:
    """Numeric arrays of every patient's sojourns, computed once from :class:`ObservedPaths`
    (unused entries hold safe values and a zero indicator)."""

    response: np.ndarray        # response code
    censor_fraction: np.ndarray  # c / a for patients censored before the assessment
    mrd: np.ndarray             # MRD code (0 for non-responders, masked by is_response)
    is_response: np.ndarray     # float 0/1
    u: np.ndarray               # sojourn time in the response state
    u_exit: np.ndarray          # exit code of that sojourn
    is_transplanted: np.ndarray  # transplanted from the response state
    v: np.ndarray               # time after transplant
    v_exit: np.ndarray
    in_rr: np.ndarray           # entered the relapsed/refractory state
    by_relapse: np.ndarray      # ... by a second relapse (not refractory at the assessment)
    w: np.ndarray               # time in that state (to death or censoring)
    w_dead: np.ndarray
    rr_at_risk: np.ndarray      # not transplanted before entering it
    rr_transplanted: np.ndarray
    w_transplant: np.ndarray    # exposure to the salvage-transplant hazard

    @property
    def n(self) -> int:
        return len(self.response)

    @cached_property
    def index(self) -> SojournIndex:
        """The patients of each term and their log sojourn times (computed once)."""
        return sojourn_index(self)


def _pos(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), np.maximum(x, MIN_SOJOURN), 1.0)


def sojourns(paths: ObservedPaths) -> Sojourns:
    """Split each observed path into its sojourns."""
    a, s, r, d, c = paths.assessment, paths.transplant, paths.relapse, paths.death, paths.censor
    resp = paths.response == RESPONSE
    inf = np.inf
    s_cr = np.where(resp & np.isfinite(s) & ~(np.isfinite(r) & (s >= r)), s, inf)   # transplant from CR
    r_cr = np.where(resp & np.isfinite(r), r, inf)
    d_f = np.where(np.isfinite(d), d, inf)
    end_cr = np.minimum.reduce([s_cr, r_cr, d_f, c])
    u_exit = np.select([r_cr == end_cr, d_f == end_cr, s_cr == end_cr], [RELAPSE, DEATH, TRANSPLANT], CENSORED)
    tx = resp & np.isfinite(s_cr)
    end_t = np.minimum.reduce([r_cr, d_f, c])
    v_exit = np.select([r_cr == end_t, d_f == end_t], [RELAPSE, DEATH], CENSORED)
    refractory = paths.response == REFRACTORY
    in_rr = refractory | (resp & np.isfinite(r))
    entry = np.where(refractory, a, np.where(np.isfinite(r), r, np.nan))
    rr_at_risk = in_rr & ~tx
    rr_tx = rr_at_risk & np.isfinite(s)
    w_end = np.where(np.isfinite(d), d, c) - entry
    cens_frac = np.where(paths.response == CENSORED_BEFORE_ASSESSMENT, np.clip(c / a, 0.0, 1.0), 0.0)
    return Sojourns(
        response=paths.response.astype(np.int64), censor_fraction=cens_frac,
        mrd=np.where(resp, paths.mrd, 0).astype(np.int64), is_response=resp.astype(float),
        u=_pos(np.where(resp, end_cr - a, np.nan)), u_exit=np.where(resp, u_exit, CENSORED).astype(np.int64),
        is_transplanted=tx.astype(float),
        v=_pos(np.where(tx, end_t - s_cr, np.nan)), v_exit=np.where(tx, v_exit, CENSORED).astype(np.int64),
        in_rr=in_rr.astype(float), by_relapse=(in_rr & ~refractory).astype(float),
        w=_pos(np.where(in_rr, w_end, np.nan)), w_dead=(in_rr & np.isfinite(d)).astype(float),
        rr_at_risk=rr_at_risk.astype(float), rr_transplanted=rr_tx.astype(float),
        w_transplant=_pos(np.where(rr_tx, s - entry, np.where(rr_at_risk, w_end, np.nan))),
    )


@dataclass(frozen=True)
class SojournIndex:
    """Positions (into the n patients) of the patients each term concerns, with their data.

    ``censored``: censored before the assessment (``censor_fraction`` c / a); ``responders``
    (``mrd``, ``log_u``, ``u_exit``); ``transplanted`` from remission (``log_u_s``: log time to
    transplant, ``log_v``, ``v_exit``); ``rr``: in the relapsed/refractory state (``by_relapse``,
    ``log_w``, ``w_dead``); ``rr_at_risk``: those of them exposed to salvage transplant
    (``log_w_transplant``, ``rr_transplanted``). Indicators are float 0/1, codes int.
    """

    censored: np.ndarray
    censor_fraction: np.ndarray
    responders: np.ndarray
    mrd: np.ndarray
    log_u: np.ndarray
    u_exit: np.ndarray
    transplanted: np.ndarray
    log_u_s: np.ndarray
    log_v: np.ndarray
    v_exit: np.ndarray
    rr: np.ndarray
    by_relapse: np.ndarray
    log_w: np.ndarray
    w_dead: np.ndarray
    rr_at_risk: np.ndarray
    log_w_transplant: np.ndarray
    rr_transplanted: np.ndarray


def sojourn_index(so: Sojourns) -> SojournIndex:
    """The :class:`SojournIndex` of ``so``."""
    cens = np.flatnonzero(so.response == CENSORED_BEFORE_ASSESSMENT)
    resp, tx = np.flatnonzero(so.is_response > 0), np.flatnonzero(so.is_transplanted > 0)
    rr, at_risk = np.flatnonzero(so.in_rr > 0), np.flatnonzero((so.in_rr > 0) & (so.rr_at_risk > 0))
    return SojournIndex(
        censored=cens, censor_fraction=so.censor_fraction[cens],
        responders=resp, mrd=so.mrd[resp], log_u=np.log(so.u[resp]), u_exit=so.u_exit[resp],
        transplanted=tx, log_u_s=np.log(so.u[tx]), log_v=np.log(so.v[tx]), v_exit=so.v_exit[tx],
        rr=rr, by_relapse=so.by_relapse[rr], log_w=np.log(so.w[rr]), w_dead=so.w_dead[rr],
        rr_at_risk=at_risk, log_w_transplant=np.log(so.w_transplant[at_risk]),
        rr_transplanted=so.rr_transplanted[at_risk],
    )


@dataclass(frozen=True)
class Weibull:
    """A Weibull hazard by its log shape and log scale (scalars or per-draw tensors).

    ``log_h`` / ``cum_h`` take times, ``log_h_at`` / ``cum_h_at`` log times (data logged once).
    """

    log_shape: Any
    log_scale: Any

    def log_h(self, t, xp=np):
        return self.log_h_at(xp.log(t), xp)

    def cum_h(self, t, xp=np):
        return self.cum_h_at(xp.log(t), xp)

    def log_h_at(self, log_t, xp=np):
        return weibull_log_hazard(log_t, self.log_shape, self.log_scale, xp=xp)

    def cum_h_at(self, log_t, xp=np):
        return weibull_cumulative_hazard(log_t, self.log_shape, self.log_scale, xp=xp)


@dataclass(frozen=True)
class PathwayPredictors:
    """Everything the path likelihood needs, per patient where it varies (arrays or tensors).

    ``eta_refractory``, ``eta_early_death``: response logits vs response; ``mrd_logits``: (positive,
    unknown) log odds vs negative; ``eta_cure``: log odds of cure in remission; ``delta``: the
    transplant's cure effect per patient; ``gamma``: log HR of relapse after vs before transplant;
    ``theta``: log HR of death in the relapsed/refractory state after a relapse vs refractory.
    With numpy, per-draw values go along leading axes (patients last, scalars as (S, 1)); with
    pytensor, one parameter point (per-patient vectors, scalars).
    """

    eta_refractory: Any
    eta_early_death: Any
    mrd_logits: tuple[Any, Any]
    eta_cure: Any
    relapse: Weibull
    death: Weibull
    transplant: Weibull
    delta: Any
    gamma: Any
    transplant_death: Weibull
    rr_death: Weibull
    theta: Any
    rr_transplant: Weibull


def _select(code, options: dict[int, Any], default, xp):
    out = default
    for value, term in options.items():
        out = xp.where(xp.eq(code, value) if xp is not np else code == value, term, out)
    return out


def _take(x, idx: np.ndarray, xp):
    """Values of the patients ``idx`` (last axis) of a per-patient ``x``; scalars (and axes of
    length 1, per-draw scalars) unchanged."""
    if xp is np:
        return x if np.ndim(x) == 0 or np.shape(x)[-1] == 1 else np.asarray(x)[..., idx]
    x = xp.as_tensor(x)
    return x if x.type.ndim == 0 or x.type.broadcastable[-1] else x[..., idx]


def _log_softmax3(eta1, eta2, xp):
    """(log p0, log p1, log p2) for logits (0, eta1, eta2)."""
    lse = logaddexp(logaddexp(0.0 * eta1, eta1, xp), eta2, xp)
    return -lse, eta1 - lse, eta2 - lse


def response_loglik(so: Sojourns, p: PathwayPredictors, xp=np):
    """Terms 1 and 2 as (all patients' response terms, (censored, their term), (responders, MRD))."""
    ix = so.index
    log_r, log_n, log_e = _log_softmax3(p.eta_refractory, p.eta_early_death, xp)
    term = _select(so.response, {RESPONSE: log_r, REFRACTORY: log_n, EARLY_DEATH: log_e}, 0.0 * log_r, xp)
    censored = xp.log1p(-xp.exp(_take(log_e, ix.censored, xp)) * ix.censor_fraction)
    m0, m1, m2 = _log_softmax3(p.mrd_logits[0], p.mrd_logits[1], xp)
    mrd = _select(ix.mrd, {1: m1, 2: m2}, m0 + 0.0 * ix.log_u, xp)
    return term, (ix.censored, censored), (ix.responders, mrd)


def remission_loglik(so: Sojourns, p: PathwayPredictors, xp=np):
    """Term 3 for the responders: the sojourn in remission before transplant."""
    ix = so.index
    h_r = p.relapse.cum_h_at(ix.log_u, xp)
    relapse = cure_mixture(ix.u_exit == RELAPSE, _take(p.eta_cure, ix.responders, xp), h_r, xp)
    exit_hazard = _select(ix.u_exit, {RELAPSE: p.relapse.log_h_at(ix.log_u, xp), DEATH: p.death.log_h_at(ix.log_u, xp),
                                      TRANSPLANT: p.transplant.log_h_at(ix.log_u, xp)}, 0.0 * h_r, xp)
    return relapse + exit_hazard - p.death.cum_h_at(ix.log_u, xp) - p.transplant.cum_h_at(ix.log_u, xp)


def post_transplant_cure_logit(so: Sojourns, p: PathwayPredictors, xp=np):
    """log odds of cure after transplant of the transplanted patients (``so.index.transplanted``):
    cure given relapse-free survival to it, plus delta."""
    ix = so.index
    return (_take(p.eta_cure, ix.transplanted, xp) + p.relapse.cum_h_at(ix.log_u_s, xp)
            + _take(p.delta, ix.transplanted, xp))


def transplant_loglik(so: Sojourns, p: PathwayPredictors, xp=np):
    """Term 4 for the patients transplanted from remission."""
    ix = so.index
    h_r = p.relapse.cum_h_at(ix.log_v, xp) * xp.exp(p.gamma)
    relapse = cure_mixture(ix.v_exit == RELAPSE, post_transplant_cure_logit(so, p, xp), h_r, xp)
    exit_hazard = _select(ix.v_exit, {RELAPSE: p.relapse.log_h_at(ix.log_v, xp) + p.gamma,
                                      DEATH: p.transplant_death.log_h_at(ix.log_v, xp)}, 0.0 * h_r, xp)
    return relapse + exit_hazard - p.transplant_death.cum_h_at(ix.log_v, xp)


def relapsed_loglik(so: Sojourns, p: PathwayPredictors, xp=np):
    """Term 5 as ((patients in the relapsed/refractory state, death term), (those at risk of
    salvage transplant, its term))."""
    ix = so.index
    eta = p.theta * ix.by_relapse
    death = ix.w_dead * (p.rr_death.log_h_at(ix.log_w, xp) + eta) - p.rr_death.cum_h_at(ix.log_w, xp) * xp.exp(eta)
    salvage = (ix.rr_transplanted * p.rr_transplant.log_h_at(ix.log_w_transplant, xp)
               - p.rr_transplant.cum_h_at(ix.log_w_transplant, xp))
    return (ix.rr, death), (ix.rr_at_risk, salvage)


def _scatter_add(total, pieces, n: int, xp):
    """``total`` plus each piece's values added at its patients (numpy: per-draw leading axes)."""
    if xp is np:
        shape = np.broadcast_shapes(np.shape(total), *(np.shape(v)[:-1] + (n,) for _, v in pieces))
        out = np.broadcast_to(total, shape).copy()
        for idx, values in pieces:
            out[..., idx] += values
        return out
    total = xp.broadcast_to(total, (n,))
    if not pieces:
        return total
    idx = np.concatenate([i for i, _ in pieces])
    values = xp.concatenate([xp.broadcast_to(v, (len(i),)) for i, v in pieces])
    return xp.inc_subtensor(total[idx], values)


def path_loglik(so: Sojourns, p: PathwayPredictors, xp=np):
    """Log-likelihood of each patient's whole observed path, shape (n,) (numpy: (..., n))."""
    ix = so.index
    term, censored, (resp, mrd) = response_loglik(so, p, xp)
    responders = (resp, mrd + remission_loglik(so, p, xp))
    pieces = [censored, responders, (ix.transplanted, transplant_loglik(so, p, xp)), *relapsed_loglik(so, p, xp)]
    return _scatter_add(term, [(i, v) for i, v in pieces if len(i)], so.n, xp)

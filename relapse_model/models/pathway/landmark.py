"""Predictions given the path so far: each patient's observed state at a landmark month M, and
paths simulated onward from it.

The state at M (months from first relapse) is read from the observed path
(:func:`~relapse_model.models.pathway.paths.observed_paths`) with the rules of
:data:`~relapse_model.models.pathway.predict.STATES`: ``reinduction`` (alive, M before the
assessment), ``remission`` (responder, no transplant, no relapse), ``transplanted`` (from
remission, no relapse), ``relapsed_refractory`` (alive after refractory disease or a second
relapse), ``dead`` (died at or before M) or ``censored`` (follow-up ended before M, alive). Dead
and censored patients are reported as such, with no prediction.

Conditioning, per posterior draw (Bayes within the model, no refit):

- ``reinduction``: paths from relapse given survival to M (early death after M, its probability
  scaled by (a - M) / a);
- ``remission`` at u = M - a after the assessment with the observed MRD: the cure is drawn from
  its posterior given relapse-free survival, logit ``eta_C + H_R(u)``, and relapse, death and
  transplant times are residual times beyond u;
- ``transplanted`` at u_s, v = M - s after transplant: cure logit
  ``eta_C + H_R(u_s) + delta + H_R(v) e^gamma``, residual relapse and transplant-related death;
- ``relapsed_refractory`` entered at r: residual death beyond M - r (salvage transplant for the
  untransplanted).

Each branch is the model's own generative code (:mod:`relapse_model.models.pathway.simulate`)
started later, so a landmark at 0 gives the same distribution as a prediction at relapse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relapse_model.models.design import Design
from relapse_model.models.pathway.parameters import PathwayParameters, patient_predictors
from relapse_model.models.pathway.paths import REFRACTORY, RESPONSE, ObservedPaths
from relapse_model.models.pathway.simulate import (RemissionCourse, SimulatedPaths, _after_transplant, _expand,
                                                   relapsed_course, remission_course, remission_cure_logit,
                                                   simulate_paths)

#: Observed states at a landmark, in the order of their codes.
LANDMARK_STATES = ("reinduction", "remission", "transplanted", "relapsed_refractory", "dead", "censored")
REINDUCTION, REMISSION, TRANSPLANTED, RELAPSED_REFRACTORY, DEAD, CENSORED = range(6)


@dataclass(frozen=True)
class LandmarkStates:
    """Each patient's state at the landmark and the times it is conditioned on (NaN if unused)."""

    landmark: float
    state: np.ndarray         # codes of LANDMARK_STATES
    assessment: np.ndarray
    mrd: np.ndarray           # observed MRD code of responders (-1 otherwise)
    transplant: np.ndarray    # observed transplant time (any state), NaN if none by the landmark
    entry: np.ndarray         # entry into the relapsed/refractory state
    by_relapse: np.ndarray    # entered it by a second relapse (bool)

    @property
    def labels(self) -> list[str]:
        return [LANDMARK_STATES[k] for k in self.state]

    @property
    def predicted(self) -> np.ndarray:
        """Patients alive and in follow-up at the landmark (those get predictions)."""
        return self.state < DEAD

    def rows(self, index: np.ndarray) -> LandmarkStates:
        """The states of some patients."""
        return LandmarkStates(self.landmark, self.state[index], self.assessment[index], self.mrd[index],
                              self.transplant[index], self.entry[index], self.by_relapse[index])


def landmark_states(paths: ObservedPaths, landmark: float) -> LandmarkStates:
    """The observed state of every patient at ``landmark`` months (see the module docstring)."""
    m = float(landmark)
    a, s, r, d, c = paths.assessment, paths.transplant, paths.relapse, paths.death, paths.censor

    def by(x):
        return np.isfinite(x) & (x <= m)

    responder, refractory = paths.response == RESPONSE, paths.response == REFRACTORY
    relapsed = responder & by(r)
    transplanted = responder & by(s) & ~(np.isfinite(r) & (s >= r))
    state = np.select(
        [by(d), ~np.isfinite(d) & (c < m), m < a, refractory | relapsed, transplanted],
        [DEAD, CENSORED, REINDUCTION, RELAPSED_REFRACTORY, TRANSPLANTED], REMISSION)
    state = np.where((state == REMISSION) & ~responder, CENSORED, state)   # response unknown at M >= a
    entry = np.where(refractory, a, np.where(relapsed, r, np.nan))
    return LandmarkStates(m, state.astype(np.int64), a, np.where(responder, paths.mrd, -1),
                          np.where(by(s), s, np.nan), entry, relapsed)


def simulate_from_landmark(params: PathwayParameters, design: Design, states: LandmarkStates, *,
                           replicates: int = 100, seed: int | np.random.SeedSequence = 0,
                           transplant_from_remission: bool = True) -> SimulatedPaths:
    """Paths (S, n, K) onward from each patient's state at the landmark (times from relapse).

    Patients dead or censored at the landmark get the paths of a ``reinduction`` patient; mask
    them with :attr:`LandmarkStates.predicted`. ``transplant_from_remission=False`` removes the
    transplant hazard of patients in remission at the landmark (a counterfactual).
    """
    seeds = (seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)).spawn(2)
    shape = (params.n_draws, design.n, replicates)
    m = states.landmark
    st = np.broadcast_to(states.state[None, :, None], shape)
    fresh = simulate_paths(params, design, states.assessment, replicates=replicates, seed=seeds[0],
                           alive_at=np.where(states.state == REINDUCTION, np.minimum(m, states.assessment), 0.0))
    rng = np.random.default_rng(seeds[1])
    a = np.broadcast_to(states.assessment[None, :, None], shape)
    mrd = np.broadcast_to(states.mrd[None, :, None], shape)
    eta_c = _expand(patient_predictors(params, design).eta_cure_without_mrd)
    in_remission = st == REMISSION
    course = remission_course(rng, params, shape, a, eta_c, mrd, in_remission,
                              after=np.where(in_remission, m - a, 0.0),
                              transplant_allowed=None if transplant_from_remission else ~in_remission)
    after_tx = _from_transplant(rng, params, shape, a, eta_c, mrd, states)
    rr_entry = np.where(st == RELAPSED_REFRACTORY, np.broadcast_to(states.entry[None, :, None], shape),
                        np.where(st == TRANSPLANTED, after_tx.relapse, course.relapse))
    by_relapse = np.where(st == RELAPSED_REFRACTORY, states.by_relapse[None, :, None], np.isfinite(rr_entry))
    entered_by_landmark = st == RELAPSED_REFRACTORY
    had_transplant = np.where(st == TRANSPLANTED, True, np.where(entered_by_landmark,
                              np.isfinite(states.transplant)[None, :, None], np.isfinite(course.transplant)))
    rr_death, salvage = relapsed_course(rng, params, shape, np.where(np.isfinite(rr_entry), rr_entry, m), by_relapse,
                                        np.isfinite(rr_entry) & ~had_transplant,
                                        after=np.where(entered_by_landmark, m - rr_entry, 0.0))
    in_rr = np.isfinite(rr_entry)
    transplant = np.select([st == TRANSPLANTED, entered_by_landmark & had_transplant, in_rr & np.isfinite(salvage)],
                           [np.broadcast_to(states.transplant[None, :, None], shape),
                            np.broadcast_to(states.transplant[None, :, None], shape), salvage], course.transplant)
    relapse = np.where(st == TRANSPLANTED, after_tx.relapse, np.where(entered_by_landmark, np.nan, course.relapse))
    relapse = np.where(entered_by_landmark & states.by_relapse[None, :, None], rr_entry, relapse)
    death = np.where(in_rr, rr_death, np.where(st == TRANSPLANTED, after_tx.death, course.death))
    cured = np.where(st == TRANSPLANTED, after_tx.cured, course.cured)
    response = np.where(st == RELAPSED_REFRACTORY, np.where(states.by_relapse, RESPONSE, REFRACTORY)[None, :, None],
                        RESPONSE)
    mrd_out = np.where(st == RELAPSED_REFRACTORY, states.mrd[None, :, None], mrd)
    onward = SimulatedPaths(a, response, mrd_out, transplant, relapse, death, death, cured & ~in_rr)
    return _pick(st == REINDUCTION, fresh, onward)


def _from_transplant(rng, params, shape, a, eta_c, mrd, states: LandmarkStates):
    """Relapse, death and cure of patients transplanted from remission before the landmark."""
    s = np.broadcast_to(states.transplant[None, :, None], shape)
    transplanted = np.isfinite(s) & (np.broadcast_to(states.state[None, :, None], shape) == TRANSPLANTED)
    u_s = np.where(transplanted, s - a, np.nan)
    eta = remission_cure_logit(params, eta_c, mrd)
    cured, v_r, v_d = _after_transplant(rng, params, shape, eta, mrd, u_s,
                                        after=np.where(transplanted, states.landmark - s, 0.0))
    relapse = np.where(transplanted & (v_r < v_d), s + v_r, np.nan)
    death = np.where(transplanted & (v_d < v_r), s + v_d, np.nan)
    return RemissionCourse(relapse, death, np.where(transplanted, s, np.nan), transplanted & cured)


def _pick(mask: np.ndarray, yes: SimulatedPaths, no: SimulatedPaths) -> SimulatedPaths:
    return SimulatedPaths(*(np.where(mask, getattr(yes, f), getattr(no, f)) for f in
                            ("assessment", "response", "mrd", "transplant", "relapse", "death", "end", "cured")))


def counterfactual_states(assessment: np.ndarray, mrd: np.ndarray, at: float) -> tuple[LandmarkStates, LandmarkStates]:
    """The two scenarios of the transplant counterfactual for patients in remission at ``at``
    months (relapse-free, untransplanted, with MRD code ``mrd``): transplanted at ``at``, and in
    remission at ``at`` (to be simulated with ``transplant_from_remission=False``)."""
    n = len(assessment)
    if np.any(assessment > at):
        raise ValueError(f"the counterfactual starts at {at:g} months, before some response assessments")
    nan, no = np.full(n, np.nan), np.zeros(n, dtype=bool)
    transplanted = LandmarkStates(float(at), np.full(n, TRANSPLANTED), assessment, mrd, np.full(n, float(at)), nan, no)
    remission = LandmarkStates(float(at), np.full(n, REMISSION), assessment, mrd, nan, nan, no)
    return transplanted, remission

"""The Aalen-Johansen state occupation estimator against scikit-survival's Kaplan-Meier and
cumulative incidence, and against empirical proportions without censoring."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.nonparametric import (
    cumulative_incidence_competing_risks,
    kaplan_meier_estimator,
)

from relapse_model.common.aalen_johansen import Transitions, state_occupation


def _rounded_times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Exponential times on a half-month grid: many ties, among events and between events and censoring."""
    return np.round(rng.exponential(6.0, n) * 2) / 2


def _single_transitions(cause: np.ndarray, time: np.ndarray) -> Transitions:
    """One move 0 -> cause per patient with cause > 0 (0 = censored)."""
    idx = np.flatnonzero(cause > 0)
    return Transitions(idx, time[idx], np.zeros(len(idx), int), cause[idx])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_states_is_kaplan_meier(seed):
    rng = np.random.default_rng(seed)
    time = _rounded_times(rng, 400)
    event = rng.random(400) < 0.6
    assert len(np.unique(time[event])) < event.sum()                    # tied events
    assert np.isin(time[~event], time[event]).any()                     # censoring at an event time
    grid, survival = kaplan_meier_estimator(event, time)
    p = state_occupation(np.zeros(400, int), _single_transitions(event.astype(int), time), time, 2, grid)
    np.testing.assert_allclose(p[:, 0], survival, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p[:, 1], 1 - survival, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_competing_risks_is_cumulative_incidence(seed):
    rng = np.random.default_rng(seed)
    n = 500
    time = _rounded_times(rng, n)
    cause = np.where(rng.random(n) < 0.75, rng.integers(1, 3, n), 0)
    grid, incidence = cumulative_incidence_competing_risks(cause, time)
    # between the grid points too: the estimate is a right-continuous step function
    between = np.r_[0.0, (grid[1:] + grid[:-1]) / 2]
    p = state_occupation(np.zeros(n, int), _single_transitions(cause, time), time, 3, np.r_[grid, between])
    on_grid, off_grid = p[:len(grid)], p[len(grid):]
    for k in (1, 2):
        np.testing.assert_allclose(on_grid[:, k], incidence[k], rtol=0, atol=1e-12)
    np.testing.assert_allclose(on_grid[:, 0], 1 - incidence[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(off_grid[1:], on_grid[:-1])


def _illness_death(rng: np.random.Generator, n: int, censor: np.ndarray):
    """0 -> 1 -> 2 and 0 -> 2 paths on a coarse time grid, observed until ``censor``."""
    illness = np.ceil(rng.exponential(8.0, n))
    death_healthy = np.ceil(rng.exponential(12.0, n))
    death_ill = illness + np.ceil(rng.exponential(4.0, n))
    ill = illness < death_healthy
    death = np.where(ill, death_ill, death_healthy)
    rows = []                                                        # (patient, time, from, to)
    for i in range(n):
        if ill[i] and illness[i] <= censor[i]:
            rows.append((i, illness[i], 0, 1))
        if death[i] <= censor[i]:
            rows.append((i, death[i], 1 if ill[i] else 0, 2))
    p, t, a, b = (np.array(c) for c in zip(*rows))
    return Transitions(p, t, a, b), illness, death, ill


def test_illness_death_without_censoring_is_the_empirical_proportions():
    rng = np.random.default_rng(3)
    n = 600
    transitions, illness, death, ill = _illness_death(rng, n, np.full(n, np.inf))
    grid = np.arange(0.0, 60.0, 0.5)
    p = state_occupation(np.zeros(n, int), transitions, np.full(n, np.inf), 3, grid)
    dead = death[None, :] <= grid[:, None]
    sick = ill[None, :] & (illness[None, :] <= grid[:, None]) & ~dead
    expected = np.stack([~dead & ~sick, sick, dead], axis=-1).mean(axis=1)
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-12)
    assert (expected[:, 1] > 0.05).any()                               # the illness state is visited


def test_illness_death_with_censoring_is_a_distribution():
    rng = np.random.default_rng(4)
    n = 800
    censor = np.ceil(rng.uniform(0.0, 40.0, n))
    transitions, *_ = _illness_death(rng, n, censor)
    # absorbed patients: follow-up ends at death
    died = transitions.to_state == 2
    censor[transitions.patient[died]] = transitions.time[died]
    grid = np.arange(0.0, 40.0, 0.5)
    p = state_occupation(np.zeros(n, int), transitions, censor, 3, grid)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (p >= -1e-15).all() and (p <= 1 + 1e-15).all()
    # the initial state is left for good: its occupation is the Kaplan-Meier of the first move
    first_move = np.full(n, np.inf)
    np.minimum.at(first_move, transitions.patient, transitions.time)
    left = np.isfinite(first_move)
    grid_km, survival = kaplan_meier_estimator(left, np.where(left, first_move, censor))
    np.testing.assert_allclose(state_occupation(np.zeros(n, int), transitions, censor, 3, grid_km)[:, 0], survival,
                               rtol=0, atol=1e-12)


def test_entry_states_and_a_transition_at_time_zero():
    # patients 0, 1 enter in state 0, patient 2 in state 1; patient 0 moves at time 0
    transitions = Transitions([0, 1], [0.0, 2.0], [0, 0], [1, 1])
    p = state_occupation([0, 0, 1], transitions, [5.0, 5.0, 5.0], 2, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(p, [[1 / 3, 2 / 3], [1 / 3, 2 / 3], [0.0, 1.0]])


def test_input_in_any_patient_order():
    rng = np.random.default_rng(5)
    censor = np.full(200, 30.0)
    transitions, *_ = _illness_death(rng, 200, censor)
    # patients in random order, each patient's rows still in time order
    shuffled = np.concatenate([np.flatnonzero(transitions.patient == i) for i in rng.permutation(200)])
    assert (np.diff(transitions.patient[shuffled]) < 0).any()
    again = Transitions(*(getattr(transitions, k)[shuffled] for k in ("patient", "time", "from_state", "to_state")))
    grid = np.arange(0.0, 30.0, 1.0)
    np.testing.assert_array_equal(state_occupation(np.zeros(200, int), again, censor, 3, grid),
                                  state_occupation(np.zeros(200, int), transitions, censor, 3, grid))


@pytest.mark.parametrize(("change", "message"), [
    (dict(time=[-1.0, 3.0]), r"transitions.time must be >= 0"),
    (dict(time=[np.nan, 3.0]), r"transitions.time must be >= 0"),
    (dict(censor=[5.0, -2.0]), r"censor must be >= 0"),
    (dict(times=[-0.5]), r"times must be >= 0"),
    (dict(time=[3.0, 1.0]), r"patient 0 are not in strictly increasing time order \(3 then 1\)"),
    (dict(time=[1.0, 1.0]), r"not in strictly increasing time order"),
    (dict(from_state=[0, 0]), r"patient 0 at time 3 leaves state 0, but the patient is in state 1"),
    (dict(entry=[1, 0]), r"patient 0 at time 1 leaves state 0, but the patient is in state 1 \(entry state\)"),
    (dict(to_state=[1, 3]), r"transitions.to_state: state 3 outside 0..2"),
    (dict(to_state=[0, 2]), r"goes from state 0 to itself"),
    (dict(censor=[2.0, 5.0]), r"censor time of patient 0 \(2\) is before its transition at 3"),
    (dict(patient=[0, 2]), r"transitions.patient: index 2 outside 0..1"),
    (dict(censor=[5.0]), r"entry_state \(2\) and censor \(1\) must have the same"),
    (dict(from_state=[0.5, 1]), r"transitions.from_state must hold integers"),
])
def test_bad_input_is_named(change, message):
    args = dict(patient=[0, 0], time=[1.0, 3.0], from_state=[0, 1], to_state=[1, 2], entry=[0, 0],
                censor=[5.0, 5.0], times=[0.0, 2.0])
    args.update(change)
    with pytest.raises(ValueError, match=message):
        tr = Transitions(args["patient"], args["time"], args["from_state"], args["to_state"])
        state_occupation(args["entry"], tr, args["censor"], 3, args["times"])


def test_transitions_of_unequal_length_are_refused():
    with pytest.raises(ValueError, match="same length"):
        Transitions([0, 1], [1.0], [0, 0], [1, 1])

"""Aalen-Johansen estimator of state occupation probabilities in a multi-state model.

Every patient starts at time 0 in a recorded entry state, moves between states at recorded
transition times and is followed until a censoring time. The estimate of P(X(t) = j) is the
initial distribution of the entry states times the product integral, over the distinct event
times, of the Nelson-Aalen transition matrices ``I + dA(t)`` with ``dA_hj = dN_hj / Y_h`` (the
number of h -> j transitions at t over the number at risk in h just before t). All transitions
at one time form one matrix; a patient censored at t is still at risk at t (censoring after
events, as in Kaplan-Meier). With two states it is the Kaplan-Meier estimator, with one
transient state and several absorbing ones the Aalen-Johansen cumulative incidence, and without
censoring the empirical state proportions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Transitions:
    """Observed transitions, one row per transition, as parallel arrays.

    Attributes
    ----------
    patient : (m,) int
        Patient index into the per-patient arrays (0 .. n-1).
    time : (m,) float
        Transition time (>= 0, same time scale as the censoring times).
    from_state, to_state : (m,) int
        States left and entered (0 .. n_states-1).
    """

    patient: np.ndarray
    time: np.ndarray
    from_state: np.ndarray
    to_state: np.ndarray

    def __post_init__(self) -> None:
        for name in ("patient", "from_state", "to_state"):
            object.__setattr__(self, name, _int_array(getattr(self, name), f"transitions.{name}"))
        object.__setattr__(self, "time", np.asarray(self.time, dtype=float).reshape(-1))
        lengths = {len(getattr(self, k)) for k in ("patient", "time", "from_state", "to_state")}
        if len(lengths) != 1:
            raise ValueError("transitions: patient, time, from_state and to_state must have the same length")

    def __len__(self) -> int:
        return len(self.patient)


def _int_array(values, name: str) -> np.ndarray:
    x = np.asarray(values).reshape(-1)
    whole = np.issubdtype(x.dtype, np.integer) or (np.issubdtype(x.dtype, np.number) and bool(np.all(np.isfinite(x)))
                                                    and bool(np.all(x == np.round(x))))
    if x.size and not whole:
        raise ValueError(f"{name} must hold integers")
    return x.astype(np.int64)


def _check_states(entry: np.ndarray, tr: Transitions, n_states: int) -> None:
    for name, x in (("entry_state", entry), ("transitions.from_state", tr.from_state),
                    ("transitions.to_state", tr.to_state)):
        bad = (x < 0) | (x >= n_states)
        if bad.any():
            raise ValueError(f"{name}: state {x[bad][0]} outside 0..{n_states - 1} (n_states={n_states})")
    same = tr.from_state == tr.to_state
    if same.any():
        j = int(np.argmax(same))
        raise ValueError(f"transitions: patient {tr.patient[j]} at time {tr.time[j]:g} goes from state "
                         f"{tr.from_state[j]} to itself")


def _check_times(censor: np.ndarray, tr: Transitions, times: np.ndarray, n: int) -> None:
    for name, x in (("censor", censor), ("transitions.time", tr.time), ("times", times)):
        if np.isnan(x).any() or (x < 0).any():
            raise ValueError(f"{name} must be >= 0 (no NaN); got {x[np.isnan(x) | (x < 0)][0]:g}")
    if np.isinf(tr.time).any() or np.isinf(times).any():
        raise ValueError("transitions.time and times must be finite (censor may be inf: never censored)")
    bad = (tr.patient < 0) | (tr.patient >= n)
    if bad.any():
        raise ValueError(f"transitions.patient: index {tr.patient[bad][0]} outside 0..{n - 1}")


def _previous(x: np.ndarray, fill) -> np.ndarray:
    """``x`` shifted one row down, ``fill`` first (the previous row's value)."""
    return np.concatenate(([fill], x[:-1])).astype(x.dtype) if len(x) else x.copy()


def _first_of_patient(patient: np.ndarray) -> np.ndarray:
    """True at the first row of each patient (rows grouped by patient)."""
    return patient != _previous(patient, -1)


def _sorted_checked(entry: np.ndarray, tr: Transitions, censor: np.ndarray) -> Transitions:
    """The transitions grouped by patient (each patient's rows kept in the given order), after
    checking that each patient's times increase, that each move starts from the state the
    patient is in, and that follow-up does not end before the last transition."""
    order = np.argsort(tr.patient, kind="stable")
    p, t, a, b = tr.patient[order], tr.time[order], tr.from_state[order], tr.to_state[order]
    first = _first_of_patient(p)
    not_later = ~first & (t <= _previous(t, -np.inf))
    if not_later.any():
        j = int(np.argmax(not_later))
        raise ValueError(f"transitions of patient {p[j]} are not in strictly increasing time order "
                         f"({t[j - 1]:g} then {t[j]:g}); give one transition per time, in time order")
    current = np.where(first, entry[p], _previous(b, -1))
    wrong = a != current
    if wrong.any():
        j = int(np.argmax(wrong))
        raise ValueError(f"transition of patient {p[j]} at time {t[j]:g} leaves state {a[j]}, but the patient "
                         f"is in state {current[j]} ({'entry state' if first[j] else 'after the previous transition'})")
    early = censor[p] < t
    if early.any():
        j = int(np.argmax(early))
        raise ValueError(f"censor time of patient {p[j]} ({censor[p[j]]:g}) is before its transition at {t[j]:g}")
    return Transitions(p, t, a, b)


def _sojourns(entry: np.ndarray, tr: Transitions, censor: np.ndarray) -> tuple[np.ndarray, ...]:
    """(state, start, end) of every sojourn: one ending at each transition, one ending at censoring.

    A patient is at risk in the sojourn's state at event times in ``(start, end]``; the first
    sojourn starts at -inf so that a transition at time 0 finds its patient at risk."""
    n = len(entry)
    first = _first_of_patient(tr.patient)
    start = np.where(first, -np.inf, _previous(tr.time, -np.inf))
    # the last transition of each patient fixes the state and start of the final sojourn
    last = np.r_[first[1:], True] if len(tr) else first
    last_state, last_time = entry.copy(), np.full(n, -np.inf)
    last_state[tr.patient[last]] = tr.to_state[last]
    last_time[tr.patient[last]] = tr.time[last]
    return (np.r_[tr.from_state, last_state], np.r_[start, last_time], np.r_[tr.time, censor])


def _jumps(entry, tr: Transitions, censor, n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct event times (K,) and the transition matrices I + dA at them, (K, s, s)."""
    event_times, k = np.unique(tr.time, return_inverse=True)
    n_k = len(event_times)
    state, start, end = _sojourns(entry, tr, censor)
    # at risk at event times lo..hi-1: +1 at lo, -1 at hi, then a running sum over times
    lo = np.searchsorted(event_times, start, side="right")
    hi = np.searchsorted(event_times, end, side="right")
    keep = lo < hi
    marks = np.bincount(lo[keep] * n_states + state[keep], minlength=(n_k + 1) * n_states) \
        - np.bincount(hi[keep] * n_states + state[keep], minlength=(n_k + 1) * n_states)
    at_risk = np.cumsum(marks.reshape(n_k + 1, n_states), axis=0)[:n_k]
    counts = np.bincount((k * n_states + tr.from_state) * n_states + tr.to_state,
                         minlength=n_k * n_states * n_states).reshape(n_k, n_states, n_states).astype(float)
    # every transition's patient is at risk in its from-state at its time, so Y > 0 where dN > 0
    d_a = counts / np.maximum(at_risk, 1)[:, :, None]
    diag = np.arange(n_states)
    d_a[:, diag, diag] = -d_a.sum(axis=2)
    d_a[:, diag, diag] += 1.0
    return event_times, d_a


def state_occupation(entry_state, transitions: Transitions, censor, n_states: int, times) -> np.ndarray:
    """Aalen-Johansen estimate of the state occupation probabilities P(X(t) = j).

    Parameters
    ----------
    entry_state : (n,) int
        State of each patient at time 0.
    transitions : Transitions
        Every observed transition; a patient's rows in time order (strictly increasing times),
        each leaving the state the patient is in.
    censor : (n,) float
        End of follow-up (>= each patient's last transition; ``inf`` = never censored). For a
        patient absorbed in a state any time from the absorption on will do.
    n_states : int
        Number of states (0 .. n_states-1).
    times : (T,) float
        Times (>= 0) at which to evaluate the right-continuous estimate.

    Returns
    -------
    (T, n_states) ndarray
        Occupation probabilities; each row sums to 1.

    Raises
    ------
    ValueError
        Negative or NaN times, states out of range, a patient's transitions out of time order or
        leaving a state the patient is not in, follow-up ending before the last transition.

    Notes
    -----
    Consistent under independent censoring (for a Markov process, and for the state occupation
    probabilities also without the Markov property: Datta and Satten, 2001).
    """
    entry = _int_array(entry_state, "entry_state")
    censor = np.asarray(censor, dtype=float).reshape(-1)
    times = np.asarray(times, dtype=float).reshape(-1)
    if len(censor) != len(entry) or len(entry) == 0:
        raise ValueError(f"entry_state ({len(entry)}) and censor ({len(censor)}) must have the same, non-zero length")
    _check_times(censor, transitions, times, len(entry))
    _check_states(entry, transitions, n_states)
    tr = _sorted_checked(entry, transitions, censor)
    event_times, matrices = _jumps(entry, tr, censor, n_states)
    path = np.empty((len(event_times) + 1, n_states))
    path[0] = np.bincount(entry, minlength=n_states) / len(entry)
    # a sequential product (one small vector-matrix product per event time); the counting above is vectorised
    for i in range(len(event_times)):
        path[i + 1] = path[i] @ matrices[i]
    return path[np.searchsorted(event_times, times, side="right")]

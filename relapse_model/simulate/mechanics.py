"""Trial mechanics with fixed parameters: accrual, allocation, dropout and data cuts.

Everything is vectorised over trials and patients: arrays have shape ``(n_trials, n_patients)``
with patients in order of entry, and every random draw comes from the ``numpy.random.Generator``
passed in, so the same seed gives identical trials. Times are in months; an "event time" or
"dropout time" is measured from the patient's entry, a "calendar time" from the trial's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class TrialData(NamedTuple):
    """Observed data of every trial at one data cut; the input of :mod:`.analyses`."""

    time: np.ndarray  #: follow-up at the cut (0 for patients not yet enrolled)
    event: np.ndarray  #: bool, event observed by the cut
    mask: np.ndarray  #: bool, patient enrolled by the cut
    cut: np.ndarray  #: calendar time of the cut, shape (n_trials,)


def accrual_times(rng: np.random.Generator, n_trials: int, n_patients: int,
                  rates: float | Sequence[float], breaks: Sequence[float] = ()) -> np.ndarray:
    """Calendar entry times from a Poisson process with constant or piecewise-constant rate.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n_trials, n_patients : int
        Output shape.
    rates : float or sequence of float
        Patients per month. With ``breaks``, ``rates[j]`` applies between ``breaks[j-1]`` and
        ``breaks[j]`` (months from the start, the first piece from 0), and the last rate continues
        for ever; a rate may be 0 (a pause) except the last.
    breaks : sequence of float
        Increasing month boundaries, ``len(rates) - 1`` of them.

    Returns
    -------
    ndarray, shape (n_trials, n_patients)
        Entry times in months, increasing along each row.

    Notes
    -----
    Arrivals of a unit-rate process (cumulative sums of Exp(1) gaps) are mapped through the
    inverse of the cumulative intensity ``Lambda(t) = int_0^t rate(s) ds``, which is piecewise
    linear, so this is exact for any number of pieces.
    """
    rates = np.atleast_1d(np.asarray(rates, dtype=float))
    breaks = np.asarray(breaks, dtype=float)
    if rates.ndim != 1 or breaks.shape != (rates.size - 1,):
        raise ValueError("need len(breaks) == len(rates) - 1")
    if np.any(rates < 0) or not rates[-1] > 0:
        raise ValueError("rates must be >= 0 and the last one > 0")
    if np.any(np.diff(np.r_[0.0, breaks]) <= 0):
        raise ValueError("breaks must be increasing and > 0")
    arrivals = np.cumsum(rng.standard_exponential((n_trials, n_patients)), axis=1)
    knots_t = np.r_[0.0, breaks]
    knots_l = np.r_[0.0, np.cumsum(rates[:-1] * np.diff(knots_t))]
    # Beyond the last knot Lambda grows linearly with the last rate.
    piece = np.searchsorted(knots_l, arrivals, side="right") - 1
    # A pause makes two knots share one Lambda; side="right" picks the later one, so arrivals
    # never land inside the pause.
    return knots_t[piece] + (arrivals - knots_l[piece]) / rates[piece]


def allocate(rng: np.random.Generator, n_trials: int, n_patients: int,
             ratio: tuple[int, int] = (1, 1), method: str = "blocks", block_size: int | None = None,
             strata: np.ndarray | None = None) -> np.ndarray:
    """Randomise patients to arm 0 (control) or 1 (experimental).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n_trials, n_patients : int
        Output shape; patients are allocated in column (entry) order.
    ratio : (int, int)
        Allocation ratio control : experimental, e.g. ``(1, 2)``.
    method : {"blocks", "simple"}
        ``"blocks"``: permuted blocks, the exact ratio within each complete block.
        ``"simple"``: independent draws with probability ``ratio[1] / sum(ratio)`` of arm 1.
    block_size : int, optional
        A multiple of ``sum(ratio)``; default ``2 * sum(ratio)``.
    strata : ndarray, shape (n_patients,) or (n_trials, n_patients), optional
        Stratum label of each patient; permuted blocks then run separately within each stratum
        (ignored by ``"simple"``).

    Returns
    -------
    ndarray of int8, shape (n_trials, n_patients)
        Arm labels.
    """
    r0, r1 = (int(r) for r in ratio)
    if r0 < 1 or r1 < 1:
        raise ValueError(f"ratio must be two positive integers, got {ratio}")
    if method == "simple":
        return (rng.random((n_trials, n_patients)) < r1 / (r0 + r1)).astype(np.int8)
    if method != "blocks":
        raise ValueError(f"method must be 'blocks' or 'simple', got {method!r}")
    size = 2 * (r0 + r1) if block_size is None else int(block_size)
    if size < 1 or size % (r0 + r1):
        raise ValueError(f"block_size must be a positive multiple of {r0 + r1}, got {block_size}")
    n0, n1 = size // (r0 + r1) * r0, size // (r0 + r1) * r1
    if strata is None:
        return _permuted_blocks(rng, (n_trials,), n_patients, n0, n1)
    labels = np.broadcast_to(np.asarray(strata), (n_trials, n_patients))
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(n_trials, n_patients)
    n_strata = int(codes.max()) + 1
    # One block sequence per (trial, stratum); patient j takes the next free slot of its stratum.
    seqs = _permuted_blocks(rng, (n_trials, n_strata), n_patients, n0, n1)
    rank = np.zeros((n_trials, n_patients), dtype=np.int32)
    for s in range(n_strata):  # few strata: rank of each patient within its stratum
        in_s = codes == s
        rank = np.where(in_s, np.cumsum(in_s, axis=1, dtype=np.int32) - 1, rank)
    return seqs[np.arange(n_trials)[:, None], codes, rank]


def _permuted_blocks(rng: np.random.Generator, lead: tuple[int, ...], n: int, n0: int,
                     n1: int) -> np.ndarray:
    """Concatenated random blocks of ``n0`` zeros and ``n1`` ones, truncated to ``n``.

    Each block is filled slot by slot, drawing arm 1 with probability (ones left) / (slots
    left): sampling without replacement, so every arrangement of the block is equally likely.
    The loop runs over the few slots of a block, vectorised over all blocks of all trials.
    """
    size = n0 + n1
    n_blocks = -(-n // size)
    u = rng.random((*lead, n_blocks, size))
    arms = np.empty(u.shape, dtype=np.int8)
    ones_left = np.full(u.shape[:-1], n1, dtype=np.int64)
    for j in range(size):
        one = u[..., j] * (size - j) < ones_left
        arms[..., j] = one
        ones_left -= one
    return arms.reshape(*lead, n_blocks * size)[..., :n]


def allocate_arms(rng: np.random.Generator, n_trials: int, n_patients: int, ratio: Sequence[int]) -> np.ndarray:
    """Permuted blocks over ``len(ratio)`` arms (0 = control): each block of ``2 * sum(ratio)``
    patients holds arm ``a`` exactly ``2 * ratio[a]`` times, in a uniformly random order.

    Returns
    -------
    ndarray of int8, shape (n_trials, n_patients)
        Arm labels, patients in entry order.
    """
    ratio = [int(r) for r in ratio]
    if len(ratio) < 2 or min(ratio) < 1:
        raise ValueError(f"ratio must be at least two positive integers, got {ratio}")
    block = np.repeat(np.arange(len(ratio), dtype=np.int8), [2 * r for r in ratio])
    n_blocks = -(-n_patients // block.size)
    order = np.argsort(rng.random((n_trials, n_blocks, block.size)), axis=-1)
    return block[order].reshape(n_trials, n_blocks * block.size)[:, :n_patients]


def dropout_times(rng: np.random.Generator, shape: tuple[int, ...], rate: float) -> np.ndarray:
    """Exponential times to dropout (loss to follow-up) from entry.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    shape : tuple of int
        Output shape, usually ``(n_trials, n_patients)``.
    rate : float
        Dropout hazard per month (``1 - exp(-12 rate)`` drop out within a year); 0 gives +inf.

    Returns
    -------
    ndarray of float
        Months from entry to dropout.
    """
    if not rate >= 0:
        raise ValueError(f"rate must be >= 0, got {rate}")
    if rate == 0:
        return np.full(shape, np.inf)
    return rng.standard_exponential(shape) / rate


def exponential_event_times(rng: np.random.Generator, arm: np.ndarray, median_control: float,
                            hazard_ratio: float = 1.0) -> np.ndarray:
    """Exponential event times from entry under proportional hazards.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    arm : ndarray of int
        0 control, 1 experimental; sets the output shape.
    median_control : float
        Median event time of the control arm, in months.
    hazard_ratio : float
        Hazard of arm 1 relative to arm 0.

    Returns
    -------
    ndarray of float
        Months from entry to the event.
    """
    if not (median_control > 0 and hazard_ratio > 0):
        raise ValueError("median_control and hazard_ratio must be > 0")
    hazard = np.log(2.0) / median_control * np.where(np.asarray(arm) == 1, hazard_ratio, 1.0)
    return rng.standard_exponential(hazard.shape) / hazard


def analysis_time_calendar(entry: np.ndarray, event_time: np.ndarray,
                           dropout_time: np.ndarray | None, cut: float | np.ndarray) -> TrialData:
    """Observed data of every trial at a calendar data cut.

    Parameters
    ----------
    entry : ndarray, shape (n_trials, n_patients)
        Calendar entry times.
    event_time : ndarray, same shape
        Event times from entry (the latent, uncensored times).
    dropout_time : ndarray, same shape, or None
        Dropout times from entry; None means no dropout.
    cut : float or ndarray, shape (n_trials,)
        Calendar time of the data cut, one for all trials or one per trial (+inf: all follow-up).

    Returns
    -------
    TrialData
        ``time``: follow-up at the cut, ``min(event, dropout, cut - entry)``; ``event``: the
        event happened before dropout and by the cut; ``mask``: entered by the cut
        (``entry <= cut``). Patients not yet enrolled have time 0 and no event, so they drop
        out of every analysis even without the mask.

    Notes
    -----
    The event test is done on the calendar scale (``entry + event_time <= cut``), the same
    arithmetic as :func:`event_cut_times`, so a cut at the D-th event time counts exactly D events.
    """
    entry = np.asarray(entry, dtype=float)
    event_time = np.asarray(event_time, dtype=float)
    drop = np.full(entry.shape, np.inf) if dropout_time is None else np.asarray(dropout_time, float)
    cut = np.broadcast_to(np.asarray(cut, dtype=float), entry.shape[:1])
    c = cut[:, None]
    enrolled = entry <= c
    event = enrolled & (event_time <= drop) & (entry + event_time <= c)
    time = np.where(event, event_time, np.minimum(drop, c - entry))
    return TrialData(np.where(enrolled, time, 0.0), event, enrolled, np.array(cut))


def event_cut_times(entry: np.ndarray, event_time: np.ndarray,
                    dropout_time: np.ndarray | None, n_events: int | Sequence[int]) -> np.ndarray:
    """Calendar time at which the D-th event is observed in each trial.

    Parameters
    ----------
    entry, event_time, dropout_time : ndarray, shape (n_trials, n_patients)
        As in :func:`analysis_time_calendar`.
    n_events : int or sequence of int
        Target number(s) of events D (>= 1).

    Returns
    -------
    ndarray
        Shape (n_trials,) for an int, (len(n_events), n_trials) for a sequence; +inf where a
        trial never reaches D observed events.
    """
    entry = np.asarray(entry, dtype=float)
    event_time = np.asarray(event_time, dtype=float)
    observable = event_time <= (np.inf if dropout_time is None else np.asarray(dropout_time))
    calendar = np.where(observable, entry + event_time, np.inf)
    targets = np.atleast_1d(np.asarray(n_events, dtype=int))
    if np.any(targets < 1):
        raise ValueError("n_events must be >= 1")
    n = entry.shape[1]
    inside = targets[targets <= n] - 1
    out = np.full((targets.size, entry.shape[0]), np.inf)
    if inside.size:
        part = np.partition(calendar, np.unique(inside), axis=1)
        out[targets <= n] = part[:, inside].T
    return out[0] if np.ndim(n_events) == 0 else out


def analysis_time_events(entry: np.ndarray, event_time: np.ndarray,
                         dropout_time: np.ndarray | None, n_events: int,
                         max_time: float = np.inf) -> TrialData:
    """Observed data at the event-driven cut: the D-th event, or ``max_time`` if earlier.

    Parameters
    ----------
    entry, event_time, dropout_time : ndarray, shape (n_trials, n_patients)
        As in :func:`analysis_time_calendar`.
    n_events : int
        Number of events D that triggers the analysis.
    max_time : float
        Calendar time at which the analysis happens anyway (+inf: wait for all follow-up of
        trials that never reach D events).

    Returns
    -------
    TrialData
        As :func:`analysis_time_calendar`, with ``cut`` the per-trial cut time.
    """
    cut = np.minimum(event_cut_times(entry, event_time, dropout_time, n_events), max_time)
    return analysis_time_calendar(entry, event_time, dropout_time, cut)


def information_looks(entry: np.ndarray, event_time: np.ndarray, dropout_time: np.ndarray | None,
                      target_events: int, fractions: Sequence[float],
                      max_time: float = np.inf) -> list[TrialData]:
    """Interim and final analyses at fractions of a target number of events.

    Parameters
    ----------
    entry, event_time, dropout_time : ndarray, shape (n_trials, n_patients)
        As in :func:`analysis_time_calendar`.
    target_events : int
        Events at the final analysis.
    fractions : sequence of float
        Increasing information fractions in (0, 1]; look k happens at
        ``ceil(fractions[k] * target_events)`` events.
    max_time : float
        Calendar time by which every look happens at the latest.

    Returns
    -------
    list of TrialData
        One per look, in order.
    """
    f = np.asarray(fractions, dtype=float)
    if f.ndim != 1 or np.any(np.diff(f) <= 0) or f[0] <= 0 or f[-1] > 1:
        raise ValueError("fractions must increase within (0, 1]")
    # Round first so that e.g. 0.6 * 100 = 60.000000000000007 is not ceiled to 61.
    d = np.ceil(np.round(f * target_events, 9)).astype(int)
    cuts = np.minimum(event_cut_times(entry, event_time, dropout_time, list(d)), max_time)
    return [analysis_time_calendar(entry, event_time, dropout_time, c) for c in cuts]

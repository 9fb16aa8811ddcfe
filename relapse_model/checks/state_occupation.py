"""Posterior-predictive check of the pathway model's state occupation against the cohort.

The observed paths (:func:`relapse_model.models.pathway.paths.observed_paths`) become multi-state
data in the pathway model's five states (:data:`relapse_model.models.pathway.predict.STATES`),
read exactly as :func:`relapse_model.models.pathway.predict.occupation_at` reads a simulated
path: re-induction until the assessment ``a``; then remission (responders) or
relapsed/refractory (refractory disease, entered at ``a``); remission -> transplanted at HSCT;
remission or transplanted -> relapsed/refractory at a second relapse; any state -> dead. A
transplant at or after the second relapse (or after refractory disease) leaves the patient
relapsed/refractory, an early death goes re-induction -> dead, and a patient censored before the
assessment is censored in re-induction. Moves at one time collapse to the last state (a
transplant on the day of the assessment enters ``transplanted`` at ``a``; a relapse or transplant
on the day of death enters ``dead``), as ``occupation_at`` has it.

The occupation of that data is estimated by Aalen-Johansen
(:func:`relapse_model.common.aalen_johansen.state_occupation`) and set against the model's
per-draw occupation of the same patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from relapse_model.cohort.cohort import Cohort
from relapse_model.common.aalen_johansen import Transitions, state_occupation
from relapse_model.common.intervals import estimate_coords, summarise_draws
from relapse_model.models.pathway.paths import REFRACTORY, RESPONSE, ObservedPaths, observed_paths
from relapse_model.models.pathway.predict import STATES, occupation_at
from relapse_model.models.pathway.simulate import SimulatedPaths, simulate_paths

if TYPE_CHECKING:
    from relapse_model.models.pathway.model import PathwayModel

REINDUCTION, REMISSION, TRANSPLANTED, RELAPSED_REFRACTORY, DEAD = range(len(STATES))
#: Slack of the "inside" test, for values equal to an interval end up to rounding (e.g. all 0 or all 1).
INSIDE_SLACK = 1e-9


@dataclass(frozen=True)
class MultiStateData:
    """Multi-state data in the states of :data:`STATES`: every patient enters re-induction at 0.

    Attributes
    ----------
    entry_state : (n,) int
    transitions : Transitions
    censor : (n,) float
        End of follow-up (time of death for patients who died).
    """

    entry_state: np.ndarray
    transitions: Transitions
    censor: np.ndarray


def pathway_transitions(paths: ObservedPaths) -> MultiStateData:
    """The observed paths as moves between the pathway model's five states (module docstring).

    Parameters
    ----------
    paths : ObservedPaths

    Returns
    -------
    MultiStateData
    """
    responder = paths.response == RESPONSE
    assessed = responder | (paths.response == REFRACTORY)
    # transplant from remission only: one at or after the second relapse keeps the patient relapsed/refractory
    from_remission = responder & np.isfinite(paths.transplant) & ~(paths.relapse <= paths.transplant)
    # candidate moves in the order occupation_at ranks them; valid paths have non-decreasing times along a row
    time = np.stack([np.where(assessed, paths.assessment, np.nan),
                     np.where(from_remission, paths.transplant, np.nan),
                     np.where(responder, paths.relapse, np.nan),
                     paths.death], axis=1)
    state = np.stack([np.where(responder, REMISSION, RELAPSED_REFRACTORY), np.full(paths.n, TRANSPLANTED),
                      np.full(paths.n, RELAPSED_REFRACTORY), np.full(paths.n, DEAD)], axis=1)
    finite = np.where(np.isfinite(time), time, np.inf)
    # the earliest later move of the same patient; a move at the same time as a later one is skipped
    later = np.minimum.accumulate(finite[:, ::-1], axis=1)[:, ::-1]
    later = np.concatenate([later[:, 1:], np.full((paths.n, 1), np.inf)], axis=1)
    patient, column = np.nonzero(np.isfinite(time) & (later > finite))
    to_state = state[patient, column]
    first = np.r_[True, patient[1:] != patient[:-1]] if len(patient) else np.zeros(0, bool)
    from_state = np.where(first, REINDUCTION, np.r_[REINDUCTION, to_state[:-1]][:len(patient)])
    return MultiStateData(np.full(paths.n, REINDUCTION), Transitions(patient, time[patient, column], from_state,
                                                                     to_state), np.asarray(paths.censor, float))


def observed_occupation(cohort: Cohort | ObservedPaths, times) -> xr.DataArray:
    """Aalen-Johansen occupation of the pathway states by the cohort's observed paths.

    Parameters
    ----------
    cohort : Cohort or ObservedPaths
    times : (T,) float
        Months from first relapse.

    Returns
    -------
    xarray.DataArray
        ``state`` x ``time``; each column sums to 1.
    """
    paths = observed_paths(cohort) if isinstance(cohort, Cohort) else cohort
    data = pathway_transitions(paths)
    times = np.asarray(times, dtype=float)
    p = state_occupation(data.entry_state, data.transitions, data.censor, len(STATES), times)
    return xr.DataArray(p.T, dims=("state", "time"), coords={"state": list(STATES), "time": times},
                        name="observed_occupation")


def simulated_occupation(paths: SimulatedPaths, times) -> np.ndarray:
    """Per-draw occupation of the pathway states by uncensored simulated paths, averaged over the
    patients and replicates: (S, states, T)."""
    return np.stack([occupation_at(paths, t).mean(axis=(1, 2)) for t in np.asarray(times, float)], axis=-1)


def compare_occupation(observed: xr.DataArray, simulated: np.ndarray, interval: float = 0.95) -> xr.Dataset:
    """The observed occupation against the model's per-draw occupation of the same patients.

    The Aalen-Johansen estimate targets the occupation the cohort would have shown had nobody
    been censored, which is what the model's uncensored occupation describes: the two are
    comparable under independent censoring (follow-up ending independently of the path, as with
    administrative censoring by date of entry). The estimate stays consistent although the
    pathway model is not Markov (Datta and Satten, 2001). Censoring that depends on the patient's
    course or covariates biases the observed side.

    With one replicate per draw each draw is one replicated cohort, and the interval is a
    posterior-predictive interval of the cohort's uncensored occupation (parameter uncertainty and
    the cohort's sampling variation); with many replicates per draw it is the credible interval of
    the expected occupation of these patients, which a correct model's noisy estimate falls
    outside more often. After censoring sets in the estimate varies more than an uncensored
    cohort would, so a value just outside at late times is weaker evidence than at early ones.

    Parameters
    ----------
    observed : xarray.DataArray
        ``state`` x ``time``, from :func:`observed_occupation`.
    simulated : (S, states, T) ndarray
        Per-draw occupation averaged over the cohort's patients (:func:`simulated_occupation`),
        at the same times.
    interval : float
        Mass of the equal-tailed interval.

    Returns
    -------
    xarray.Dataset
        ``observed`` (state x time), ``predicted`` (state x time x estimate: mean, lower, upper)
        and ``inside`` (state x time, bool: lower <= observed <= upper). For a tidy table use
        ``expand_estimates(ds).to_dataframe()`` (:mod:`relapse_model.common.intervals`).
    """
    simulated = np.asarray(simulated, dtype=float)
    obs = observed.transpose("state", "time")
    if simulated.ndim != 3 or simulated.shape[1:] != obs.shape:
        raise ValueError(f"simulated occupation must be (draws, {obs.shape[0]} states, {obs.shape[1]} times); "
                         f"got shape {simulated.shape}")
    dims, values = summarise_draws(simulated, ("state", "time"), interval)
    ds = xr.Dataset({"observed": obs.variable, "predicted": (dims, values)},
                    coords={"state": obs["state"].to_numpy(), "time": obs["time"].to_numpy(), **estimate_coords()})
    lower, upper = (ds["predicted"].sel(estimate=e, drop=True) for e in ("lower", "upper"))
    ds["inside"] = (ds["observed"] >= lower - INSIDE_SLACK) & (ds["observed"] <= upper + INSIDE_SLACK)
    ds.attrs.update(credible_interval=interval, n_draws=simulated.shape[0],
                    observed="Aalen-Johansen estimate from the observed paths (censored)",
                    predicted="model occupation of the same patients without censoring")
    return ds


def occupation_check(model: PathwayModel, cohort: Cohort, times, *, replicates: int = 1, max_draws: int = 200,
                     interval: float = 0.95, seed: int = 0) -> xr.Dataset:
    """Posterior-predictive check of a fitted pathway model's state occupation on ``cohort``.

    Simulates ``replicates`` paths per posterior draw (at most ``max_draws``) for the cohort's
    patients, with their recorded assessment times, and compares with
    :func:`compare_occupation` (whose docstring says when the two sides are comparable).

    Returns
    -------
    xarray.Dataset
        As :func:`compare_occupation`.
    """
    paths = observed_paths(cohort)
    simulated = simulate_paths(model.parameters(max_draws), model.design(cohort), paths.assessment,
                               replicates=replicates, seed=seed)
    return compare_occupation(observed_occupation(paths, times), simulated_occupation(simulated, times), interval)

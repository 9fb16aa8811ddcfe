"""Virtual trial patients' courses from the pathway model, with agents acting on its transitions.

Each simulated trial takes one posterior draw; its patients' paths come from the model's own
generative code (:func:`relapse_model.models.pathway.simulate.paths_from_predictors`), with each
agent's log effects added to the transitions it acts on (:data:`OFFSET_OF_EFFECT`) for the
patients of the arms that get it and are in its target group. Endpoints are then read off the
paths (times from entry, which is the date of relapse).
"""

from __future__ import annotations

import numpy as np

from relapse_model.models.pathway.paths import (
    EARLY_DEATH,
    MRD_NEGATIVE,
    REFRACTORY,
    RESPONSE,
)
from relapse_model.models.pathway.simulate import (
    SimulatedPaths,
    TransitionOffsets,
    paths_from_predictors,
)

#: Agent effect (``[pathway]`` table) -> field of :class:`TransitionOffsets` it shifts.
OFFSET_OF_EFFECT = {"response_or": "response", "early_death_or": "early_death", "mrd_negative_or": "mrd_negative",
                    "cure_or": "cure", "relapse_hr": "relapse", "death_hr": "death", "transplant_hr": "transplant"}
#: Codes of the cause of a time-to-event endpoint.
FAILURE, DEATH = 1, 2


def trial_paths(params, eta: dict[str, np.ndarray], assessment: np.ndarray, rng: np.random.Generator,
                draw: np.ndarray, idx: np.ndarray, offsets: dict[str, np.ndarray]) -> SimulatedPaths:
    """Uncensored paths of a block of trials, arrays (n_trials, n_patients, 1).

    Parameters
    ----------
    params : PathwayParameters
        The posterior draws of the population.
    eta : dict
        ``refractory``, ``early_death``, ``cure`` linear predictors (S, N) of the population.
    assessment : (N,) array
        Response assessment times of the population.
    draw : (n_trials,) int array
        The posterior draw of each trial.
    idx : (n_trials, n_patients) int array
        Patients resampled from the population.
    offsets : dict
        Agent effect -> (n_trials, n_patients) log effects of each patient.
    """
    d2 = draw[:, None]
    shape = idx.shape + (1,)
    off = TransitionOffsets(**{OFFSET_OF_EFFECT[e]: v[:, :, None] for e, v in offsets.items()})
    return paths_from_predictors(rng, params.take(draw), shape, eta["refractory"][d2, idx][:, :, None],
                                 eta["early_death"][d2, idx][:, :, None], eta["cure"][d2, idx][:, :, None],
                                 assessment[idx][:, :, None], offsets=off)


def event_times(paths: SimulatedPaths, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
    """Time from entry to the endpoint's event (inf: none) and its cause (FAILURE or DEATH).

    ``efs``: refractory disease (dated at the assessment), relapse or death; ``os``: death;
    ``relapse``: refractory disease or relapse, with death before it a competing event (the
    returned time is then the death, cause DEATH: log-rank analyses count FAILURE only).
    """
    response, a = paths.response[..., 0], paths.assessment[..., 0]
    death = np.where(np.isfinite(paths.death[..., 0]), paths.death[..., 0], np.inf)
    failure = np.where(response == REFRACTORY, a,
                       np.where(np.isfinite(paths.relapse[..., 0]), paths.relapse[..., 0], np.inf))
    if endpoint == "os":
        return death, np.full(death.shape, DEATH)
    if endpoint not in ("efs", "relapse"):
        raise ValueError(f"not a time-to-event endpoint: {endpoint!r}")
    return np.minimum(failure, death), np.where(failure <= death, FAILURE, DEATH)


def binary_outcome(paths: SimulatedPaths, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
    """Success (response, or MRD-negative response) of each patient, and when it is known (months
    from entry: the assessment; an early death is known to be a failure by then)."""
    response, mrd = paths.response[..., 0], paths.mrd[..., 0]
    if endpoint == "response":
        success = response == RESPONSE
    elif endpoint == "mrd_negative_response":
        success = (response == RESPONSE) & (mrd == MRD_NEGATIVE)
    else:
        raise ValueError(f"not a binary endpoint: {endpoint!r}")
    return success, paths.assessment[..., 0]


def early_death_share(paths: SimulatedPaths) -> np.ndarray:
    """Share of each trial's patients dying before the assessment."""
    return (paths.response[..., 0] == EARLY_DEATH).mean(axis=1)


def standard_care_rate(pop, endpoint: str) -> np.ndarray:
    """Posterior draws of the eligible population's mean response rate (or MRD-negative
    response rate) with standard re-induction: each draw's response probabilities averaged over
    the population's patients."""
    eta_n, eta_e = pop.eta["refractory"], pop.eta["early_death"]
    p_response = 1.0 / (1.0 + np.exp(eta_n) + np.exp(eta_e))
    if endpoint == "mrd_negative_response":
        p = pop.params
        p_response = p_response / (1.0 + np.exp(p.mrd_positive_log_odds) + np.exp(p.mrd_unknown_log_odds))[:, None]
    return p_response.mean(axis=1)

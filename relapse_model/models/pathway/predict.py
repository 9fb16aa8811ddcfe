"""Predictions for patients at first relapse, from simulated paths (S draws x n patients x K
replicates per draw), summarised with credible intervals along an ``estimate`` dimension.

State occupation partitions the living and the dead at every time t:
``reinduction`` (alive, before the assessment), ``remission`` (responding, not transplanted, no
relapse yet), ``transplanted`` (transplanted from remission, no relapse yet),
``relapsed_refractory`` (alive after refractory disease or a second relapse, salvage transplant
or not) and ``dead``. Occupation, P(HSCT by t), EFS and OS are Monte Carlo averages over K paths
per draw (Monte Carlo error about sqrt(p(1-p)/K) per draw, which widens the intervals a little);
the response probabilities are exact per draw.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import xarray as xr

from relapse_model.common.intervals import estimate_coords, summarise_draws
from relapse_model.models.design import Design
from relapse_model.models.pathway.landmark import LandmarkStates, simulate_from_landmark
from relapse_model.models.pathway.parameters import PathwayParameters, PatientPredictors, patient_predictors
from relapse_model.models.pathway.paths import EARLY_DEATH, REFRACTORY, RESPONSE
from relapse_model.models.pathway.simulate import SimulatedPaths, simulate_paths

STATES = ("reinduction", "remission", "transplanted", "relapsed_refractory", "dead")
RESPONSES = ("response", "refractory", "early_death")


@dataclass(frozen=True)
class PathwayCurves:
    """Per-draw predictions: ``occupation`` (S, n, states, T), the others (S, n, T) or (S, n)."""

    occupation: np.ndarray
    hsct: np.ndarray
    efs: np.ndarray
    os: np.ndarray
    relapse: np.ndarray        # second relapse or refractory disease by t
    response: np.ndarray       # (S, n, 3)
    cure: np.ndarray           # (S, n)


def _le(x: np.ndarray, t: float) -> np.ndarray:
    return np.isfinite(x) & (x <= t)


def occupation_at(paths: SimulatedPaths, t: float) -> np.ndarray:
    """(S, n, K, states) indicators of the state occupied at ``t`` (one 1 per path)."""
    dead = _le(paths.death, t)
    alive = ~dead
    assessed = paths.assessment <= t
    rr = alive & assessed & ((paths.response == REFRACTORY) | _le(paths.relapse, t))
    in_remission = alive & assessed & (paths.response == RESPONSE) & ~_le(paths.relapse, t)
    cr_transplant = in_remission & _le(paths.transplant, t)
    return np.stack([alive & ~assessed, in_remission & ~cr_transplant, cr_transplant, rr, dead], axis=-1)


def curves(paths: SimulatedPaths, predictors: PatientPredictors | None, times: np.ndarray) -> PathwayCurves:
    """Per-draw predictions from uncensored simulated paths; the response probabilities are exact
    from ``predictors`` (at relapse) or, without them, the paths' shares (given the path so far)."""
    occupation, hsct, efs, os_, relapse = [], [], [], [], []
    refractory_at = np.where(paths.response == REFRACTORY, paths.assessment, np.nan)
    progression = np.fmin(paths.relapse, refractory_at)
    event = np.fmin(paths.death, progression)
    for t in times:
        occupation.append(occupation_at(paths, t).mean(axis=2))
        hsct.append(_le(paths.transplant, t).mean(axis=2))
        efs.append(1.0 - _le(event, t).mean(axis=2))
        os_.append(1.0 - _le(paths.death, t).mean(axis=2))
        relapse.append(_le(progression, t).mean(axis=2))   # a path's relapse, if any, comes before its death
    if predictors is not None:
        z = np.stack([np.zeros_like(predictors.eta_refractory), predictors.eta_refractory,
                      predictors.eta_early_death], axis=-1)
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        response = p / p.sum(axis=-1, keepdims=True)
    else:
        response = np.stack([(paths.response == k).mean(axis=2) for k in (RESPONSE, REFRACTORY, EARLY_DEATH)], -1)
    return PathwayCurves(np.stack(occupation, axis=-1), np.stack(hsct, -1), np.stack(efs, -1), np.stack(os_, -1),
                         np.stack(relapse, -1), response, paths.cured.mean(axis=2))


def summarise(c: PathwayCurves, patients: list[str], times: np.ndarray, interval: float = 0.95) -> xr.Dataset:
    """Labelled predictions with posterior mean and equal-tailed interval (``estimate``)."""
    ds = xr.Dataset(
        {"state_occupation": summarise_draws(c.occupation, ("patient", "state", "time"), interval),
         "hsct_probability": summarise_draws(c.hsct, ("patient", "time"), interval),
         "event_free_survival": summarise_draws(c.efs, ("patient", "time"), interval),
         "overall_survival": summarise_draws(c.os, ("patient", "time"), interval),
         "relapse_incidence": summarise_draws(c.relapse, ("patient", "time"), interval),
         "response_probability": summarise_draws(c.response, ("patient", "response"), interval),
         "cure_probability": summarise_draws(c.cure, ("patient",), interval)},
        coords={"patient": patients, "state": list(STATES), "time": np.asarray(times, float),
                "response": list(RESPONSES), **estimate_coords()})
    ds.attrs["credible_interval"] = interval
    ds["cure_probability"].attrs["meaning"] = ("probability of never relapsing (latent cure in remission, or "
                                               "after transplant from remission)")
    ds["relapse_incidence"].attrs["meaning"] = "second relapse or refractory disease by t (before death)"
    return ds


_FIELDS = tuple(f.name for f in fields(PathwayCurves))
#: Simulated paths held in memory at once (draws x patients x replicates): about 30 arrays of
#: this many values, so patients are processed in blocks.
BLOCK_PATHS = 2_000_000


def predict_draws(params: PathwayParameters, design: Design, assessment: np.ndarray, times: np.ndarray, *,
                  replicates: int, seed: int, states: LandmarkStates | None = None) -> PathwayCurves:
    """Per-draw predictions for every patient, in blocks of patients (bounded memory).

    At relapse (``states`` None) or given the path so far (``states`` at a landmark: patients
    dead or censored by then get NaN). Block ``b`` simulates with the child seed
    ``SeedSequence(seed).spawn(...)[b]``, so results depend on the seed and the inputs only.
    """
    per_block = max(1, BLOCK_PATHS // max(1, params.n_draws * replicates))
    blocks = [np.arange(i, min(i + per_block, design.n)) for i in range(0, design.n, per_block)]
    seeds = np.random.SeedSequence(seed).spawn(len(blocks))
    parts = []
    for rows, child in zip(blocks, seeds):
        d = design.rows(rows)
        if states is None:
            paths = simulate_paths(params, d, assessment[rows], replicates=replicates, seed=child)
            parts.append(curves(paths, patient_predictors(params, d), times))
        else:
            sub = states.rows(rows)
            c = curves(simulate_from_landmark(params, d, sub, replicates=replicates, seed=child), None, times)
            parts.append(_masked(c, sub.predicted))
    return PathwayCurves(*(np.concatenate([getattr(p, f) for p in parts], axis=1) for f in _FIELDS))


def _masked(c: PathwayCurves, keep: np.ndarray) -> PathwayCurves:
    def nan_out(x):
        shape = (1, len(keep)) + (1,) * (x.ndim - 2)
        return np.where(keep.reshape(shape), x, np.nan)

    return PathwayCurves(*(nan_out(getattr(c, f)) for f in _FIELDS))


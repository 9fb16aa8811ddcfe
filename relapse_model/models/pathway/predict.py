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

from dataclasses import dataclass

import numpy as np
import xarray as xr

from relapse_model.common.intervals import estimate_coords, summarise_draws
from relapse_model.models.pathway.parameters import PatientPredictors
from relapse_model.models.pathway.paths import REFRACTORY, RESPONSE
from relapse_model.models.pathway.simulate import SimulatedPaths

STATES = ("reinduction", "remission", "transplanted", "relapsed_refractory", "dead")
RESPONSES = ("response", "refractory", "early_death")


@dataclass(frozen=True)
class PathwayCurves:
    """Per-draw predictions: ``occupation`` (S, n, states, T), the others (S, n, T) or (S, n)."""

    occupation: np.ndarray
    hsct: np.ndarray
    efs: np.ndarray
    os: np.ndarray
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


def curves(paths: SimulatedPaths, predictors: PatientPredictors, times: np.ndarray) -> PathwayCurves:
    """Per-draw predictions from uncensored simulated paths."""
    occupation, hsct, efs, os_ = [], [], [], []
    refractory_at = np.where(paths.response == REFRACTORY, paths.assessment, np.nan)
    event = np.fmin(np.fmin(paths.death, paths.relapse), refractory_at)
    for t in times:
        occupation.append(occupation_at(paths, t).mean(axis=2))
        hsct.append(_le(paths.transplant, t).mean(axis=2))
        efs.append(1.0 - _le(event, t).mean(axis=2))
        os_.append(1.0 - _le(paths.death, t).mean(axis=2))
    z = np.stack([np.zeros_like(predictors.eta_refractory), predictors.eta_refractory, predictors.eta_early_death],
                 axis=-1)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    return PathwayCurves(np.stack(occupation, axis=-1), np.stack(hsct, -1), np.stack(efs, -1), np.stack(os_, -1),
                         p / p.sum(axis=-1, keepdims=True), paths.cured.mean(axis=2))


def summarise(c: PathwayCurves, patients: list[str], times: np.ndarray, interval: float = 0.95) -> xr.Dataset:
    """Labelled predictions with posterior mean and equal-tailed interval (``estimate``)."""
    ds = xr.Dataset(
        {"state_occupation": summarise_draws(c.occupation, ("patient", "state", "time"), interval),
         "hsct_probability": summarise_draws(c.hsct, ("patient", "time"), interval),
         "event_free_survival": summarise_draws(c.efs, ("patient", "time"), interval),
         "overall_survival": summarise_draws(c.os, ("patient", "time"), interval),
         "response_probability": summarise_draws(c.response, ("patient", "response"), interval),
         "cure_probability": summarise_draws(c.cure, ("patient",), interval)},
        coords={"patient": patients, "state": list(STATES), "time": np.asarray(times, float),
                "response": list(RESPONSES), **estimate_coords()})
    ds.attrs["credible_interval"] = interval
    ds["cure_probability"].attrs["meaning"] = ("probability of never relapsing (latent cure in remission, or "
                                               "after transplant from remission)")
    return ds


"""Checks of a fitted pathway model on its cohort: state occupation against the Aalen-Johansen
estimate, calibration of P(response), of EFS at horizons, and of landmark predictions by the
state at the landmark (transplanted, in remission, relapsed/refractory).

Every observed side is nonparametric: Aalen-Johansen (:mod:`relapse_model.common.aalen_johansen`)
for occupation, Kaplan-Meier from scikit-survival for survival from a landmark and for EFS,
binomial proportions with Wilson intervals for response.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats
from sksurv.nonparametric import kaplan_meier_estimator

from relapse_model.checks.calibration import calibration_table
from relapse_model.checks.state_occupation import occupation_check
from relapse_model.cohort.cohort import Cohort
from relapse_model.models.pathway.parameters import patient_predictors
from relapse_model.models.pathway.paths import (EARLY_DEATH, REFRACTORY, RESPONSE, ObservedPaths,
                                                observed_paths)
from relapse_model.models.pathway.predict import predict_draws

#: Occupation is compared at these months from relapse (fine enough for the first months, when
#: patients move through re-induction and remission to transplant).
OCCUPATION_TIMES = tuple(float(t) for t in np.arange(0.0, 60.25, 0.5))


@dataclass(frozen=True)
class PathwayCheckSpec:
    """Settings of the pathway checks: calibration horizons (months from relapse), the landmark
    (months) and horizons after it, paths per draw, posterior draws used, and the seed."""

    horizons: tuple[float, ...] = (12.0, 36.0, 60.0)
    landmark: float = 6.0
    landmark_horizons: tuple[float, ...] = (24.0, 60.0)
    replicates: int = 20
    max_draws: int = 200
    seed: int = 0


def observed_efs(paths: ObservedPaths) -> tuple[np.ndarray, np.ndarray]:
    """``(time, cause)`` of EFS as the pathway model reads it: refractory disease at the
    assessment and second relapse are cause 1, death without either cause 2, 0 censored."""
    refractory = np.where(paths.response == REFRACTORY, paths.assessment, np.nan)
    progression = np.fmin(paths.relapse, refractory)
    time = np.where(np.isfinite(progression), progression, paths.censor)
    cause = np.where(np.isfinite(progression), 1, np.where(np.isfinite(paths.death), 2, 0))
    return time, cause.astype(np.int64)


def response_calibration(model, cohort: Cohort, n_groups: int = 5, max_draws: int = 1000) -> pd.DataFrame:
    """Predicted against observed P(response) in groups of predicted probability.

    Patients censored before the assessment have no observed response and are left out; the
    table's ``attrs["unassessed"]`` counts them. Observed: share responding, Wilson 95% interval.
    """
    paths = observed_paths(cohort)
    pp = patient_predictors(model.parameters(max_draws), model.design(cohort))
    z = np.stack([np.zeros_like(pp.eta_refractory), pp.eta_refractory, pp.eta_early_death], axis=-1)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    predicted = (p[..., 0] / p.sum(axis=-1)).mean(axis=0)
    assessed = np.isin(paths.response, (RESPONSE, REFRACTORY, EARLY_DEATH))
    pred, responded = predicted[assessed], paths.response[assessed] == RESPONSE
    n = pred.size
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(pred, kind="stable")] = np.arange(n)
    group = rank * n_groups // n
    rows = []
    for g in range(n_groups):
        m = group == g
        k, size = int(responded[m].sum()), int(m.sum())
        ci = stats.binomtest(k, size).proportion_ci(0.95, method="wilson")
        rows.append({"group": g + 1, "n": size, "predicted": float(pred[m].mean()), "observed": k / size,
                     "lower": float(ci.low), "upper": float(ci.high)})
    table = pd.DataFrame(rows)
    table.attrs["unassessed"] = int((~assessed).sum())
    return table


def _km_at(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float, float]:
    x, s, ci = kaplan_meier_estimator(event.astype(bool), time, conf_type="log-log")
    i = int(np.searchsorted(x, horizon, side="right")) - 1
    return (1.0, 1.0, 1.0) if i < 0 else (float(s[i]), float(ci[0, i]), float(ci[1, i]))


def landmark_calibration(model, cohort: Cohort, spec: PathwayCheckSpec = PathwayCheckSpec()) -> pd.DataFrame:
    """Predictions given the path so far against Kaplan-Meier from the landmark, by the state
    at the landmark: for each state, horizon and quantity (OS; EFS for patients event-free at the
    landmark) the number of patients, the mean predicted probability and the observed one.

    This is the check the one-step model cannot pass: among patients alive at the landmark,
    those transplanted by then and those not have different outcomes.
    """
    ds = model.predict(cohort, times=list(spec.landmark_horizons), landmark=spec.landmark,
                       replicates=spec.replicates, max_draws=spec.max_draws, seed=spec.seed)
    paths = observed_paths(cohort)
    state = ds["landmark_state"].to_numpy()
    os_time, os_event = paths.censor, np.isfinite(paths.death)
    efs_time, efs_cause = observed_efs(paths)
    rows = []
    for name in ("remission", "transplanted", "relapsed_refractory", "reinduction"):
        m = state == name
        if m.sum() < 5:
            continue
        quantities = [("overall_survival", "os", os_time, os_event)]
        if name in ("remission", "transplanted"):
            quantities.append(("event_free_survival", "efs", efs_time, efs_cause > 0))
        for var, label, time, event in quantities:
            for h in spec.landmark_horizons:
                observed, lower, upper = _km_at(time[m], event[m], h)
                rows.append({"state": name, "quantity": label, "horizon": h, "n": int(m.sum()),
                             "predicted": float(ds[var].sel(estimate="mean", time=h).to_numpy()[m].mean()),
                             "observed": observed, "lower": lower, "upper": upper})
    table = pd.DataFrame(rows)
    table.attrs["landmark"] = spec.landmark
    return table


def efs_calibration(model, cohort: Cohort, spec: PathwayCheckSpec = PathwayCheckSpec()) -> dict[str, pd.DataFrame]:
    """Calibration of 1 - EFS at each horizon, predicted at relapse, in groups of predicted risk
    (:func:`relapse_model.checks.calibration.calibration_table`), keyed ``efs_{h}m``."""
    paths = observed_paths(cohort)
    hs = np.asarray(spec.horizons, dtype=float)
    params, design = model.parameters(spec.max_draws), model.design(cohort)
    # two independent simulations: one forms the groups, the other gives their mean prediction
    risk, rank_by = (1.0 - predict_draws(params, design, paths.assessment, hs, replicates=spec.replicates,
                                         seed=seed).efs.mean(axis=0) for seed in (spec.seed, spec.seed + 1))
    time, cause = observed_efs(paths)
    return {f"efs_{h:g}m": calibration_table(risk[:, j], time, cause, h, kind="efs", rank_by=rank_by[:, j])
            for j, h in enumerate(hs)}


def occupation(model, cohort: Cohort, spec: PathwayCheckSpec = PathwayCheckSpec()) -> xr.Dataset:
    """State occupation of the cohort (Aalen-Johansen) against the model's, one replicated cohort
    per draw (:func:`relapse_model.checks.state_occupation.occupation_check`)."""
    return occupation_check(model, cohort, OCCUPATION_TIMES, replicates=1, max_draws=spec.max_draws, seed=spec.seed)

"""Multi-arm (multi-stage) trials: k experimental arms against a shared control.

Patients are allocated by permuted blocks over the k + 1 arms; outcomes come from the fitted
model as in :mod:`.engine` (one posterior draw and one draw of the agents' effects per trial).
Each comparison uses the patients of its arm and of the control. An arm dropped for futility at
an interim look enrols nobody afterwards (its later patients are not counted in the sample
size) and cannot be declared; the final test uses a critical value keeping the family-wise
error at ``alpha`` under the global null (:func:`relapse_model.designs.dunnett_critical_value`
or Bonferroni), and the analytic Dunnett family-wise error of that value is reported beside
the simulated one. With efficacy stopping an arm crossing its look's bound
(:func:`relapse_model.designs.multiarm.mams_efficacy_bounds`) is declared there and stops
enrolling; the bounds' family-wise error under the normal law of the z-statistics is reported
instead. Reproducibility as in :mod:`.engine`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from relapse_model.designs import dunnett_critical_value, dunnett_fwer, flag_type1
from relapse_model.designs.multiarm import mams_efficacy_bounds, mams_fwer
from relapse_model.simulate import analyses
from relapse_model.simulate import mechanics as mech
from relapse_model.simulate import proportions as prop
from relapse_model.simulate.engine import (
    BLOCK_TRIALS,
    SCENARIOS,
    Population,
    block_chunks,
    block_start,
    effect_columns,
    patient_offsets,
    population_label,
    prepare_population,
    run_scenarios,
    trial_outcomes,
)
from relapse_model.simulate.spec import MultiArmSpec

_MEANING = {"assurance": "assurance (effects from agent priors)", "power": "power (effects at prior medians)",
            "no_effect": "family-wise type-I error (no agent has an effect)"}


def efficacy_bounds(spec: MultiArmSpec) -> np.ndarray:
    """The efficacy bound of every look (``inf`` at interims without efficacy stopping): Dunnett's
    or the generalised-Dunnett MAMS bounds for k arms, or those of one comparison at alpha / k
    (Bonferroni) or alpha (no correction)."""
    k, alpha = len(spec.arms) - 1, spec.analysis.alpha
    looks = len(spec.interim.fractions) if spec.interim else 1
    arms, level = (k, alpha) if spec.multiplicity == "dunnett" else (1, alpha / k if spec.multiplicity ==
                                                                     "bonferroni" else alpha)
    ratio = spec.ratio[1] / spec.ratio[0] if spec.multiplicity == "dunnett" else 1.0
    if spec.efficacy_stopping == "none":
        final = (dunnett_critical_value(level, arms, ratio) if spec.multiplicity == "dunnett"
                 else float(stats.norm.isf(level)))
        return np.concatenate([np.full(looks - 1, np.inf), [final]])
    return mams_efficacy_bounds(spec.interim.fractions, level, arms, ratio, spec.efficacy_stopping)


def _comparison_z(spec: MultiArmSpec, data, arm: np.ndarray, a: int) -> np.ndarray:
    """z of experimental arm ``a`` against control at one look (positive favours arm ``a``)."""
    pair = (arm == 0) | (arm == a)
    if spec.binary:
        success, mask = data
        return prop.two_proportion_z(prop.arm_counts(success, (arm == a).astype(np.int8), mask & pair))
    return -analyses.logrank(data.time, data.event, (arm == a).astype(np.int8), data.mask & pair).z


def simulate_block(spec: MultiArmSpec, pop: Population, bounds: np.ndarray, seed: int, scenario: str, block: int,
                   n_trials: int) -> dict[str, np.ndarray]:
    """Simulate and judge ``n_trials`` multi-arm trials (one block) of one scenario."""
    n, k = spec.sample_size, len(spec.arms) - 1
    rng, draw, effects, idx, entry = block_start(spec, pop, seed, scenario, block, n_trials, n)
    arm = mech.allocate_arms(rng, n_trials, n, spec.ratio)
    outcomes = trial_outcomes(spec, pop, rng, draw, idx, entry,
                              patient_offsets(spec.arms, spec.population, pop, effects, arm, idx))
    if spec.binary:
        looks = [((outcomes.success, mask), cut) for mask, cut in outcomes.looks]
    else:
        looks = [(lk, lk.cut) for lk in outcomes.looks]
    futility = list(spec.interim.futility) if spec.interim and spec.interim.futility else [-np.inf] * len(looks)
    active = np.ones((n_trials, k), dtype=bool)
    stopped_at = np.full((n_trials, k), np.inf)      # calendar time an arm stops enrolling
    early_win = np.zeros((n_trials, k), dtype=bool)
    dropped = np.zeros((n_trials, k), dtype=bool)
    z = np.empty((n_trials, len(looks), k))
    for j, (data, cut) in enumerate(looks):
        for a in range(1, k + 1):
            z[:, j, a - 1] = _comparison_z(spec, data, arm, a)
        if j < len(looks) - 1:
            zj = np.nan_to_num(z[:, j], nan=-np.inf)
            win = active & (zj >= bounds[j])
            drop = active & ~win & ~(zj >= futility[j])
            stopped_at = np.where(win | drop, cut[:, None], stopped_at)
            early_win |= win
            dropped |= drop
            active &= ~(win | drop)
    # a trial whose arms have all stopped ends when the last one did
    last_stop = np.where(np.isfinite(stopped_at), stopped_at, -np.inf).max(axis=1)
    final_cut = np.where(active.any(axis=1), looks[-1][1], last_stop)
    reject = early_win | (active & (np.nan_to_num(z[:, -1], nan=-np.inf) >= bounds[-1]))
    limit = np.concatenate([final_cut[:, None], np.minimum(stopped_at, final_cut[:, None])], axis=1)   # per arm
    enrolled = entry <= limit[np.arange(n_trials)[:, None], arm]
    result = {"reject": reject, "dropped": dropped, "stopped_for_efficacy": early_win,
              "any_reject": reject.any(axis=1), "n_enrolled": enrolled.sum(axis=1).astype(np.int64),
              "duration": final_cut, "z": z, "draw": draw}
    return result | effect_columns(pop, effects)


def run_blocks(spec: MultiArmSpec, pop: Population, bounds: np.ndarray, seed: int, scenario: str, n_trials: int,
               blocks: range) -> dict[str, np.ndarray]:
    """Simulate the given blocks of a scenario (the unit of work a worker receives)."""
    parts = [simulate_block(spec, pop, bounds, seed, scenario, b, min(BLOCK_TRIALS, n_trials - b * BLOCK_TRIALS))
             for b in blocks]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def simulate_multi_arm(model, spec: MultiArmSpec, *, seed: int = 0, n_trials: int | None = None,
                       scenarios: tuple[str, ...] = tuple(SCENARIOS), chunk_trials: int = 2000, workers: int = 1,
                       scheduler: str | None = None, cohort=None, progress: Callable[[int, int], None] | None = None,
                       population: Population | None = None) -> xr.Dataset:
    """Simulate a multi-arm trial under each scenario (parameters as
    :func:`relapse_model.simulate.engine.simulate_trials`). Per-trial results have dims
    ``scenario``, ``trial`` and ``arm`` (the experimental arms); ``attrs`` hold the critical
    value and its analytic family-wise error."""
    n_trials = int(n_trials or spec.n_trials)
    pop = population or prepare_population(model, spec, cohort)
    bounds = efficacy_bounds(spec)
    crit = float(bounds[-1])
    results = run_scenarios(run_blocks, lambda scenario, c: (spec, pop, bounds, seed, scenario, n_trials, c),
                            scenarios,
                            block_chunks(n_trials, chunk_trials), workers=workers, scheduler=scheduler,
                            progress=progress)
    arms = [a.name for a in spec.arms[1:]]
    dims = {1: ("scenario", "trial"), 2: ("scenario", "trial", "arm"), 3: ("scenario", "trial", "look", "arm")}
    data_vars = {}
    for key in results[scenarios[0]]:
        arr = np.stack([results[s][key] for s in scenarios])
        data_vars[key.replace(".", "__")] = (dims[arr.ndim - 1], arr)
    ds = xr.Dataset(data_vars, coords={"scenario": list(scenarios), "trial": np.arange(n_trials), "arm": arms})
    k, r = len(arms), spec.ratio[1] / spec.ratio[0]
    ds.attrs.update({
        "spec": spec.model_dump_json(by_alias=True, exclude_none=True), "seed": int(seed),
        "block_trials": BLOCK_TRIALS, "fit_hash": model.posterior.attrs.get("fit_hash", ""),
        "design_kind": "multi_arm", "endpoint": spec.endpoint, "model_kind": pop.kind,
        "population": population_label(spec, pop.source), "critical_value": crit,
        "efficacy_bounds": np.asarray(bounds, dtype=float), "efficacy_stopping": spec.efficacy_stopping,
        "analytic_fwer": _design_fwer(spec, bounds, k, r),
        "alpha": spec.analysis.alpha, "multiplicity": spec.multiplicity,
    })
    return ds


def _design_fwer(spec: MultiArmSpec, bounds: np.ndarray, k: int, ratio: float) -> float:
    """The family-wise error of the bounds under the normal law of the z-statistics: Dunnett's
    integral with one analysis, the simulated canonical z-process with efficacy stopping (NaN
    for unequal allocation to the experimental arms)."""
    if len(set(spec.ratio[1:])) != 1:
        return np.nan
    if spec.efficacy_stopping == "none":
        return dunnett_fwer(float(bounds[-1]), k, ratio, method="integral")
    return mams_fwer(bounds, spec.interim.fractions, k, ratio)


def multi_arm_characteristics(ds: xr.Dataset) -> pd.DataFrame:
    """Rows per scenario: each experimental arm's probability of being declared better than
    control and of being dropped, then "any arm" (under no effect, the family-wise error, with
    the analytic Dunnett value and the nominal alpha beside it), expected size and duration."""
    rows = []
    for scenario in ds["scenario"].to_numpy():
        d = ds.sel(scenario=scenario)
        n = d.sizes["trial"]
        for arm in ds["arm"].to_numpy():
            p = float(d["reject"].sel(arm=arm).mean())
            rows.append({"scenario": str(scenario), "arm": str(arm), "P(success)": p,
                         "MC SE": float(np.sqrt(p * (1 - p) / n)), "dropped": float(d["dropped"].sel(arm=arm).mean())}
                        | ({"stopped for efficacy": float(d["stopped_for_efficacy"].sel(arm=arm).mean())}
                           if "stopped_for_efficacy" in d else {}))
        p = float(d["any_reject"].mean())
        se = float(np.sqrt(p * (1 - p) / n))
        row = {"scenario": str(scenario), "arm": "any arm", "P(success)": p, "MC SE": se,
               "E[sample size]": float(d["n_enrolled"].mean()), "E[duration, months]": float(d["duration"].mean())}
        if str(scenario) == "no_effect":
            row |= {"nominal alpha": float(ds.attrs["alpha"]), "analytic FWER": float(ds.attrs["analytic_fwer"]),
                    "type-I above nominal": "YES" if flag_type1(p, se, float(ds.attrs["alpha"])) else "no"}
        rows.append(row)
    return pd.DataFrame(rows)

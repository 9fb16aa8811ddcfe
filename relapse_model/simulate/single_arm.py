"""Single-arm phase 2 trials with a response endpoint, simulated through the pathway model.

The design (Simon two-stage, BOP2, Lee & Liu predictive probability or one exact binomial
test) comes from :mod:`relapse_model.designs` as response-count boundaries at cumulative
patient counts, with its exact operating characteristics at the fixed rates p0 and p1. The
same boundaries are then applied to virtual patients whose responses come from the fitted
pathway model: each trial takes one posterior draw and one draw of the agents' effects, so the
probability of declaring activity carries both uncertainties (assurance). The null p0 may come
from the model too: its posterior mean response rate with standard re-induction in the
eligible population (:func:`standard_care_rate`).

Accrual is suspended at each interim look until the look's patients have been assessed (as
Simon's design assumes); the duration of a trial is the calendar time of its last look.
Reproducibility as in :mod:`.engine`: block ``b`` of scenario ``m`` uses the stream
``SeedSequence(seed, spawn_key=(m, b))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.designs import (
    calibrate_bop2,
    multistage_oc,
    search_predictive_design,
    simon_two_stage,
)
from relapse_model.designs.calibration import flag_type1
from relapse_model.errors import InputError
from relapse_model.simulate import mechanics as mech
from relapse_model.simulate import pathway_arms
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
)
from relapse_model.simulate.pathway_arms import standard_care_rate
from relapse_model.simulate.spec import SingleArmDesign, SingleArmSpec

_MEANING = {"assurance": "assurance (effects from agent priors)", "power": "power (effects at prior medians)",
            "no_effect": "type-I error (the agent does nothing)"}


@dataclass(frozen=True)
class Boundaries:
    """A single-arm design as response-count boundaries (see :func:`relapse_model.designs.multistage_oc`)."""

    method: str
    p0: float
    p1: float
    looks: tuple[int, ...]
    futility: tuple[int, ...]
    efficacy: tuple[int | None, ...]
    exact_type1: float
    exact_power: float
    alpha: float
    description: str

    @property
    def n(self) -> int:
        return self.looks[-1]


def design_boundaries(design: SingleArmDesign, p0: float, source: str) -> Boundaries:
    """The design's boundaries for null rate ``p0`` (a number, or the model's value)."""
    p1 = design.p1 if design.p1 is not None else p0 + float(design.delta)
    if not p0 < p1 < 1:
        raise InputError.single(source, f"key 'design': the target p1 = {p1:.3f} must lie between p0 = {p0:.3f} "
                                "and 1")
    if design.method == "simon":
        d = simon_two_stage(p0, p1, design.alpha, design.power, kind=design.simon_kind)
        looks, fut, eff = (d.n1, d.n), (d.r1, d.r), (None, None)
        text = (f"Simon {design.simon_kind} two-stage: stop after {d.n1} patients with <= {d.r1} responses; "
                f"activity with > {d.r} responses of {d.n}")
    elif design.method == "exact":
        n = int(design.n)
        r = _exact_critical(n, p0, design.alpha)
        looks, fut, eff = (n,), (r,), (None,)
        text = f"one analysis of {n} patients: activity with > {r} responses (exact binomial test)"
    elif design.method == "bop2":
        looks_in = design.looks or list(range(10, int(design.n), 10)) + [int(design.n)]
        d = calibrate_bop2(p0, p1, looks_in, design.alpha).design
        looks, fut, eff = d.looks, d.futility, tuple(None if e > n else e for e, n in zip(d.efficacy, d.looks))
        text = f"BOP2 futility monitoring at {', '.join(map(str, looks))} patients (calibrated to alpha)"
    else:
        d = search_predictive_design(p0, p1, design.alpha, design.power, range(10, int(design.n) + 1)).design
        looks, fut, eff = d.looks, d.futility, tuple(None if e > n else e for e, n in zip(d.efficacy, d.looks))
        text = f"Lee & Liu predictive-probability monitoring, at most {d.n_max} patients"
    oc = multistage_oc(list(looks), list(fut), [p0, p1], list(eff))
    return Boundaries(design.method, float(p0), float(p1), tuple(int(x) for x in looks), tuple(int(x) for x in fut),
                      tuple(eff), float(oc.prob_reject[0]), float(oc.prob_reject[1]), design.alpha, text)


def _exact_critical(n: int, p0: float, alpha: float) -> int:
    """Smallest r with P(X > r | n, p0) <= alpha."""
    from scipy import stats
    r = np.arange(-1, n + 1)
    ok = stats.binom.sf(r, n, p0) <= alpha
    return int(r[np.argmax(ok)])


def _staged_times(entry: np.ndarray, known: np.ndarray, looks: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Entry times with accrual suspended at each interim look until its patients are assessed,
    and the calendar time of each look, (n_trials, n_looks)."""
    entry = entry.copy()
    cuts = []
    for k, n_k in enumerate(looks):
        cut = (entry[:, :n_k] + known[:, :n_k]).max(axis=1)
        cuts.append(cut)
        if k < len(looks) - 1:      # the next patient arrives after the look, gaps unchanged
            entry[:, n_k:] += (cut - entry[:, n_k - 1])[:, None]
    return entry, np.stack(cuts, axis=1)


def simulate_block(spec: SingleArmSpec, pop: Population, bounds: Boundaries, seed: int, scenario: str,
                   block: int, n_trials: int) -> dict[str, np.ndarray]:
    """Simulate and judge ``n_trials`` single-arm trials (one block) of one scenario."""
    n = bounds.n
    rng, draw, effects, idx, entry = block_start(spec, pop, seed, scenario, block, n_trials, n)
    offsets = patient_offsets([spec.arm], spec.population, pop, effects, np.zeros(idx.shape, np.int8), idx)
    paths = pathway_arms.trial_paths(pop.params, pop.eta, pop.assessment, rng, draw, idx, offsets)
    success, known = pathway_arms.binary_outcome(paths, spec.endpoint)
    dropout = mech.dropout_times(rng, (n_trials, n), spec.dropout.rate)
    success &= dropout > known          # lost before the assessment: no response (intention to treat)
    _, cuts = _staged_times(entry, known, bounds.looks)
    counts = np.cumsum(success, axis=1)[:, np.array(bounds.looks) - 1]          # (trials, looks)
    k = len(bounds.looks)
    running = np.ones(n_trials, bool)
    reject, stop = np.zeros(n_trials, bool), np.full(n_trials, k - 1)
    for j in range(k):
        if j == k - 1:
            hit_eff, hit_fut = counts[:, j] > bounds.futility[j], np.zeros(n_trials, bool)
        else:
            e = bounds.efficacy[j]
            hit_eff = counts[:, j] >= e if e is not None else np.zeros(n_trials, bool)
            hit_fut = counts[:, j] <= bounds.futility[j]
        reject |= running & hit_eff
        stop = np.where(running & (hit_eff | hit_fut), j, stop)
        running &= ~(hit_eff | hit_fut)
    rows = np.arange(n_trials)
    n_at = np.array(bounds.looks)[stop]
    result = {"reject": reject, "futility": (stop < k - 1) & ~reject, "stop_look": stop.astype(np.int64),
              "duration": cuts[rows, stop], "n_enrolled": n_at.astype(np.int64),
              "events": counts[rows, stop].astype(np.int64), "response_rate": counts[rows, stop] / n_at,
              "early_death_share": pathway_arms.early_death_share(paths), "draw": draw}
    return result | effect_columns(pop, effects)


def run_blocks(spec: SingleArmSpec, pop: Population, bounds: Boundaries, seed: int, scenario: str,
               n_trials: int, blocks: range) -> dict[str, np.ndarray]:
    """Simulate the given blocks of a scenario (the unit of work a worker receives)."""
    parts = [simulate_block(spec, pop, bounds, seed, scenario, b, min(BLOCK_TRIALS, n_trials - b * BLOCK_TRIALS))
             for b in blocks]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def simulate_single_arm(model, spec: SingleArmSpec, *, seed: int = 0, n_trials: int | None = None,
                        scenarios: tuple[str, ...] = tuple(SCENARIOS), chunk_trials: int = 2000,
                        workers: int = 1, scheduler: str | None = None, cohort=None,
                        progress: Callable[[int, int], None] | None = None,
                        population: Population | None = None) -> xr.Dataset:
    """Simulate a single-arm trial of ``spec`` under each scenario through a fitted pathway model.

    Parameters are those of :func:`relapse_model.simulate.engine.simulate_trials`. The result
    holds per-trial decisions (dims ``scenario``, ``trial``) and, in ``attrs``, the design's
    boundaries, its exact type-I error and power at p0 and p1, the null rate used and, when it
    came from the model, the posterior of the standard-care rate.
    """
    if not model.spec.pathway:
        raise InputError.single(spec.name, "a single-arm response trial needs a fit of the pathway model "
                                "(relapse-model fit ... --model pathway)")
    n_trials = int(n_trials or spec.n_trials)
    pop = population or prepare_population(model, spec, cohort)
    soc = standard_care_rate(pop, spec.endpoint)
    p0 = float(soc.mean()) if spec.design.p0 == "model" else float(spec.design.p0)
    bounds = design_boundaries(spec.design, p0, spec.name)
    results = run_scenarios(run_blocks, lambda scenario, c: (spec, pop, bounds, seed, scenario, n_trials, c),
                            scenarios, block_chunks(n_trials, chunk_trials), workers=workers, scheduler=scheduler,
                            progress=progress)
    data_vars = {key.replace(".", "__"): (("scenario", "trial"), np.stack([results[s][key] for s in scenarios]))
                 for key in results[scenarios[0]]}
    ds = xr.Dataset(data_vars, coords={"scenario": list(scenarios), "trial": np.arange(n_trials)})
    ds.attrs.update({
        "spec": spec.model_dump_json(by_alias=True, exclude_none=True), "seed": int(seed),
        "block_trials": BLOCK_TRIALS, "fit_hash": model.posterior.attrs.get("fit_hash", ""),
        "design_kind": "single_arm", "design": bounds.description, "p0": bounds.p0, "p1": bounds.p1,
        "p0_source": "model" if spec.design.p0 == "model" else "spec",
        "standard_care_rate_mean": float(soc.mean()), "standard_care_rate_lower": float(np.quantile(soc, 0.025)),
        "standard_care_rate_upper": float(np.quantile(soc, 0.975)),
        "looks": np.array(bounds.looks), "futility_bounds": np.array(bounds.futility),
        "exact_type1": bounds.exact_type1, "exact_power": bounds.exact_power, "alpha": bounds.alpha,
        "population": population_label(spec, pop.source), "endpoint": spec.endpoint, "model_kind": "pathway",
    })
    return ds


def single_arm_characteristics(ds: xr.Dataset) -> pd.DataFrame:
    """One row per scenario: probability of declaring activity (MC SE), early stopping, expected
    size and duration, mean observed response rate; the no-effect row carries the nominal alpha
    and the design's exact type-I error at p0, and is flagged when the simulated error exceeds
    the nominal by more than 2 MC SE."""
    rows = []
    for scenario in ds["scenario"].to_numpy():
        d = ds.sel(scenario=scenario)
        p = float(d["reject"].mean())
        se = float(np.sqrt(p * (1 - p) / d.sizes["trial"]))
        row = {"scenario": str(scenario), "meaning": _MEANING[str(scenario)], "P(success)": p, "MC SE": se,
               "stopped early": float((d["stop_look"] < len(ds.attrs["looks"]) - 1).mean()),
               "E[sample size]": float(d["n_enrolled"].mean()), "E[duration, months]": float(d["duration"].mean()),
               "E[responders]": float(d["events"].mean()), "mean response rate": float(d["response_rate"].mean())}
        if str(scenario) == "no_effect":
            row |= {"nominal alpha": float(ds.attrs["alpha"]), "exact type-I at p0": float(ds.attrs["exact_type1"]),
                    "type-I above nominal": "YES" if flag_type1(p, se, float(ds.attrs["alpha"])) else "no"}
        if str(scenario) == "power":
            row["exact power at p1"] = float(ds.attrs["exact_power"])
        rows.append(row)
    return pd.DataFrame(rows)

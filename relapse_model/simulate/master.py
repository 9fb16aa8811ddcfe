"""Master protocols: patients screened from one population and routed by genotype to subtrials.

Each subtrial is an ordinary single-arm or two-arm trial (:mod:`.single_arm`, :mod:`.engine`)
whose virtual patients are the population's patients routed to it and whose accrual is the
screening rate times the share routed to it. Replicate ``t`` of every subtrial uses the same
posterior draw (forced draws), so the protocol's family-wise error and duration are computed
over subtrials that share the model's uncertainty, as the real subtrials would. Subtrial ``i``
draws from its own stream (``SeedSequence([seed, i])``); the draws from ``SeedSequence(seed,
spawn_key=(50,))``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.schema import COLUMN
from relapse_model.errors import InputError
from relapse_model.simulate.engine import (
    SCENARIOS,
    child_seed,
    operating_characteristics,
    population_cohort,
    population_label,
    prefixed,
    prepare_population,
    simulate_trials,
)
from relapse_model.simulate.spec import MasterProtocolSpec, with_overrides


def route(spec: MasterProtocolSpec, data: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Subtrial index of every patient of the population (-1: routed nowhere).

    Raises
    ------
    InputError
        Overlapping eligibility without a ``routing`` rule, or a subtrial nobody is routed to.
    """
    n = len(data)
    masks = np.zeros((len(spec.subtrials), n), dtype=bool)
    for i, sub in enumerate(spec.subtrials):
        if sub.eligible != "rest":
            masks[i] = np.logical_or.reduce([c.mask(data) for c in sub.eligible])
    several = masks.sum(axis=0) > 1
    if several.any() and spec.routing is None:
        pairs = sorted({" and ".join(spec.subtrials[i].name for i in np.flatnonzero(masks[:, j]))
                        for j in np.flatnonzero(several)})
        raise InputError.single(spec.name, f"key 'routing': {int(several.sum())} patient(s) of the population are "
                                f"eligible for several subtrials ({'; '.join(pairs[:3])}): give routing = 'first' "
                                "(the first listed takes them) or 'random'")
    if spec.routing == "random":
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(51,)))
        score = np.where(masks, rng.random(masks.shape), -1.0)
    else:
        score = np.where(masks, -np.arange(len(spec.subtrials))[:, None], -np.inf)
    assigned = np.where(masks.any(axis=0), np.argmax(score, axis=0), -1)
    if spec.subtrials[-1].eligible == "rest":
        assigned = np.where(assigned < 0, len(spec.subtrials) - 1, assigned)
    for i, sub in enumerate(spec.subtrials):
        if not (assigned == i).any():
            raise InputError.single(spec.name, f"key 'subtrials.{i}.eligible': no patient of the population is "
                                    f"routed to subtrial '{sub.name}'")
    return assigned


def simulate_master_protocol(model, spec: MasterProtocolSpec, *, seed: int = 0, n_trials: int | None = None,
                             scenarios: tuple[str, ...] = tuple(SCENARIOS), chunk_trials: int = 2000,
                             workers: int = 1, scheduler: str | None = None, cohort: Cohort | None = None,
                             progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Simulate ``n_trials`` replicates of a master protocol under each scenario.

    Returns
    -------
    xarray.Dataset
        Every subtrial's per-trial results, prefixed ``NAME__`` (dims ``scenario``, ``trial`` and
        ``NAME__look`` for two-arm subtrials), and in ``attrs`` the routing shares, accrual
        rates and each subtrial's own attributes; :func:`protocol_characteristics` summarises it.
    """
    n_trials = int(n_trials or spec.n_trials)
    cohort = cohort or population_cohort(spec, model)
    for i, sub in enumerate(spec.subtrials):
        for c in [] if sub.eligible == "rest" else sub.eligible:
            if c.column in COLUMN and not cohort.recorded(c.column):
                raise InputError.single(spec.name, f"key 'subtrials.{i}.eligible' needs column '{c.column}', which "
                                        f"the population cohort {cohort.source} does not record")
    if spec.population.eligible:
        cohort = cohort.subset(np.logical_or.reduce([c.mask(cohort.data) for c in spec.population.eligible]))
    assigned = route(spec, cohort.data, seed)
    n_draws = model.parameters(1000).n_draws
    draws = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(50,))).integers(0, n_draws, n_trials)
    parts, sub_attrs, shares = [], {}, {}
    for i, sub in enumerate(spec.subtrials):
        share = float((assigned == i).mean())
        shares[sub.name] = share
        trial = with_overrides(sub.trial, {"accrual.rate": spec.screening_rate * share},
                               f"{spec.name}: subtrial '{sub.name}'")
        sub_cohort = cohort.subset(assigned == i)
        pop = replace(prepare_population(model, trial, sub_cohort), forced_draws=draws)
        step = None if progress is None else (lambda k, t, i=i: progress(i * t + k, len(spec.subtrials) * t))
        ds = simulate_trials(model, trial, seed=child_seed(seed, i), n_trials=n_trials, scenarios=scenarios,
                             chunk_trials=chunk_trials, workers=workers, scheduler=scheduler, population=pop,
                             curves=False, progress=step)
        sub_attrs[sub.name] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in ds.attrs.items()}
        parts.append(prefixed(ds, sub.name))
    out = xr.merge(parts, combine_attrs="drop")
    out.attrs.update({"design_kind": "master_protocol", "spec": spec.model_dump_json(by_alias=True, exclude_none=True),
                      "seed": int(seed), "subtrials": json.dumps([s.name for s in spec.subtrials]),
                      "routing_shares": json.dumps(shares), "subtrial_attrs": json.dumps(sub_attrs),
                      "population": population_label(spec, cohort.source), "fit_hash": model.posterior.attrs.get("fit_hash", "")})
    return out


def subtrial_results(ds: xr.Dataset, name: str) -> xr.Dataset:
    """One subtrial's results as the dataset its own simulation returned."""
    prefix = f"{name}__"
    sub = ds[[v for v in ds.data_vars if str(v).startswith(prefix)]]
    sub = sub.rename({v: str(v)[len(prefix):] for v in sub.data_vars})
    if f"{prefix}look" in sub.dims:
        sub = sub.rename({f"{prefix}look": "look"})
    attrs = json.loads(ds.attrs["subtrial_attrs"])[name]
    sub.attrs = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in attrs.items()}
    return sub


def protocol_characteristics(ds: xr.Dataset) -> pd.DataFrame:
    """Rows per scenario: each subtrial's probability of success (MC SE), expected size and
    duration, its nominal alpha on the no-effect rows; then the row "protocol": probability that at
    least one subtrial succeeds (under no effect, the family-wise error), expected total size
    and expected duration (the longest subtrial of each replicate)."""
    names = json.loads(ds.attrs["subtrial_attrs"]).keys()
    shares = json.loads(ds.attrs["routing_shares"])
    rows = []
    for scenario in ds["scenario"].to_numpy():
        any_success, total_n, duration = 0, 0, None
        for name in names:
            sub = subtrial_results(ds, name)
            oc = operating_characteristics(sub).set_index("scenario").loc[str(scenario)]
            d = sub.sel(scenario=scenario)
            any_success = any_success | d["reject"].to_numpy()
            total_n = total_n + d["n_enrolled"].to_numpy()
            months = d["duration"].to_numpy()
            duration = months if duration is None else np.maximum(duration, months)
            rows.append({"scenario": str(scenario), "subtrial": name, "share routed": shares[name],
                         "P(success)": oc["P(success)"], "MC SE": oc["MC SE"], "E[sample size]": oc["E[sample size]"],
                         "E[duration, months]": oc["E[duration, months]"],
                         "nominal alpha": oc.get("nominal alpha", np.nan) if str(scenario) == "no_effect" else np.nan,
                         "type-I above nominal": oc.get("type-I above nominal", "") if str(scenario) == "no_effect"
                         else ""})
        p = float(np.mean(any_success))
        rows.append({"scenario": str(scenario), "subtrial": "protocol", "share routed": 1.0,
                     "P(success)": p, "MC SE": float(np.sqrt(p * (1 - p) / len(any_success))),
                     "E[sample size]": float(np.mean(total_n)), "E[duration, months]": float(np.mean(duration)),
                     "nominal alpha": np.nan, "type-I above nominal": ""})
    return pd.DataFrame(rows)

"""Phase 2 -> phase 3 programmes: the assurance of a development programme in one run.

Replicate ``t`` of the phase 2 trial and of the phase 3 trial share one posterior draw and one
draw of every agent's effect (forced draws and effects, from ``SeedSequence(seed,
spawn_key=(60,))``), so the same true effect drives both phases, as it would in reality. Phase
3 runs only after a phase 2 "go" (its success and size count only then). Phase 2 draws from the
stream of ``SeedSequence([seed, 2])``, phase 3 from ``SeedSequence([seed, 3])``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.simulate.engine import (
    SCENARIOS,
    child_seed,
    operating_characteristics,
    prefixed,
    prepare_population,
    simulate_trials,
)
from relapse_model.simulate.spec import ProgrammeSpec

_MEANING = {"assurance": "programme assurance (effects from agent priors)",
            "power": "effects at their prior medians", "no_effect": "no effect: a false-positive programme"}


def simulate_programme(model, spec: ProgrammeSpec, *, seed: int = 0, n_trials: int | None = None,
                       scenarios: tuple[str, ...] = tuple(SCENARIOS), chunk_trials: int = 2000, workers: int = 1,
                       scheduler: str | None = None, cohort=None,
                       progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Simulate ``n_trials`` programmes under each scenario.

    Returns
    -------
    xarray.Dataset
        The phase 2 results prefixed ``phase2__`` and the phase 3 results ``phase3__`` (dims
        ``scenario``, ``trial``; phase 3 as if it had run in every replicate: use ``phase2__go``),
        summarised by :func:`programme_characteristics`.
    """
    n_trials = int(n_trials or spec.n_trials)
    pop2 = prepare_population(model, spec.phase2, cohort)
    pop3 = prepare_population(model, spec.phase3, cohort)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(60,)))
    draws = rng.integers(0, pop3.params.n_draws, n_trials)
    effects = {"assurance": {name: a.log_effect_draws(rng, n_trials, "prior", pop3.kind)
                             for name, a in pop3.agents.items()}}
    parts = []
    for phase, trial, pop, index in (("phase2", spec.phase2, pop2, 2), ("phase3", spec.phase3, pop3, 3)):
        forced = replace(pop, forced_draws=draws, forced_effects=effects)
        step = None if progress is None else (lambda k, t, i=index - 2: progress(i * t + k, 2 * t))
        ds = simulate_trials(model, trial, seed=child_seed(seed, index), n_trials=n_trials, scenarios=scenarios,
                             chunk_trials=chunk_trials, workers=workers, scheduler=scheduler, population=forced,
                             curves=False, progress=step)
        oc = operating_characteristics(ds)
        parts.append((phase, ds, oc))
    out = xr.merge([prefixed(ds, phase) for phase, ds, _ in parts], combine_attrs="drop")
    out["phase2__go"] = out["phase2__reject"]
    phase_attrs = {phase: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in ds.attrs.items()}
                   for phase, ds, _ in parts}
    out.attrs.update({"design_kind": "programme", "spec": spec.model_dump_json(by_alias=True, exclude_none=True),
                      "seed": int(seed), "fit_hash": model.posterior.attrs.get("fit_hash", ""),
                      "phase2_design": parts[0][1].attrs.get("design", spec.phase2.kind),
                      "phase2_alpha": float(spec.phase2.design.alpha if spec.phase2.kind == "single_arm"
                                            else spec.phase2.analysis.alpha),
                      "phase3_alpha": float(spec.phase3.analysis.alpha), "population": parts[1][1].attrs["population"],
                      "endpoint": f"{spec.phase2.endpoint} then {spec.phase3.endpoint}",
                      "phase_attrs": json.dumps(phase_attrs)})
    return out


def programme_characteristics(ds: xr.Dataset) -> pd.DataFrame:
    """One row per scenario: P(phase 2 go), P(phase 3 success | go), P(go and success) with its
    MC SE (under no effect: the programme's false-positive rate), expected patients (phase 2
    plus phase 3 when it runs) and expected duration (phase 3 starting when phase 2 ends)."""
    rows = []
    for scenario in ds["scenario"].to_numpy():
        d = ds.sel(scenario=scenario)
        go = d["phase2__go"].to_numpy().astype(bool)
        success = go & d["phase3__reject"].to_numpy().astype(bool)
        p = float(success.mean())
        n2, n3 = d["phase2__n_enrolled"].to_numpy(), d["phase3__n_enrolled"].to_numpy()
        t2, t3 = d["phase2__duration"].to_numpy(), d["phase3__duration"].to_numpy()
        rows.append({"scenario": str(scenario), "meaning": _MEANING[str(scenario)],
                     "P(phase 2 go)": float(go.mean()),
                     "P(phase 3 success | go)": float(success.sum() / go.sum()) if go.any() else np.nan,
                     "P(success)": p, "MC SE": float(np.sqrt(p * (1 - p) / len(go))),
                     "E[sample size]": float(np.mean(n2 + go * n3)),
                     "E[duration, months]": float(np.mean(t2 + go * np.nan_to_num(t3)))})
    return pd.DataFrame(rows)

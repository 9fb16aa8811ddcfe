"""Scenario sweeps: a grid of trial variants, run on dask, checkpointed per point.

The grid is the Cartesian product of the spec's ``[sweep]`` table (dotted keys, e.g.
``sample_size = [160, 240]``, ``"accrual.rate" = [2, 4]``, ``"arms.1.add" = [["revumenib"]]``).
Point ``i`` uses the seed ``SeedSequence(seed, spawn_key=(1000 + i,))`` (as an integer), so its
result does not depend on which other points ran, in which order, or where. Each finished point
is written to ``DIR/points/point-XXXX.nc`` (atomically); a rerun after a kill loads the finished
points and computes only the rest, ending with the same result.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.simulate.engine import operating_characteristics, simulate_trials
from relapse_model.simulate.spec import TrialSpec, with_overrides


def sweep_points(spec: TrialSpec) -> list[dict[str, Any]]:
    """The grid of overrides, in a fixed order (the spec's key order, then values' order)."""
    if not spec.sweep:
        return [{}]
    keys = list(spec.sweep)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(spec.sweep[k] for k in keys))]


def point_seed(seed: int, index: int) -> int:
    """Seed of sweep point ``index``: independent of the other points."""
    return int(np.random.SeedSequence(seed, spawn_key=(1000 + index,)).generate_state(1, np.uint64)[0] >> 1)


def _point_key(spec: TrialSpec, overrides: dict[str, Any], seed: int, n_trials: int, fit_hash: str) -> str:
    text = json.dumps([spec.model_dump(mode="json", by_alias=True, exclude_none=True), overrides, seed, n_trials,
                       fit_hash], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _run_point(model, spec: TrialSpec, overrides: dict[str, Any], seed: int, n_trials: int,
               path: str, key: str) -> str:
    variant = with_overrides(spec, overrides)
    ds = simulate_trials(model, variant, seed=seed, n_trials=n_trials, curves=False)
    ds.attrs.update({"point_key": key, "overrides": json.dumps(overrides, default=str)})
    tmp = f"{path}.tmp-{os.getpid()}"
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)  # atomic: a killed run never leaves a half-written checkpoint
    return path


def run_sweep(model, spec: TrialSpec, out_dir: str | Path, *, seed: int = 0, n_trials: int | None = None,
              workers: int = 1, scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Run (or resume) every point of the sweep; return the operating characteristics of all.

    Returns
    -------
    pandas.DataFrame
        One row per point and scenario, with the point's overrides as columns. Also written to
        ``out_dir/sweep_summary.csv``; the per-trial results stay in ``out_dir/points/``.
    """
    out_dir = Path(out_dir)
    (out_dir / "points").mkdir(parents=True, exist_ok=True)
    n_trials = int(n_trials or spec.n_trials)
    fit_hash = model.posterior.attrs.get("fit_hash", "")
    points = sweep_points(spec)
    todo, paths = [], []
    for i, overrides in enumerate(points):
        path = out_dir / "points" / f"point-{i:04d}.nc"
        key = _point_key(spec, overrides, seed, n_trials, fit_hash)
        paths.append(path)
        if path.is_file():
            with xr.open_dataset(path, engine="h5netcdf") as done:
                if done.attrs.get("point_key") == key:
                    continue  # finished in an earlier run with the same inputs
        todo.append((model, spec, overrides, point_seed(seed, i), n_trials, str(path), key))
    finished = len(points) - len(todo)
    if progress:
        progress(finished, len(points))
    if todo and (workers > 1 or scheduler):
        from relapse_model.simulate.parallel import map_chunks
        map_chunks(_run_point, todo, workers=workers, scheduler=scheduler,
                   progress=lambda k: progress and progress(finished + k, len(points)))
    else:
        for k, args in enumerate(todo, start=1):
            _run_point(*args)
            if progress:
                progress(finished + k, len(points))
    rows = []
    for i, (overrides, path) in enumerate(zip(points, paths)):
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            oc = operating_characteristics(ds.load())
        for key, value in overrides.items():
            oc.insert(0, key, json.dumps(value) if isinstance(value, list) else value)
        oc.insert(0, "point", i)
        rows.append(oc)
    summary = pd.concat(rows, ignore_index=True)
    summary.to_csv(out_dir / "sweep_summary.csv", index=False, lineterminator="\n")
    return summary

"""Model-check helpers for researchers' own test suites (pytest, fixed seeds).

Each ``assert_*`` function raises ``AssertionError`` with a message that says what failed and by
how much. Example (see ``examples/test_model_checks.py``)::

    from relapse_model.testing import assert_survival_curves_valid, assert_reproducible

    def test_my_fit_is_reproducible(my_cohort):
        fit = lambda seed: RelapseModel().fit(my_cohort, draws=200, chains=2, random_seed=seed)
        assert_reproducible(fit, seed=1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

_INCIDENCES = ("relapse_incidence", "death_without_relapse")
_SURVIVALS = ("event_free_survival", "survival")


def assert_survival_curves_valid(curves: xr.Dataset, *, dim: str | None = None, atol: float = 1e-9) -> None:
    """Survival curves lie in [0, 1] and never rise; incidences never fall; incidences plus EFS sum to one.

    Parameters
    ----------
    curves : xarray.Dataset
        From :meth:`RelapseModel.predict` (dim ``horizon``) or :meth:`RelapseModel.survival_curves`
        (dim ``time``), or any Dataset with the same variable names.
    dim : str, optional
        The time dimension (found automatically).

    With an ``estimate`` dimension (posterior ``mean`` and the interval's ``lower`` and
    ``upper`` bounds), every estimate must lie in [0, 1] and be monotone (pointwise quantiles of
    monotone curves are monotone); the sum to one is checked on the mean.
    """
    dim = dim or ("horizon" if "horizon" in curves.dims else "time")
    found = False
    for name in curves.data_vars:
        values = curves[name]
        if dim not in values.dims:
            continue
        arr = values.transpose(..., dim).to_numpy()
        bad = np.argwhere((arr < -atol) | (arr > 1 + atol))
        assert bad.size == 0, f"{name}: {arr[tuple(bad[0])]:.6g} outside [0, 1] at index {tuple(bad[0])}"
        step = np.diff(arr, axis=-1)
        if str(name) in _SURVIVALS or str(name).endswith("event_free_survival"):
            found = True
            assert np.all(step <= atol), f"{name} rises by {step.max():.3g} somewhere along {dim}"
        if str(name) in _INCIDENCES or str(name).endswith("relapse_incidence"):
            found = True
            assert np.all(step >= -atol), f"{name} falls by {-step.min():.3g} somewhere along {dim}"
    assert found, "no survival or incidence variable found to check"
    if all(v in curves for v in (*_INCIDENCES, "event_free_survival")):
        means = curves.sel(estimate="mean") if "estimate" in curves.dims else curves
        total = sum(means[v] for v in (*_INCIDENCES, "event_free_survival"))
        worst = float(np.abs(total - 1.0).max())
        assert worst <= 1e-6, f"incidences plus event-free survival do not sum to 1 (off by up to {worst:.3g})"


def _as_arrays(result: Any) -> list[np.ndarray]:
    if hasattr(result, "posterior"):                      # a fitted RelapseModel
        result = result.posterior["posterior"].to_dataset()
    if isinstance(result, xr.DataTree):
        result = result.to_dataset()
    if isinstance(result, xr.Dataset):
        return [np.asarray(result[v].to_numpy()) for v in sorted(result.data_vars)]
    if isinstance(result, dict):
        return [np.asarray(result[k]) for k in sorted(result)]
    return [np.asarray(result)]


def assert_reproducible(fn: Callable[[int], Any], *, seed: int = 0, other_seed: int | None = None) -> None:
    """``fn(seed)`` twice gives bit-identical results; ``fn(other_seed)`` gives different ones.

    ``fn`` takes the seed and returns a fitted model, a Dataset, a dict of arrays or an array.
    """
    first, second = _as_arrays(fn(seed)), _as_arrays(fn(seed))
    assert len(first) == len(second), "the two runs returned different structures"
    for i, (a, b) in enumerate(zip(first, second)):
        assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), \
            f"result {i} differs between two runs with seed {seed}"
    if other_seed is not None:
        third = _as_arrays(fn(other_seed))
        assert any(not np.array_equal(a, c, equal_nan=True) for a, c in zip(first, third)), \
            f"seeds {seed} and {other_seed} gave identical results: is the seed used?"


def assert_parameter_recovery(fit_draws: dict[str, np.ndarray], truth: dict[str, np.ndarray | float], *,
                              level: float = 0.95, min_coverage: float = 0.85, outer_level: float = 0.995,
                              outer_z: float | None = None) -> None:
    """True parameters lie inside the posterior's central intervals.

    Parameters
    ----------
    fit_draws : dict
        Posterior draws per parameter, arrays of shape (S,) or (S, k), e.g. from
        ``model.posterior["posterior"][name].stack(s=("chain", "draw")).transpose("s", ...)``.
    truth : dict
        The values the data were simulated from, same names and trailing shapes.
    level, min_coverage : float
        At least ``min_coverage`` of all parameter values must lie in the central ``level``
        interval (with many parameters some misses are expected by chance).
    outer_level : float
        Every value must lie in the central ``outer_level`` interval of the draws.
    outer_z : float, optional
        Instead of ``outer_level``: every value must lie within ``outer_z`` posterior standard
        deviations of the posterior mean. Steadier than an extreme quantile of a few hundred
        draws (e.g. 3.9: a chance of about 1e-4 per value for a normal posterior).
    """
    hits, outer, labels = [], [], []
    for name, value in truth.items():
        draws = np.asarray(fit_draws[name], dtype=float).reshape(len(fit_draws[name]), -1)
        value = np.broadcast_to(np.asarray(value, dtype=float).ravel(), (draws.shape[1],))
        lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
        hits.extend((lo <= value) & (value <= hi))
        z = (value - draws.mean(axis=0)) / draws.std(axis=0, ddof=1)
        if outer_z is None:
            lo, hi = np.quantile(draws, [(1 - outer_level) / 2, 1 - (1 - outer_level) / 2], axis=0)
            outer.extend((lo <= value) & (value <= hi))
        else:
            outer.extend(np.abs(z) <= outer_z)
        labels.extend(f"{name}[{j}] (z = {zj:+.2f})" for j, zj in enumerate(z))
    missed = [lab for lab, ok in zip(labels, outer) if not ok]
    where = f"the central {outer_level:.1%} interval" if outer_z is None else f"{outer_z:g} posterior SDs of the mean"
    assert not missed, f"true value outside {where}: {', '.join(missed)}"
    coverage = float(np.mean(hits))
    assert coverage >= min_coverage, (f"only {coverage:.0%} of true values inside the central {level:.0%} "
                                      f"intervals (need {min_coverage:.0%})")


def posterior_draws(model, names: list[str]) -> dict[str, np.ndarray]:
    """Draws of the named posterior variables as arrays (S, ...), chains and draws stacked."""
    post = model.posterior["posterior"]
    return {n: post[n].stack(s=("chain", "draw")).transpose("s", ...).to_numpy() for n in names}

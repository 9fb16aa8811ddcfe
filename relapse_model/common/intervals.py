"""Credible intervals as a dimension of labelled results (as arviz-stats keeps interval bounds).

Every summarised quantity is one variable with an :data:`ESTIMATE` dimension whose coordinates
are ``"mean"``, ``"lower"`` and ``"upper"``; the interval's mass is the Dataset's
``credible_interval`` attribute. Tables that want flat columns use :func:`expand_estimates`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

ESTIMATE = "estimate"
ESTIMATES = ("mean", "lower", "upper")


def bounds(interval: float) -> tuple[float, float]:
    """Lower and upper quantile levels of an equal-tailed interval."""
    return (1.0 - interval) / 2.0, 1.0 - (1.0 - interval) / 2.0


def summarise_draws(draws: np.ndarray, dims: tuple[str, ...], interval: float = 0.95) -> tuple[tuple[str, ...], np.ndarray]:
    """Mean and equal-tailed interval over the first axis of ``draws``, as an xarray variable
    ``(dims + (ESTIMATE,), values)``."""
    lo, hi = bounds(interval)
    values = np.stack([draws.mean(axis=0), np.quantile(draws, lo, axis=0), np.quantile(draws, hi, axis=0)], axis=-1)
    return (*dims, ESTIMATE), values


def estimate_coords() -> dict[str, list[str]]:
    return {ESTIMATE: list(ESTIMATES)}


def expand_estimates(ds: xr.Dataset, *, mean_as_name: bool = True) -> xr.Dataset:
    """Flat variables ``name`` (or ``name_mean``), ``name_lower`` and ``name_upper`` in place of
    each variable with an :data:`ESTIMATE` dimension, in the Dataset's order (for CSV tables)."""
    out: dict[str, xr.DataArray] = {}
    for name, da in ds.data_vars.items():
        if ESTIMATE not in da.dims:
            out[str(name)] = da
            continue
        for est in da[ESTIMATE].to_numpy():
            key = str(name) if est == "mean" and mean_as_name else f"{name}_{est}"
            out[key] = da.sel({ESTIMATE: est}, drop=True)
    return xr.Dataset(out, attrs=ds.attrs)

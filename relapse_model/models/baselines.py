"""Baseline hazards, each given by its log hazard and cumulative hazard.

Every likelihood in the package is written from these two functions (as lifelines derives all
censoring from the cumulative hazard), so each censored and uncensored row enters the pointwise
log-likelihood. Each baseline has a NumPy form (prediction, simulation, tests) and a PyTensor
form (the PyMC model); tests check that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Default piecewise-exponential grid (months since relapse): dense early, where most events are.
DEFAULT_GRID_MONTHS: tuple[float, ...] = (0.0, 2.0, 4.0, 6.0, 9.0, 12.0, 18.0, 24.0, 36.0, 60.0)


def weibull_log_hazard(log_t, log_shape, log_scale, xp=np):
    """log h(t) = log k - log lambda + (k - 1)(log t - log lambda) for shape k, scale lambda."""
    shape = xp.exp(log_shape)
    return log_shape - log_scale + (shape - 1.0) * (log_t - log_scale)


def weibull_cumulative_hazard(log_t, log_shape, log_scale, xp=np):
    """H(t) = (t / lambda)^k, computed on the log scale for stability at small t."""
    return xp.exp(xp.exp(log_shape) * (log_t - log_scale))


@dataclass(frozen=True)
class PiecewiseGrid:
    """Piecewise-constant hazard on fixed intervals [a_j, a_{j+1}); the last one is open.

    The exposure of each time in each interval is data, computed once, so the cumulative hazard
    is a matrix product and the log hazard an index.
    """

    cuts: tuple[float, ...] = DEFAULT_GRID_MONTHS

    def __post_init__(self) -> None:
        c = np.asarray(self.cuts, dtype=float)
        if c[0] != 0.0 or np.any(np.diff(c) <= 0):
            raise ValueError(f"grid must start at 0 and increase strictly, got {self.cuts}")

    @property
    def n_intervals(self) -> int:
        return len(self.cuts)

    def exposure(self, t: np.ndarray) -> np.ndarray:
        """Time spent in each interval before ``t``: shape ``t.shape + (n_intervals,)``."""
        lo = np.asarray(self.cuts, dtype=float)
        hi = np.r_[lo[1:], np.inf]
        t = np.asarray(t, dtype=float)[..., None]
        return np.clip(np.minimum(t, hi) - lo, 0.0, None)

    def interval(self, t: np.ndarray) -> np.ndarray:
        """Index of the interval containing ``t`` (events at a cut belong to the earlier one)."""
        lo = np.asarray(self.cuts, dtype=float)
        return np.clip(np.searchsorted(lo, np.asarray(t, dtype=float), side="left") - 1, 0, None)


def piecewise_log_hazard(interval_index, log_rates, xp=np):
    """log h(t) = log rate of the interval containing t."""
    return log_rates[..., interval_index] if xp is np else log_rates[interval_index]


def piecewise_cumulative_hazard(exposure, log_rates, xp=np):
    """H(t) = sum_j rate_j * exposure_j(t)."""
    if xp is np:
        return (exposure * np.exp(log_rates)[..., None, :]).sum(-1)
    # elementwise and summed, not xp.dot: without a linked BLAS PyTensor's Gemv runs from Python
    return (exposure * xp.exp(log_rates)).sum(axis=-1)

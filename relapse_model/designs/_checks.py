"""Argument checks shared by the design modules: one clear :class:`InputError` per bad value."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from relapse_model.errors import InputError


def _finite_float(source: str, name: str, value: object) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError.single(source, f"{name} = {value!r} must be a number") from None
    if not math.isfinite(x):
        raise InputError.single(source, f"{name} = {value!r} must be a finite number")
    return x


def rate(source: str, name: str, value: object) -> float:
    """A probability strictly inside (0, 1) (response rates, alpha, power, thresholds)."""
    x = _finite_float(source, name, value)
    if not 0.0 < x < 1.0:
        raise InputError.single(source, f"{name} = {value!r} must be strictly between 0 and 1")
    return x


def unit_closed(source: str, name: str, value: object) -> float:
    """A number in [0, 1] (borrowing weights)."""
    x = _finite_float(source, name, value)
    if not 0.0 <= x <= 1.0:
        raise InputError.single(source, f"{name} = {value!r} must be between 0 and 1 (inclusive)")
    return x


def positive(source: str, name: str, value: object) -> float:
    """A finite number > 0 (Beta shape parameters)."""
    x = _finite_float(source, name, value)
    if not x > 0.0:
        raise InputError.single(source, f"{name} = {value!r} must be greater than 0")
    return x


def real(source: str, name: str, value: object) -> float:
    """Any finite number."""
    return _finite_float(source, name, value)


def integer(source: str, name: str, value: object, minimum: int = 0) -> int:
    """An integer >= ``minimum`` (bools and non-integral floats are refused)."""
    if isinstance(value, bool):
        raise InputError.single(source, f"{name} = {value!r} must be an integer")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError.single(source, f"{name} = {value!r} must be an integer") from None
    if not math.isfinite(x) or x != int(x):
        raise InputError.single(source, f"{name} = {value!r} must be an integer")
    if int(x) < minimum:
        raise InputError.single(source, f"{name} = {value!r} must be at least {minimum}")
    return int(x)


def rate_grid(source: str, name: str, value: object) -> np.ndarray:
    """A scalar or 1-d array of rates in [0, 1] (true response rates for operating characteristics)."""
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InputError.single(source, f"{name} must be numbers between 0 and 1") from None
    if arr.ndim != 1 or arr.size == 0:
        raise InputError.single(source, f"{name} must be a number or a non-empty 1-d sequence")
    if not np.all(np.isfinite(arr)):
        raise InputError.single(source, f"{name} contains NaN or infinite values")
    if np.any((arr < 0) | (arr > 1)):
        bad = arr[(arr < 0) | (arr > 1)][0]
        raise InputError.single(source, f"{name} contains {bad:g}; rates must be between 0 and 1")
    return arr


def looks(source: str, name: str, value: Sequence[int] | np.ndarray) -> np.ndarray:
    """Strictly increasing positive cumulative sample sizes at the looks."""
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InputError.single(source, f"{name} must be a sequence of integers") from None
    shown = "[" + ", ".join(f"{v:g}" for v in np.ravel(arr)) + "]"
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise InputError.single(source, f"{name} = {shown} must be a non-empty sequence of integers")
    if arr[0] < 1 or np.any(np.diff(arr) <= 0):
        raise InputError.single(source, f"{name} = {shown} must be positive and strictly "
                                "increasing (cumulative sample sizes)")
    return arr.astype(int)


def ordered_rates(source: str, p0: object, p1: object) -> tuple[float, float]:
    """Null and alternative response rates with p0 < p1."""
    a = rate(source, "p0", p0)
    b = rate(source, "p1", p1)
    if not b > a:
        raise InputError.single(source, f"p1 = {b:g} must be greater than p0 = {a:g}")
    return a, b


def mixture_components(source: str, weights: np.ndarray, parameters: dict[str, np.ndarray], family: str) -> None:
    """Weights and parameters of a mixture prior: finite, weights >= 0 summing to 1, and
    every parameter (Beta a and b, Gamma shape and rate) greater than 0."""
    values = [weights, *parameters.values()]
    if not all(np.all(np.isfinite(v)) for v in values):
        raise InputError.single(source, f"weights and {family} parameters must be finite numbers")
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-9:
        raise InputError.single(source, f"weights {list(weights)} must be >= 0 and sum to 1")
    if any(np.any(v <= 0) for v in parameters.values()):
        raise InputError.single(source, f"{family} parameters {' and '.join(parameters)} must be greater than 0")

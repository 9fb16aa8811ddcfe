"""Kaplan-Meier value at a horizon (scikit-survival's estimator)."""

from __future__ import annotations

import numpy as np
from sksurv.nonparametric import kaplan_meier_estimator

#: Fewer patients than this give no estimate (NaN).
MIN_PATIENTS = 5


def km_value_at(event: np.ndarray, time: np.ndarray, horizon: float) -> float:
    """Kaplan-Meier survival at ``horizon`` (NaN with fewer than :data:`MIN_PATIENTS` patients)."""
    event = np.asarray(event, dtype=bool)
    if event.size < MIN_PATIENTS:
        return float("nan")
    times, surv = kaplan_meier_estimator(event, np.asarray(time, dtype=float))
    before = times <= horizon
    return float(surv[before][-1]) if before.any() else 1.0

"""Endpoints formed from the outcome columns (time origin: first relapse, months).

- overall survival (OS): death from any cause;
- event-free survival (EFS): second relapse / refractory disease or death, whichever first;
- competing risks: cause 1 = second relapse or refractory disease, cause 2 = death without a
  second relapse ("death in remission" for patients in CR2), 0 = censored.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Endpoint = Literal["os", "efs"]
ENDPOINTS: tuple[str, ...] = ("os", "efs")
CAUSES = {1: "relapse", 2: "death_without_relapse"}


def overall_survival(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(time, event)`` for overall survival."""
    died = data["died"].fillna(False).to_numpy(dtype=bool)
    time = np.where(died, data["death_months"].to_numpy(dtype=float),
                    data["followup_months"].to_numpy(dtype=float))
    return time, died


def competing_risks(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(time, cause)``: cause 1 relapse/refractory, 2 death without relapse, 0 censored."""
    relapsed = data["second_relapse"].fillna(False).to_numpy(dtype=bool)
    died = data["died"].fillna(False).to_numpy(dtype=bool)
    os_time, _ = overall_survival(data)
    time = np.where(relapsed, data["second_relapse_months"].to_numpy(dtype=float), os_time)
    cause = np.where(relapsed, 1, np.where(died, 2, 0)).astype(np.int64)
    return time, cause


def event_free_survival(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(time, event)`` for event-free survival."""
    time, cause = competing_risks(data)
    return time, cause > 0


def survival_array(data: pd.DataFrame, endpoint: Endpoint) -> np.ndarray:
    """scikit-survival structured array (fields ``event``, ``time``) for ``"os"`` or ``"efs"``."""
    if endpoint == "os":
        time, event = overall_survival(data)
    elif endpoint == "efs":
        time, event = event_free_survival(data)
    else:
        raise ValueError(f"unknown endpoint {endpoint!r}; choose one of {', '.join(ENDPOINTS)}")
    from sksurv.util import Surv     # here: scikit-learn's import costs 1.5 s that a fit does not need
    return Surv.from_arrays(event=event, time=time, name_event="event", name_time="time")

"""Agents (``priors/agents/*.toml``): assumed effects with uncertainty, target subgroup, sources.

An effect is a ratio with a log-normal prior given as a median and a 95% interval, e.g.
``relapse_hr = { median = 0.8, lower = 0.55, upper = 1.15 }``: the log-scale sd is
``(ln upper - ln lower) / 3.92``. Effects act in the target subgroup only:

- ``cure_or``: odds ratio on cure (adds ``ln OR`` to the log-odds of cure);
- ``relapse_hr``: hazard ratio on relapse of the non-cured;
- ``death_hr``: hazard ratio on death without relapse (toxicity).

The target is ``"all"`` or a list of conditions on cohort columns, any of which selects a
patient, e.g. ``target = [{ column = "flt3_itd", equals = true }]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relapse_model.cohort.schema import COLUMN
from relapse_model.common.paths import AGENTS_DIR
from relapse_model.common.strict import StrictModel
from relapse_model.common.toml import read_toml
from relapse_model.errors import InputError, Issue

EFFECTS = ("cure_or", "relapse_hr", "death_hr")


class RatioPrior(StrictModel):
    """Log-normal prior of a ratio, from its median and 95% interval."""

    median: float = Field(gt=0)
    lower: float = Field(gt=0)
    upper: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RatioPrior:
        if not self.lower < self.median < self.upper:
            raise ValueError(f"need lower < median < upper, got {self.lower}, {self.median}, {self.upper}")
        return self

    @property
    def log_mean(self) -> float:
        return float(np.log(self.median))

    @property
    def log_sd(self) -> float:
        return float((np.log(self.upper) - np.log(self.lower)) / (2 * 1.959964))


class Condition(BaseModel):
    """``column`` equals a value, or is one of ``in_`` (written ``in`` in TOML)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)
    column: str
    equals: bool | str | float | None = None
    in_: list[str] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _one(self) -> Condition:
        if self.column not in COLUMN and self.column not in ("early_relapse", "risk_group", "mrd_positive"):
            raise ValueError(f"unknown cohort column '{self.column}'")
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of 'equals' or 'in'")
        spec = COLUMN.get(self.column)
        boolean = (spec is not None and spec.kind == "bool") or self.column in ("early_relapse", "mrd_positive")
        if boolean and (self.in_ is not None or not isinstance(self.equals, bool)):
            raise ValueError(f"{self.column} is yes/no: give equals = true or equals = false, not "
                             f"{self.equals if self.in_ is None else self.in_!r}")
        if spec is not None and spec.kind == "category":
            values = self.in_ if self.in_ is not None else [str(self.equals)]
            bad = [v for v in values if v not in spec.allowed]
            if bad:
                raise ValueError(f"{', '.join(bad)} not allowed in {self.column} ({', '.join(spec.allowed)})")
        return self

    def mask(self, data: pd.DataFrame) -> np.ndarray:
        col = data[self.column]
        if self.in_ is not None:
            return col.astype(str).isin(self.in_).to_numpy()
        if isinstance(self.equals, bool):
            return (col.astype("boolean") == self.equals).fillna(False).to_numpy(dtype=bool)
        return (col.astype(str) == str(self.equals)).to_numpy()


class Agent(StrictModel):
    """One agent's file."""

    name: str
    label: str
    kind: str
    target: Literal["all"] | list[Condition]
    target_description: str
    cure_or: RatioPrior | None = None
    relapse_hr: RatioPrior | None = None
    death_hr: RatioPrior | None = None
    sources: list[str] = Field(min_length=1)
    evidence: str

    @model_validator(mode="after")
    def _some_effect(self) -> Agent:
        if all(getattr(self, e) is None for e in EFFECTS):
            raise ValueError(f"give at least one effect: {', '.join(EFFECTS)}")
        return self

    def in_target(self, data: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the patients the agent acts on."""
        if self.target == "all":
            return np.ones(len(data), dtype=bool)
        return np.logical_or.reduce([c.mask(data) for c in self.target])

    def log_effect_draws(self, rng: np.random.Generator, n: int, mode: str = "prior") -> dict[str, np.ndarray]:
        """Log effects per trial: from the prior, fixed at the median, or null (all 0)."""
        out = {}
        for effect in EFFECTS:
            prior: RatioPrior | None = getattr(self, effect)
            if prior is None or mode == "null":
                out[effect] = np.zeros(n)
            elif mode == "median":
                out[effect] = np.full(n, prior.log_mean)
            else:
                out[effect] = prior.log_mean + prior.log_sd * rng.standard_normal(n)
        return out


def _issues(path: str, exc: ValidationError) -> list[Issue]:
    return [Issue(path, None, None, f"key '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}")
            for e in exc.errors()]


def load_agent(path: str | Path) -> Agent:
    """Read and validate one agent file."""
    raw = read_toml(Path(path))
    try:
        return Agent.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_issues(str(path), exc)) from None


def available_agents(folder: Path | None = None) -> dict[str, Path]:
    """Agent name -> file, for every ``*.toml`` in the agents folder."""
    folder = folder or AGENTS_DIR
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def agent_by_name(name: str, folder: Path | None = None) -> Agent:
    """Load a bundled agent by name; an unknown name lists the available ones."""
    known = available_agents(folder)
    if name not in known:
        raise InputError.single("agents", f"unknown agent '{name}' (available: {', '.join(known)})")
    return load_agent(known[name])

"""Agents (``priors/agents/*.toml``): assumed effects with uncertainty, target subgroup, sources.

An effect is a ratio with a log-normal prior given as a median and a 95% interval, e.g.
``response_or = { median = 1.4, lower = 0.7, upper = 2.8 }``: the log-scale sd is
``(ln upper - ln lower) / 3.92``. Effects act in the target subgroup only. Each agent file
has two tables, one per kind of model, since the same evidence enters them differently:

``[pathway]`` (the multi-state model: the agent acts where the evidence is, and the survival
effect flows through the pathway):

- ``response_or``: odds ratio of response (CR2 / CRi) at the re-induction assessment, against
  refractory disease and early death together;
- ``early_death_or``: odds ratio of death before the assessment, against response (the model
  has early death as an outcome of the assessment, not as a hazard; for a rare event the odds
  ratio is close to the risk ratio);
- ``mrd_negative_or``: odds ratio of MRD negativity in responders (against MRD positivity);
- ``cure_or``: odds ratio of cure in remission (carried through transplant);
- ``relapse_hr``: hazard ratio of relapse after response, before and after transplant;
- ``death_hr``: hazard ratio of death without relapse (toxicity), before and after transplant
  from remission;
- ``transplant_hr``: hazard ratio of transplant from remission.

``[one_step]`` (the cure / competing-risk models, where everything happens at relapse):
``cure_or``, ``relapse_hr`` (non-cured) and ``death_hr`` (death without relapse).

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

#: Effects of each kind of model, in the order their draws are taken.
ONE_STEP_EFFECTS = ("cure_or", "relapse_hr", "death_hr")
PATHWAY_EFFECTS = ("response_or", "early_death_or", "mrd_negative_or", "cure_or", "relapse_hr", "death_hr",
                   "transplant_hr")
EFFECTS = {"one_step": ONE_STEP_EFFECTS, "pathway": PATHWAY_EFFECTS}


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


class OneStepEffects(StrictModel):
    """``[one_step]``: effects on the cure / competing-risk models."""

    cure_or: RatioPrior | None = None
    relapse_hr: RatioPrior | None = None
    death_hr: RatioPrior | None = None


class PathwayEffects(StrictModel):
    """``[pathway]``: effects on the transitions of the pathway model."""

    response_or: RatioPrior | None = None
    early_death_or: RatioPrior | None = None
    mrd_negative_or: RatioPrior | None = None
    cure_or: RatioPrior | None = None
    relapse_hr: RatioPrior | None = None
    death_hr: RatioPrior | None = None
    transplant_hr: RatioPrior | None = None


class Agent(StrictModel):
    """One agent's file."""

    name: str
    label: str
    kind: str
    target: Literal["all"] | list[Condition]
    target_description: str
    sources: list[str] = Field(min_length=1)
    evidence: str
    #: published response rate in the target group the pathway prior came from, e.g. "70% CR/CRi
    #: (Karol 2020, n=38)", with its value as a fraction for the README's comparison
    published_response: str = ""
    published_response_rate: float | None = Field(default=None, gt=0, lt=1)
    pathway: PathwayEffects | None = None
    one_step: OneStepEffects | None = None

    @model_validator(mode="after")
    def _some_effect(self) -> Agent:
        if self.pathway is None and self.one_step is None:
            raise ValueError("give a [pathway] table of effects, a [one_step] table, or both")
        for kind in ("pathway", "one_step"):
            table = getattr(self, kind)
            if table is not None and all(getattr(table, e) is None for e in EFFECTS[kind]):
                raise ValueError(f"[{kind}] gives no effect: give at least one of {', '.join(EFFECTS[kind])}")
        return self

    def effects(self, kind: str) -> dict[str, RatioPrior]:
        """The effects this agent has on a model of ``kind`` ("pathway" or "one_step")."""
        table = getattr(self, kind)
        if table is None:
            return {}
        return {e: getattr(table, e) for e in EFFECTS[kind] if getattr(table, e) is not None}

    def in_target(self, data: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the patients the agent acts on."""
        if self.target == "all":
            return np.ones(len(data), dtype=bool)
        return np.logical_or.reduce([c.mask(data) for c in self.target])

    def log_effect_draws(self, rng: np.random.Generator, n: int, mode: str = "prior",
                         kind: str = "one_step") -> dict[str, np.ndarray]:
        """Log effects per trial on a model of ``kind``: from the prior, fixed at the median, or
        null (all 0). Every effect of the kind gets an entry (0 where the agent has none)."""
        table = getattr(self, kind)
        out = {}
        for effect in EFFECTS[kind]:
            prior: RatioPrior | None = None if table is None else getattr(table, effect)
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

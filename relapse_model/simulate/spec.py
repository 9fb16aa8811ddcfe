"""Trial specification files (TOML): arms, allocation, accrual, dropout, analyses, interims.

Every problem is reported with the file and the key, e.g.
``trial.toml: key 'sample_size': Input should be greater than 0``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from relapse_model.cohort.schema import COLUMN
from relapse_model.common.strict import StrictModel
from relapse_model.common.toml import read_toml
from relapse_model.errors import InputError, Issue
from relapse_model.simulate.agents import Condition, available_agents


#: Largest sample size of one virtual trial (a larger one would not fit in memory in blocks).
MAX_SAMPLE_SIZE = 100_000


class Arm(StrictModel):
    """Base regimen (the standard of care the model was fitted on) plus or minus agents."""

    name: str
    add: list[str] = []
    remove: list[str] = []


class Accrual(StrictModel):
    """Patients per month: one rate, or piecewise ``rates`` changing at ``breaks`` (months)."""

    rate: float | None = Field(default=None, gt=0)
    rates: list[float] | None = None
    breaks: list[float] = []

    @model_validator(mode="after")
    def _one(self) -> Accrual:
        if (self.rate is None) == (self.rates is None):
            raise ValueError("give either 'rate' or 'rates' (with 'breaks')")
        if self.rates is not None and len(self.breaks) != len(self.rates) - 1:
            raise ValueError("'breaks' needs one fewer value than 'rates'")
        if self.rates is not None and (any(r < 0 for r in self.rates) or self.rates[-1] <= 0):
            raise ValueError("rates must be >= 0 and the last one > 0")
        return self

    @property
    def as_rates(self) -> tuple[list[float], list[float]]:
        return ([self.rate] if self.rate is not None else list(self.rates or [])), list(self.breaks)

    def months_to_enrol(self, n: int) -> float:
        """Months until ``n`` patients are expected to have enrolled at these rates."""
        rates, breaks = self.as_rates
        start, enrolled = 0.0, 0.0
        for rate, end in zip(rates, [*breaks, float("inf")]):
            if rate > 0 and enrolled + rate * (end - start) >= n:
                return start + (n - enrolled) / rate
            enrolled += rate * (end - start)
            start = end
        return float("inf")


class Dropout(StrictModel):
    rate: float = Field(default=0.0, ge=0, description="per month, exponential")


class Analysis(StrictModel):
    """When the (final) analysis happens and how it is judged."""

    timing: Literal["events", "calendar"] = "events"
    events: int | None = Field(default=None, gt=0)
    months: float | None = Field(default=None, gt=0)
    max_months: float = Field(default=240.0, gt=0)
    alpha: float = Field(default=0.025, gt=0, lt=0.5, description="one-sided")
    primary: Literal["logrank", "cox", "rmst", "bayes"] = "logrank"
    rmst_tau: float = Field(default=24.0, gt=0)
    bayes_prior_sd: float = Field(default=float("inf"), gt=0, allow_inf_nan=True)   # inf: flat prior
    bayes_threshold: float = Field(default=0.975, gt=0.5, lt=1)
    #: estimates reported for every trial at the final look besides the primary test
    estimates: list[Literal["cox", "rmst"]] = ["cox", "rmst"]

    @model_validator(mode="after")
    def _timing(self) -> Analysis:
        if self.timing == "events" and self.events is None:
            raise ValueError("timing = 'events' needs 'events'")
        if self.timing == "calendar" and self.months is None:
            raise ValueError("timing = 'calendar' needs 'months'")
        return self


class Interim(StrictModel):
    """Looks at fractions of the final events (timing = 'events') or of the final calendar time."""

    fractions: list[float]
    spending: Literal["obf", "pocock"] = "obf"
    futility: list[float] | None = None

    @model_validator(mode="after")
    def _fractions(self) -> Interim:
        f = self.fractions
        if not f or any(b <= a for a, b in zip(f, f[1:])) or f[0] <= 0 or f[-1] != 1.0:
            raise ValueError("fractions must increase within (0, 1] and end at 1")
        if self.futility is not None and len(self.futility) != len(f) - 1:
            raise ValueError("give one futility bound per interim look (not for the final one)")
        return self


class Generated(StrictModel):
    """Virtual patients drawn from a covariate specification instead of an existing cohort:
    the covariate distributions of a reference-cohort spec (``cohorts/NAME.toml``), with
    ``parameters`` overriding any of them (e.g. ``p_flt3_itd``, ``cytogenetics_probs``,
    ``diagnosis_to_relapse_median_months``), ``n`` patients from ``seed``."""

    spec: str = "cog_like"
    n: int = Field(default=5000, gt=0)
    seed: int = 0
    parameters: dict[str, Any] = {}


class PopulationSpec(StrictModel):
    """Virtual patients: resampled from a cohort (or a generated one), optionally restricted to
    the eligible (a patient is eligible when any condition holds)."""

    cohort: str = "cog_like"
    generate: Generated | None = None
    eligible: list[Condition] = []


class TrialSpec(StrictModel):
    """A two-arm virtual trial: control first, experimental second."""

    name: str
    title: str = ""
    n_trials: int = Field(default=2000, gt=0, le=1_000_000)
    sample_size: int = Field(gt=1, le=MAX_SAMPLE_SIZE)
    allocation: tuple[int, int] = (1, 1)
    randomisation: Literal["blocks", "simple"] = "blocks"
    stratify: str | None = None
    population: PopulationSpec = PopulationSpec()
    accrual: Accrual
    dropout: Dropout = Dropout()
    analysis: Analysis
    interim: Interim | None = None
    arms: list[Arm] = Field(min_length=2, max_length=2)
    sweep: dict[str, list[Any]] = {}

    @model_validator(mode="after")
    def _check(self) -> TrialSpec:
        if any(a <= 0 for a in self.allocation):
            raise ValueError("allocation must be two positive integers, e.g. [1, 1] or [1, 2]")
        known = available_agents()
        for arm in self.arms:
            for agent in arm.add + arm.remove:
                if agent not in known:
                    raise ValueError(f"unknown agent '{agent}' in arm '{arm.name}' (available: {', '.join(known)})")
        if self.stratify is not None and self.stratify not in COLUMN and self.stratify not in ("early_relapse", "risk_group"):
            raise ValueError(f"stratify: unknown cohort column '{self.stratify}'")
        if self.analysis.events is not None and self.analysis.events > self.sample_size:
            raise ValueError("analysis.events cannot exceed sample_size")
        accrual = self.accrual.months_to_enrol(self.sample_size)
        if self.analysis.max_months <= accrual:
            raise ValueError(f"analysis.max_months ({self.analysis.max_months:g}) ends before accrual of "
                             f"{self.sample_size} patients is complete (about {accrual:.1f} months at the accrual rate)")
        return self

    @property
    def agents(self) -> list[str]:
        seen: list[str] = []
        for arm in self.arms:
            for a in arm.add + arm.remove:
                if a not in seen:
                    seen.append(a)
        return seen


def parse_spec(raw: dict[str, Any], source: str) -> TrialSpec:
    """Validate a spec dict, and every point of its ``[sweep]`` grid; InputError names the
    source and every bad key (for a sweep point, the point's values)."""
    try:
        spec = TrialSpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError.from_validation(source, exc) from None
    if spec.sweep:
        _check_sweep(spec, source)
    return spec


def _check_sweep(spec: TrialSpec, source: str) -> None:
    """Every grid point must be a valid spec: checked before any point runs."""
    import itertools

    keys = list(spec.sweep)
    issues = []
    for combo in itertools.product(*(spec.sweep[k] for k in keys)):
        point = dict(zip(keys, combo))
        try:
            with_overrides(spec, point, f"{source}: sweep point")
        except InputError as exc:
            issues += exc.issues
        except (KeyError, IndexError, TypeError) as exc:
            issues.append(Issue(source, None, None, f"sweep point {point}: no such key in the spec ({exc})"))
    if issues:
        raise InputError(issues)


def load_trial_spec(path: str | Path) -> TrialSpec:
    """Read and validate a trial specification file."""
    return parse_spec(read_toml(Path(path)), str(path))


def with_overrides(spec: TrialSpec, overrides: dict[str, Any], source: str = "sweep") -> TrialSpec:
    """A copy with dotted-key overrides (``"sample_size"``, ``"accrual.rate"``, ``"arms.1.add"``)."""
    raw = copy.deepcopy(spec.model_dump(by_alias=True, exclude_none=True))
    raw.pop("sweep", None)
    for key, value in overrides.items():
        node: Any = raw
        parts = key.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse_spec(raw, f"{source} {overrides}")

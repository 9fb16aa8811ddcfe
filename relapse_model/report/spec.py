"""Report specifications (``reports/*.toml``): what a report is built from.

Paths in a spec are relative to the spec file's folder; a cohort may also be the name of a
bundled reference cohort. Example (``reports/demo.toml``)::

    name = "demo"
    title = "Relapse risk and a GO trial on the BFM-like reference cohort"
    seed = 1
    output = "build/demo"

    [cohort]
    paths = ["bfm_like"]

    [model]
    priors = "../priors/default.toml"
    baseline = "weibull"

    [checks]
    horizons = [12, 36, 60]

    [[trials]]
    spec = "trials/go_cd33.toml"
    n_trials = 1000
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from relapse_model.errors import InputError
from relapse_model.simulate.agents import read_toml


#: The bundled report specifications (``reports/`` beside the package).
REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CohortPart(_Strict):
    """One or more cohort files (or bundled names), pooled into one cohort for the fit."""

    paths: list[str] = Field(min_length=1)


class ModelPart(_Strict):
    """The model to fit, or an existing fit to reuse (``fit``: a NetCDF file from ``relapse-model fit``)."""

    priors: str | None = None
    outcome: Literal["competing", "cure"] = "competing"
    endpoint: Literal["efs", "os"] = "efs"
    baseline: Literal["weibull", "piecewise"] = "weibull"
    cure: bool = True
    stemness: Literal["lsc17", "plsc6", "none"] = "lsc17"
    draws: int = Field(default=1000, ge=10)
    tune: int = Field(default=1000, ge=10)
    chains: int = Field(default=4, ge=1)
    target_accept: float = Field(default=0.95, gt=0.5, lt=1.0)
    fit: str | None = None


class ChecksPart(_Strict):
    """Model checks shown in the report."""

    horizons: list[float] = Field(default=[12.0, 36.0, 60.0], min_length=1)
    replicates: int = Field(default=200, ge=10)
    profile_horizon: float = Field(default=36.0, gt=0)

    @field_validator("horizons")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(h <= 0 for h in value):
            raise ValueError("horizons are positive months")
        return value


class AgentPriorVariant(_Strict):
    """A variant of every agent's effect prior: the log-scale median shrunk toward no effect by
    ``shrink`` (0 keeps it, 1 puts it at no effect) and the log-scale SD multiplied by ``sd_scale``."""

    name: str
    shrink: float = Field(default=0.0, ge=0.0, le=1.0)
    sd_scale: float = Field(default=1.0, gt=0.0)


DEFAULT_VARIANTS = [
    AgentPriorVariant(name="sceptical (log effect halved)", shrink=0.5),
    AgentPriorVariant(name="vague (log-scale SD doubled)", sd_scale=2.0),
]


class TrialPart(_Strict):
    """One virtual trial: a trial specification and how many trials per scenario."""

    spec: str
    n_trials: int | None = Field(default=None, ge=100)


class ReportSpec(_Strict):
    """A whole report; see the module docstring for the file format."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str
    seed: int = 0
    output: str | None = None
    cohort: CohortPart
    model: ModelPart = ModelPart()
    checks: ChecksPart = ChecksPart()
    trials: list[TrialPart] = []
    agent_prior_variants: list[AgentPriorVariant] = Field(default_factory=lambda: list(DEFAULT_VARIANTS))
    min_count: int = Field(default=5, ge=1, description="counts below this are suppressed in tables")
    #: where the spec was read from; relative paths are resolved against its folder
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: str) -> Path:
        """A path of the spec, relative to the spec file's folder."""
        p = Path(path).expanduser()
        return Path(os.path.normpath(p if p.is_absolute() else self.base_dir / p))

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.output or f"build/{self.name}")


def parse_report_spec(raw: dict, source: str, base_dir: Path) -> ReportSpec:
    """Validate a spec dict; InputError names the source and every bad key."""
    try:
        spec = ReportSpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError.from_validation(source, exc) from None
    spec.base_dir = base_dir
    return spec


def load_report_spec(path: str | Path) -> ReportSpec:
    """Read and validate a report specification file."""
    path = Path(path)
    return parse_report_spec(read_toml(path), str(path), path.resolve().parent)

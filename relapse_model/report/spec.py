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

from pydantic import Field, ValidationError, field_validator, model_validator

from relapse_model.common.strict import StrictModel
from relapse_model.common.toml import read_toml
from relapse_model.errors import InputError
from relapse_model.models.spec import ModelSpec, SamplerSpec


class CohortPart(StrictModel):
    """One or more cohort files (or bundled names), pooled into one cohort for the fit."""

    paths: list[str] = Field(min_length=1)


class ModelPart(ModelSpec, SamplerSpec):
    """The model to fit (every :class:`ModelSpec` field, and :class:`SamplerSpec`'s ``draws``,
    ``tune``, ``chains``, ``target_accept`` and ``adaptation``), or an existing fit to reuse (``fit``: a NetCDF
    file from ``relapse-model fit``). The sampler's seed is the report's ``seed``."""

    priors: str | None = None
    fit: str | None = None

    @model_validator(mode="after")
    def _seed_is_the_reports(self) -> ModelPart:
        for key in ("random_seed", "cores", "nuts"):
            if key in self.model_fields_set:
                raise ValueError(f"'{key}' is not set here ('random_seed' is the report's top-level 'seed')")
        return self

    def model_spec(self) -> ModelSpec:
        """The :class:`ModelSpec` part."""
        return ModelSpec.model_validate(self.model_dump(include=set(ModelSpec.model_fields)))

    def sampler_spec(self, seed: int) -> SamplerSpec:
        """The :class:`SamplerSpec` part, with the report's seed."""
        return SamplerSpec.model_validate({**self.model_dump(include=set(SamplerSpec.model_fields)),
                                           "random_seed": seed})


class ChecksPart(StrictModel):
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


class AgentPriorVariant(StrictModel):
    """A variant of every agent's effect prior: the log-scale median shrunk toward no effect by
    ``shrink`` (0 keeps it, 1 puts it at no effect) and the log-scale SD multiplied by ``sd_scale``."""

    name: str
    shrink: float = Field(default=0.0, ge=0.0, le=1.0)
    sd_scale: float = Field(default=1.0, gt=0.0)


DEFAULT_VARIANTS = [
    AgentPriorVariant(name="sceptical (log effect halved)", shrink=0.5),
    AgentPriorVariant(name="vague (log-scale SD doubled)", sd_scale=2.0),
]


class TrialPart(StrictModel):
    """One virtual trial: a trial specification and how many trials per scenario."""

    spec: str
    n_trials: int | None = Field(default=None, ge=100)


class ReportSpec(StrictModel):
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

"""Specification files of the reference cohorts (``cohorts/NAME.toml``): size, seed, studies,
generator parameters and the published targets the cohort must reproduce."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from relapse_model.common.paths import cohorts_dir
from relapse_model.common.strict import StrictModel
from relapse_model.common.toml import read_toml
from relapse_model.errors import InputError
from relapse_model.reference.generator import GeneratorParameters, Study


class StudySpec(StrictModel):
    name: str
    share: float = Field(gt=0)
    cure_log_odds: float = 0.0


class CohortSpec(StrictModel):
    """A reference cohort's specification file (``cohorts/NAME.toml``)."""

    name: str
    title: str
    n: int = Field(gt=0)
    seed: int = Field(ge=0)
    resembles: str
    studies: list[StudySpec] = Field(min_length=1)
    parameters: dict[str, object] = {}
    targets: dict[str, tuple[float, float]]

    @field_validator("targets")
    @classmethod
    def _ordered(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for key, (lo, hi) in value.items():
            if lo > hi:
                raise ValueError(f"target {key}: low {lo} above high {hi}")
        return value

    def generator_parameters(self) -> GeneratorParameters:
        return GeneratorParameters().with_overrides(dict(self.parameters))

    def study_list(self) -> list[Study]:
        return [Study(s.name, s.share, s.cure_log_odds) for s in self.studies]


def read_spec(path: str | Path) -> CohortSpec:
    """Read and validate a cohort specification file; errors name the file and the key."""
    path = Path(path)
    try:
        return CohortSpec.model_validate(read_toml(path))
    except ValidationError as exc:
        raise InputError.from_validation(str(path), exc) from None


def bundled_specs(folder: Path | None = None) -> list[CohortSpec]:
    """Specifications of every bundled cohort, sorted by name."""
    folder = folder or cohorts_dir()
    return sorted((read_spec(p) for p in folder.glob("*.toml")), key=lambda s: s.name)

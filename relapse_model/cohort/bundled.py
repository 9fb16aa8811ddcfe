"""The bundled reference cohorts in ``cohorts/``: their specifications, files and data cards."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from relapse_model.cohort.cohort import Cohort, load_cohort
from relapse_model.cohort.reference import GeneratorParameters, Study
from relapse_model.errors import InputError, Issue

DEFAULT_COHORT = "bfm_like"


class StudySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    share: float = Field(gt=0)
    cure_log_odds: float = 0.0


class CohortSpec(BaseModel):
    """A reference cohort's specification file (``cohorts/NAME.toml``)."""

    model_config = ConfigDict(extra="forbid")
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


def cohorts_dir() -> Path:
    """Folder of the bundled cohorts: ``$RELAPSE_MODEL_COHORTS`` or ``cohorts/`` of the checkout."""
    env = os.environ.get("RELAPSE_MODEL_COHORTS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "cohorts"


def read_spec(path: str | Path) -> CohortSpec:
    """Read and validate a cohort specification file; errors name the file and the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.single(str(path), "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError.single(str(path), f"malformed TOML: {exc}") from None
    try:
        return CohortSpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError(Issue(str(path), None, None, f"key '{'.'.join(map(str, e['loc']))}': {e['msg']}")
                         for e in exc.errors()) from None


def bundled_specs(folder: Path | None = None) -> list[CohortSpec]:
    """Specifications of every bundled cohort, sorted by name."""
    folder = folder or cohorts_dir()
    return sorted((read_spec(p) for p in folder.glob("*.toml")), key=lambda s: s.name)


def bundled_path(name: str, folder: Path | None = None) -> Path:
    """Path of a bundled cohort's CSV file."""
    folder = folder or cohorts_dir()
    path = folder / f"{name}.csv"
    if not path.is_file():
        names = ", ".join(s.name for s in bundled_specs(folder)) or "(none)"
        raise InputError.single(str(path), f"no bundled cohort '{name}' (available: {names})")
    return path


def load_bundled(name: str = DEFAULT_COHORT) -> Cohort:
    """Load a bundled reference cohort by name (``"bfm_like"``, ``"cog_like"``)."""
    return load_cohort(bundled_path(name))

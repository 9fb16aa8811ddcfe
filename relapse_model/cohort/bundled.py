"""The bundled reference cohorts in ``cohorts/``: their files, by name.

How they are generated (their specification files and data cards) is
:mod:`relapse_model.reference`, a layer above the model.
"""

from __future__ import annotations

from pathlib import Path

from relapse_model.cohort.cohort import Cohort, load_cohort
from relapse_model.common.paths import cohorts_dir
from relapse_model.errors import InputError

DEFAULT_COHORT = "bfm_like"


def bundled_names(folder: Path | None = None) -> list[str]:
    """Names of the bundled cohorts (their CSV files), sorted."""
    return sorted(p.stem for p in (folder or cohorts_dir()).glob("*.csv"))


def bundled_path(name: str, folder: Path | None = None) -> Path:
    """Path of a bundled cohort's CSV file."""
    folder = folder or cohorts_dir()
    path = folder / f"{name}.csv"
    if not path.is_file():
        names = ", ".join(bundled_names(folder)) or "(none)"
        raise InputError.single(str(path), f"no bundled cohort '{name}' (available: {names})")
    return path


def load_bundled(name: str = DEFAULT_COHORT) -> Cohort:
    """Load a bundled reference cohort by name (``"bfm_like"``, ``"cog_like"``)."""
    return load_cohort(bundled_path(name))

"""Provenance of a report: versions, input hashes, seed, command, diagnostics and build date."""

from __future__ import annotations

import hashlib
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from relapse_model import __version__

#: Libraries whose versions can change a report's numbers or figures.
DEPENDENCIES = ("numpy", "scipy", "pandas", "xarray", "pymc", "pytensor", "nutpie", "numba", "arviz",
                "scikit-survival", "matplotlib", "jinja2", "h5netcdf", "dask")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Python, relapse-model and dependency versions (``"not installed"`` when absent)."""
    out = {"python": platform.python_version(), "relapse-model": __version__}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(inputs: dict[str, Path], seed: int, diagnostics: dict[str, Any],
               command: list[str] | None = None, build_date: datetime | None = None) -> dict[str, Any]:
    """The provenance block of a report.

    Parameters
    ----------
    inputs : dict
        Label -> file the report read (cohort, priors, trial and agent specifications, fit).
    seed : int
    diagnostics : dict
        Convergence verdict and values of the fit.
    command : list of str, optional
        The command line (default ``sys.argv``).
    """
    return {
        "build_date": (build_date or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]]),
        "seed": int(seed),
        "platform": f"{platform.system()} {platform.machine()}",
        "versions": versions(),
        "inputs": [{"label": label, "file": str(path), "sha256": file_sha256(path)}
                   for label, path in inputs.items()],
        "diagnostics": diagnostics,
    }

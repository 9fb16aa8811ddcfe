"""The project's data folders beside the package: priors, agents, reference cohorts, reports."""

from __future__ import annotations

import os
from pathlib import Path

#: The checkout (or installed tree) holding ``priors/``, ``cohorts/`` and ``reports/``.
PROJECT_DIR = Path(__file__).resolve().parents[2]
PRIORS_DIR = PROJECT_DIR / "priors"
DEFAULT_PRIORS = PRIORS_DIR / "default.toml"
WEAK_PRIORS = PRIORS_DIR / "weak.toml"
PATHWAY_PRIORS = PRIORS_DIR / "pathway.toml"
AGENTS_DIR = PRIORS_DIR / "agents"
REPORTS_DIR = PROJECT_DIR / "reports"


def cohorts_dir() -> Path:
    """Folder of the bundled cohorts: ``$RELAPSE_MODEL_COHORTS`` or ``cohorts/`` of the checkout."""
    env = os.environ.get("RELAPSE_MODEL_COHORTS")
    return Path(env) if env else PROJECT_DIR / "cohorts"


def pytensor_flags(**replaced: object) -> str:
    """``$PYTENSOR_FLAGS`` with the flags named in ``replaced`` set to its values, for a child
    process. Setting ``base_compiledir`` also drops any ``compiledir`` (which would override it):
    with ``PYTENSOR_FLAGS=floatX=float64,compiledir=/a``, ``pytensor_flags(base_compiledir="/b")``
    is ``"floatX=float64,base_compiledir=/b"``.
    """
    dropped = set(replaced) | ({"compiledir"} if "base_compiledir" in replaced else set())
    kept = [flag.strip() for flag in os.environ.get("PYTENSOR_FLAGS", "").split(",")
            if flag.strip() and flag.split("=", 1)[0].strip() not in dropped]
    return ",".join(kept + [f"{name}={value}" for name, value in replaced.items()])

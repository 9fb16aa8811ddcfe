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

"""Shared fixtures: a minimal valid cohort, file writers and the CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
COHORTS = ROOT / "cohorts"
BUNDLED = ("bfm_like", "cog_like")


def valid_rows() -> list[dict[str, object]]:
    """Four patients covering censoring, second relapse, death after relapse and in remission."""
    base = dict(study="S1", age_years=8.0, months_diagnosis_to_relapse=15.0, cytogenetics="normal",
                hsct_cr1="no", second_relapse="no", second_relapse_months="", died="no",
                death_months="", followup_months=40.0)
    return [
        {**base, "patient_id": "P1"},
        {**base, "patient_id": "P2", "second_relapse": "yes", "second_relapse_months": 6.0,
         "died": "yes", "death_months": 11.0, "followup_months": ""},
        {**base, "patient_id": "P3", "died": "yes", "death_months": 3.0, "followup_months": ""},
        {**base, "patient_id": "P4", "second_relapse": "yes", "second_relapse_months": 9.5,
         "followup_months": 30.0},
    ]


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write rows (list of dicts) or a DataFrame to a CSV file and return its path."""
    def _write(rows, name: str = "cohort.csv") -> Path:
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path
    return _write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def small_fit():
    """A small fixed-seed fit of the competing-risk cure model on the BFM-like cohort (~10 s)."""
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models import RelapseModel
    return RelapseModel().fit(load_bundled("bfm_like"), draws=150, tune=150, chains=2, random_seed=11,
                              progressbar=False)


@pytest.fixture(scope="session")
def small_fit_path(small_fit, tmp_path_factory):
    return small_fit.save(tmp_path_factory.mktemp("fit") / "fit.nc")


def build_demo(runner: CliRunner, folder: Path) -> Path:
    """Run ``relapse-model demo --model competing`` with fewer draws into ``folder``; return the folder."""
    from relapse_model.cli import main
    result = runner.invoke(main, ["demo", "--model", "competing", "--draws", "100", "--quiet", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"report: {folder / 'report.html'}" in result.output
    return folder


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory) -> Path:
    """The demo (fit, checks, two trials, report) built once with fewer draws."""
    return build_demo(CliRunner(), tmp_path_factory.mktemp("demo"))

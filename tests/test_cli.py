"""The command line: help on every command, the demo, cohorts listing and stemness output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from relapse_model.cli import main
from tests.conftest import BUNDLED, COHORTS


@pytest.mark.parametrize("command", ["validate", "stemness", "cohorts", "demo"])
def test_every_command_has_help(command, runner):
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_demo_writes_figure_and_summary(tmp_path, runner):
    result = runner.invoke(main, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    png = tmp_path / "bfm_like_outcomes.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_csv(tmp_path / "bfm_like_summary.csv")
    assert summary.set_index("characteristic").loc["patients", "value"] == "200"


def test_cohorts_lists_every_bundled_cohort(runner):
    result = runner.invoke(main, ["cohorts"])
    assert result.exit_code == 0
    for name in BUNDLED:
        assert name in result.output and f"{name}.md" in result.output


def test_validate_json_counts_missing_values(runner):
    result = runner.invoke(main, ["validate", str(COHORTS / "bfm_like.csv"), "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    frame = pd.read_csv(COHORTS / "bfm_like.csv")
    assert payload["patients"] == len(frame)
    assert payload["missing"]["lsc17"] == int(frame["lsc17"].isna().sum())


def test_stemness_writes_scores_and_calls(tmp_path, runner):
    genes = ["DNMT3B", "GPR56", "CD34", "SOCS2", "SPINK2", "KIAA0125"]
    expr = pd.DataFrame(np.arange(18, dtype=float).reshape(3, 6), columns=genes,
                        index=pd.Index(["a", "b", "c"], name="sample"))
    expr.to_csv(tmp_path / "expr.csv")
    result = runner.invoke(main, ["stemness", str(tmp_path / "expr.csv"), "--score", "plsc6",
                                  "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "out.csv")
    weights = np.array([0.189, 0.054, 0.0171, 0.141, 0.109, 0.0516])
    np.testing.assert_allclose(out["plsc6"], expr.to_numpy() @ weights, atol=1e-12)
    assert out["plsc6_high"].tolist() == [False, False, True]


def test_readme_schema_table_matches_the_schema():
    from relapse_model.cohort.schema import schema_markdown
    from tests.conftest import ROOT
    assert schema_markdown() in (ROOT / "README.md").read_text()

"""The command line: help on every command, the demo, cohorts listing and stemness output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from relapse_model.cli import main
from tests.conftest import BUNDLED, COHORTS

COMMANDS = ["demo", "validate", "cohorts", "stemness", "fit", "check", "predict", "simulate", "report"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command, runner):
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and "Example" in result.output
    assert f"relapse-model {command}" in result.output


def test_main_help_lists_commands_and_documents_exit_statuses(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert all(c in result.output for c in COMMANDS)
    for status in ("0  success", "2  bad input", "3  the fit failed"):
        assert status in result.output


@pytest.mark.parametrize("command", ["fit", "check", "predict", "simulate", "report", "demo"])
def test_long_commands_take_quiet_json_and_strict(command, runner):
    result = runner.invoke(main, [command, "--help"])
    assert all(flag in result.output for flag in ("--quiet", "--json", "--strict"))


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


def test_fit_and_demo_use_the_pathway_model_unless_told_otherwise(tmp_path, runner):
    for command in ("fit", "demo"):
        option = next(p for p in main.commands[command].params if p.name == "outcome")
        assert option.default == "pathway", command
    # a one-step option without --model names the way to the one-step model, before any fitting
    result = runner.invoke(main, ["fit", str(COHORTS / "bfm_like.csv"), "--baseline", "piecewise",
                                  "--out", str(tmp_path / "fit.nc")])
    assert result.exit_code == 2 and not (tmp_path / "fit.nc").exists()
    assert result.stderr.strip() == ("error: fit: baseline = 'piecewise' does not apply to outcome 'pathway': the "
                                     "pathway model's transitions have Weibull hazards (the pathway model is fit's "
                                     "default; add --model competing for the one-step model)")


def test_fit_json_and_strict_exit_status_3(tmp_path, runner):
    """A deliberately short fit fails its diagnostics: the file is written, the JSON says so,
    and --strict turns it into exit status 3."""
    args = ["fit", str(COHORTS / "bfm_like.csv"), "--draws", "20", "--tune", "20", "--chains", "2",
            "--out", str(tmp_path / "fit.nc"), "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["passed"] is False and payload["fit"] == str(tmp_path / "fit.nc")
    assert {d["diagnostic"] for d in payload["diagnostics"]} >= {"max R-hat", "divergences"}
    assert any(e["covariate"] == "early_relapse" for e in payload["effects"])
    assert "FAILED" in result.stderr
    strict = runner.invoke(main, [*args[:-1], "--quiet", "--strict"])
    assert strict.exit_code == 3 and (tmp_path / "fit.nc").is_file()


def test_predict_json(small_fit_path, tmp_path, runner):
    result = runner.invoke(main, ["predict", str(small_fit_path), str(COHORTS / "bfm_like.csv"), "--horizons", "12,36",
                                  "--out", str(tmp_path / "p.csv"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["patients"] == 200 and payload["horizons"] == [12.0, 36.0]
    assert pd.read_csv(tmp_path / "p.csv")["patient"].nunique() == 200


def test_predict_has_one_name_for_conditioning_and_keeps_the_old_one_deprecated(small_fit_path, tmp_path, runner):
    """--conditional-on-survival-to is the API's conditional_on_survival_to; --conditional-on still
    works (same numbers) with a warning, and --help shows only the one name."""
    args = ["predict", str(small_fit_path), str(COHORTS / "bfm_like.csv"), "--horizons", "36", "--quiet"]
    new = runner.invoke(main, [*args, "--conditional-on-survival-to", "12", "--out", str(tmp_path / "new.csv")])
    old = runner.invoke(main, [*args, "--conditional-on", "12", "--out", str(tmp_path / "old.csv")])
    assert new.exit_code == 0 and old.exit_code == 0, old.output
    assert "deprecated: use --conditional-on-survival-to" in old.stderr and "deprecated" not in new.stderr
    assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()
    both = runner.invoke(main, [*args, "--conditional-on", "12", "--conditional-on-survival-to", "12",
                                "--out", str(tmp_path / "x.csv")])
    assert both.exit_code == 2 and "give --conditional-on-survival-to only" in both.stderr
    helped = runner.invoke(main, ["predict", "--help"]).output
    assert "--conditional-on-survival-to" in helped and "--conditional-on " not in helped


def test_quiet_validate_prints_one_line(runner):
    result = runner.invoke(main, ["validate", str(COHORTS / "bfm_like.csv"), "--quiet"])
    assert result.exit_code == 0
    assert result.output.strip().splitlines() == [f"{COHORTS / 'bfm_like.csv'}: valid, 200 patients"]


def test_report_and_demo_print_every_table_within_100_columns_blanks_blank(demo_report, capsys):
    """What `demo` and `report` print (characteristics, convergence, risk profiles, each trial's
    operating characteristics and agent-prior sensitivity): no line over 100 columns, no cut
    header or label, no `nan`, and R-hat with the digits that show why a gate passed or failed."""
    import pandas as pd

    from relapse_model.cli.views import print_report_tables

    tables = {p.stem: pd.read_csv(p) for p in sorted((demo_report / "tables").glob("*.csv"))}
    print_report_tables(tables, ("cohort_characteristics", "convergence", "risk_profiles"))
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "nan" not in printed and "\u2026" not in printed
    assert "favourable, MRD unknown" in printed and "EFS model (95% CrI)" in printed
    rhat = tables["convergence"].set_index("diagnostic").loc["max R-hat", "value"]
    assert f"{rhat:.4f}" in printed
    assert printed.count("operating characteristics") == 2 and "cure OR" in printed


def test_agent_prior_sensitivity_of_several_agents_prints_one_row_per_effect_within_100_columns(capsys):
    """A multi-arm trial's agent-prior table (three agents, eight effects, three prior variants)
    would be ten squeezed columns; it prints as one row per agent and effect instead."""
    from relapse_model.cli.common import print_table
    from relapse_model.cli.views import sensitivity_view

    effects = {"venetoclax response_or": "1.40 (0.55-3.50)", "venetoclax death_hr": "1.20 (0.80-1.80)",
               "cpx351 early_death_or": "0.60 (0.25-1.40)", "liposomal_daunorubicin response_or": "1.50 (0.95-2.40)"}
    variants = ["as specified", "sceptical (log effect halved)", "vague (log-scale SD doubled)"]
    frame = pd.DataFrame([{"agent prior": v, **effects, "assurance": 0.37 + i / 10, "MC SE": 0.015}
                          for i, v in enumerate(variants)])
    view = sensitivity_view(frame)
    assert list(view.columns) == ["agent", "effect", *variants]
    assert view[["agent", "effect"]].values.tolist() == [
        ["venetoclax", "response OR"], ["venetoclax", "death HR"], ["cpx351", "early death OR"],
        ["liposomal daunorubicin", "response OR"], ["all", "assurance (SE)"]]
    assert view.iloc[-1, 2:].tolist() == ["0.370 (0.015)", "0.470 (0.015)", "0.570 (0.015)"]
    print_table(view, "mams response agent prior sensitivity")
    printed = capsys.readouterr().out
    assert max(len(line) for line in printed.splitlines()) <= 100 and "\u2026" not in printed

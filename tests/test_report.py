"""Reports: the demo end to end, identical tables and figures under a seed, privacy, the
warning banner, report specifications and the command's exit statuses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relapse_model.cli import main
from relapse_model.cohort import Cohort
from relapse_model.cohort.summary import summary_table
from relapse_model.errors import InputError
from relapse_model.report.html import Section, Table, render_report
from relapse_model.report.privacy import find_identifiers, suppress_counts
from relapse_model.report.spec import AgentPriorVariant, load_report_spec
from tests.conftest import COHORTS, ROOT, valid_rows
from tests.conftest import build_demo as _demo


def test_demo_builds_every_part_of_the_report(demo_report):
    html = (demo_report / "report.html").read_text(encoding="utf-8")
    for section in ("cohort", "model", "profiles", "checks", "trial_go_cd33", "trial_menin_kmt2a", "provenance"):
        assert f'<section id="{section}">' in html
    for path in ("tables/effects.csv", "tables/convergence.csv", "tables/calibration_summary.csv",
                 "tables/trial_go_cd33_operating_characteristics.csv",
                 "tables/trial_menin_kmt2a_agent_prior_sensitivity.csv", "figures/effects_forest.png",
                 "figures/trial_go_cd33_curves.png", "figures/ppc_risk_group.png", "data/fit.nc",
                 "data/trial_go_cd33.nc"):
        assert (demo_report / path).is_file(), path
    # every figure is embedded, so the page needs nothing beside it
    n_png = len(list((demo_report / "figures").glob("*.png")))
    assert html.count('src="data:image/png;base64,') == n_png
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    oc = pd.read_csv(demo_report / "tables/trial_go_cd33_operating_characteristics.csv")
    assert set(oc["scenario"]) == {"assurance", "power", "no_effect"}
    assert oc["P(success)"].between(0, 1).all()
    sens = pd.read_csv(demo_report / "tables/trial_go_cd33_agent_prior_sensitivity.csv")
    assert sens["agent prior"].tolist()[0] == "as specified" and len(sens) == 3
    # the type-I error beside the alpha the design states, and the design a clinician can check
    nominal = oc.loc[oc["scenario"] == "no_effect", "nominal alpha"]
    assert nominal.tolist() == [0.025]
    design = pd.read_csv(demo_report / "tables/trial_go_cd33_design.csv").set_index("design")["value"]
    assert design["sample size"] == "240 patients" and "log-rank" in design["analysis"]
    assert "If gemtuzumab ozogamicin had no effect, the trial would still declare benefit" in html
    # a summary a clinician reads first, then every part collapsed under its title and one sentence
    summary = html[html.index('<section id="summary">'):html.index('<section id="cohort">')]
    assert summary.count("<li>") == 5 and "patients at first relapse" in summary and "(assurance)" in summary
    assert html.count("<details>") == 7 and html.count('<span class="lead">') == 7
    assert (demo_report / "figures/calibration.png").is_file()
    assert not list((demo_report / "figures").glob("calibration_*.png"))      # one grid, not six narrow plots
    # codes appear as words where people read them
    effects = pd.read_csv(demo_report / "tables/effects.csv")
    assert "age (per 10 years)" in set(effects["effect"]) and "t(8;21) RUNX1::RUNX1T1" in set(effects["effect"])
    config = pd.read_csv(demo_report / "tables/model_configuration.csv").set_index("setting")["value"]
    assert "[" not in config["relapse covariates"] and "early relapse (< 12 months)" in config["relapse covariates"]


def test_provenance_records_versions_hashes_seed_and_command(demo_report):
    from relapse_model.report.provenance import file_sha256
    prov = json.loads((demo_report / "provenance.json").read_text())
    assert prov["seed"] == 1
    command = prov["command"]
    assert command.startswith("relapse-model demo ") and f"--out {demo_report}" in command
    assert "--draws 100" in command and "--quiet" in command
    assert {"relapse-model", "pymc", "arviz", "numpy", "scikit-survival"} <= set(prov["versions"])
    cohort = next(i for i in prov["inputs"] if i["label"].startswith("cohort"))
    assert cohort["sha256"] == file_sha256(COHORTS / "bfm_like.csv")
    assert any(i["label"] == "agent gemtuzumab_ozogamicin" for i in prov["inputs"])
    assert set(prov["diagnostics"]) >= {"passed", "failed", "values"}


def test_banner_matches_the_diagnostics(demo_report):
    html = (demo_report / "report.html").read_text(encoding="utf-8")
    passed = json.loads((demo_report / "provenance.json").read_text())["diagnostics"]["passed"]
    assert ('class="banner fail"' in html) == (not passed)
    assert ('class="banner pass"' in html) == passed


@pytest.mark.slow
@pytest.mark.extended
def test_same_spec_and_seed_give_identical_tables_and_figures(demo_report, runner, tmp_path):
    """The demo built a second time (make test-extended; make test builds a smaller report twice, below)."""
    again = _demo(runner, tmp_path / "again")
    first = json.loads((demo_report / "manifest.json").read_text())
    second = json.loads((again / "manifest.json").read_text())
    assert any(k.startswith("figures/data/") for k in first) and any(k.endswith(".png") for k in first)
    assert first == second


#: Every stage of the demo (fit, profiles, LOO, posterior-predictive checks, calibration, a trial
#: with an agent-prior variant, figures) at a small size; the default model, so its code is compiled once.
SMALL_REPORT = f'''name = "small"
title = "A small report"
seed = 3
[cohort]
paths = ["bfm_like"]
[model]
draws = 30
tune = 30
chains = 2
[checks]
replicates = 10
horizons = [36]
[[trials]]
spec = "{ROOT / 'reports' / 'trials' / 'go_cd33.toml'}"
n_trials = 100
[[agent_prior_variants]]
name = "sceptical"
shrink = 0.5
'''


def test_same_report_spec_and_seed_give_identical_tables_and_figures(runner, tmp_path):
    path = _spec(tmp_path, SMALL_REPORT)
    manifests = []
    for folder in ("first", "second"):
        result = runner.invoke(main, ["report", str(path), "--quiet", "--out", str(tmp_path / folder)])
        assert result.exit_code == 0, result.output
        manifests.append(json.loads((tmp_path / folder / "manifest.json").read_text()))
    first, second = manifests
    for part in ("tables/effects.csv", "tables/loo.csv", "figures/ppc_risk_group.png",
                 "figures/calibration.png", "tables/trial_go_cd33_operating_characteristics.csv",
                 "tables/trial_go_cd33_agent_prior_sensitivity.csv", "figures/trial_go_cd33_curves.png"):
        assert part in first, part
    assert any(k.startswith("figures/data/") for k in first)
    assert first == second
    assert (tmp_path / "first" / "data" / "fit.nc").is_file()


def test_report_holds_no_patient_identifier(demo_report):
    ids = pd.read_csv(COHORTS / "bfm_like.csv", dtype=str)["patient_id"]
    files = [p for p in demo_report.rglob("*") if p.is_file()]
    assert len(files) > 30
    assert find_identifiers(files, ids) == {}
    # the scan itself finds an identifier that is there
    leak = demo_report.parent / "leak.csv"
    leak.write_text(f"x,{ids.iloc[7]}\n")
    assert find_identifiers([leak], ids) == {str(leak): [ids.iloc[7]]}


def test_report_tables_show_no_small_count(demo_report):
    characteristics = pd.read_csv(demo_report / "tables/cohort_characteristics.csv", dtype=str,
                                  keep_default_na=False)
    assert "<5" in characteristics.to_numpy().ravel().tolist()   # bfm_like: fewer than 5 CHIP-only NGS results
    profiles = pd.read_csv(demo_report / "tables/risk_profiles.csv", dtype=str, keep_default_na=False)
    counts = profiles["patients"]
    small = counts == "<5"
    assert (profiles.loc[small].drop(columns=["profile", "patients"]) == "").all().all()
    shown = pd.to_numeric(counts[~small])
    assert (shown >= 5).all()
    assert all(c == "<5" or int(c) >= 5 for c in counts)


def test_small_counts_are_suppressed_in_the_cohort_summary():
    cohort = Cohort.from_frame(pd.DataFrame(valid_rows()), "four.csv")
    table = summary_table(cohort, min_count=5).set_index("characteristic")["value"]
    assert table["patients"] == "<5" and table["deaths"] == "<5"
    assert table["risk group: favourable"] == "0 (0%)"
    assert "IQR" in " ".join(table.index)
    assert summary_table(cohort).set_index("characteristic").loc["patients", "value"] == "4"


def test_suppress_counts_blanks_estimates_of_small_groups():
    frame = pd.DataFrame({"group": ["a", "b", "c"], "n": [3, 0, 12], "estimate": [0.5, np.nan, 0.25]})
    out = suppress_counts(frame, ["n"], 5, blank_with=["estimate"], group_size="n")
    assert out["n"].tolist() == ["<5", "0", "12"]
    assert np.isnan(out["estimate"][0]) and out["estimate"][2] == 0.25


def _page(tmp_path, passed: bool) -> str:
    verdict = {"passed": passed, "failed": [] if passed else ["max R-hat"], "values": {"max R-hat": 1.2},
               "pareto_k_note": ""}
    prov = {"build_date": "2026-01-01 00:00 UTC", "command": "x", "seed": 1, "platform": "p",
            "versions": {"relapse-model": "0"}, "inputs": []}
    table = Table("t", "A <table>", pd.DataFrame({"a": [1.23456, np.nan]}))
    return render_report("Title & co", [Section("s", "S", [table])], verdict, prov, tmp_path)


def test_failed_fit_shows_a_warning_banner_and_text_is_escaped(tmp_path):
    failed, passed = _page(tmp_path, False), _page(tmp_path, True)
    assert 'class="banner fail"' in failed and "FAILED" in failed and "max R-hat" in failed
    assert 'class="banner fail"' not in passed and 'class="banner pass"' in passed
    assert "Title &amp; co" in failed and "A &lt;table&gt;" in failed
    assert "<td>1.23</td>" in failed


def test_vary_agent_shrinks_and_widens_on_the_log_scale():
    from relapse_model.report.content import vary_agent
    from relapse_model.simulate.agents import agent_by_name
    go = agent_by_name("gemtuzumab_ozogamicin")
    varied = vary_agent(go, AgentPriorVariant(name="v", shrink=0.5, sd_scale=2.0))
    for kind in ("one_step", "pathway"):
        assert go.effects(kind)
        for effect, before in go.effects(kind).items():
            after = varied.effects(kind)[effect]
            assert after.log_mean == pytest.approx(0.5 * before.log_mean)
            assert after.log_sd == pytest.approx(2.0 * before.log_sd)


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(text)
    return path


def test_bad_report_spec_names_file_and_key(tmp_path, runner):
    path = _spec(tmp_path, 'name = "x"\ntitle = "t"\n[cohort]\npaths = ["bfm_like"]\n[model]\ndraws = 5\ncolour = 1\n')
    with pytest.raises(InputError) as info:
        load_report_spec(path)
    lines = str(info.value).splitlines()
    assert any("key 'model.draws'" in line for line in lines) and any("key 'model.colour'" in line for line in lines)
    assert all(line.startswith(str(path)) for line in lines)
    result = runner.invoke(main, ["report", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_missing_cohort_file_is_bad_input(tmp_path, runner):
    path = _spec(tmp_path, 'name = "x"\ntitle = "t"\n[cohort]\npaths = ["nowhere/c.csv"]\n')
    result = runner.invoke(main, ["report", str(path)])
    assert result.exit_code == 2
    assert "c.csv" in result.output


def test_report_from_an_existing_fit_json_and_strict(small_fit_path, tmp_path, runner):
    """A spec may reuse a fit; --json prints one object; --strict exits 3 on failed diagnostics."""
    path = _spec(tmp_path, f'''name = "reuse"
title = "Reusing a fit"
seed = 2
[cohort]
paths = ["bfm_like"]
[model]
fit = "{small_fit_path}"
[checks]
replicates = 20
horizons = [24]
''')
    result = runner.invoke(main, ["report", str(path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert Path(payload["report"]).is_file() and payload["folder"] == str(tmp_path / "build" / "reuse")
    assert payload["passed"] is False  # the session's small fit is too short to pass
    manifest = tmp_path / "build" / "reuse" / "manifest.json"
    first = json.loads(manifest.read_text())
    strict = runner.invoke(main, ["report", str(path), "--quiet", "--strict"])
    assert strict.exit_code == 3
    assert "--strict" in strict.output
    assert json.loads(manifest.read_text()) == first   # rebuilt from the same fit, spec and seed: identical


def test_report_refuses_a_fit_of_another_cohort(small_fit_path, tmp_path, runner):
    path = _spec(tmp_path, f'name = "x"\ntitle = "t"\n[cohort]\npaths = ["cog_like"]\n[model]\nfit = "{small_fit_path}"\n')
    result = runner.invoke(main, ["report", str(path)])
    assert result.exit_code == 2 and "differs from the one the fit was made with" in result.output


def test_bundled_report_specs_are_valid():
    for path in sorted((ROOT / "reports").glob("*.toml")):
        spec = load_report_spec(path)
        for trial in spec.trials:
            assert spec.resolve(trial.spec).is_file()


def test_cohorts_of_a_spec_are_pooled_and_ids_must_stay_unique(tmp_path):
    from relapse_model.report.build import load_report_cohort
    path = _spec(tmp_path, 'name = "x"\ntitle = "t"\n[cohort]\npaths = ["bfm_like", "cog_like"]\n')
    pooled, paths = load_report_cohort(load_report_spec(path))
    assert len(pooled) == 1000 and [p.name for p in paths] == ["bfm_like.csv", "cog_like.csv"]
    assert pooled.data["study"].nunique() == 4
    twice = _spec(tmp_path, 'name = "x"\ntitle = "t"\n[cohort]\npaths = ["bfm_like", "../bfm_copy.csv"]\n')
    (tmp_path.parent / "bfm_copy.csv").write_bytes((COHORTS / "bfm_like.csv").read_bytes())
    with pytest.raises(InputError) as info:
        load_report_cohort(load_report_spec(twice))
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{tmp_path.parent / 'bfm_copy.csv'}, row 2, column 'patient_id': '121-0001' is also in bfm_like.csv")


def _fit(slope: float, p_value: float):
    from relapse_model.checks.calibration import CalibrationFit
    return CalibrationFit(slope=slope, intercept=0.0, slope_se=0.1, intercept_se=0.05, chi2=1.0,
                          p_value=p_value, weights="inverse_variance", n_groups=5)


def test_calibration_lead_names_each_rejected_horizon_and_explains_slopes_above_one():
    from relapse_model.checks.model_checks import CheckResults
    from relapse_model.report.build import _calibration_phrase
    checks = CheckResults(calibration_fits={"efs_24m": _fit(1.37, 0.008), "efs_36m": _fit(1.10, 0.30),
                                            "relapse_24m": _fit(0.92, 0.6)})
    phrase = _calibration_phrase(checks, "EFS")
    assert "from 0.92 to 1.37" in phrase and "above 1, too close to the average" in phrase
    assert "MISCALIBRATED" in phrase and "event-free survival at 24 months (slope 1.37, p = 0.008)" in phrase
    assert "36 months" not in phrase and "relapse incidence" not in phrase
    calibrated = _calibration_phrase(CheckResults(calibration_fits={"efs_24m": _fit(1.05, 0.4)}), "EFS")
    assert "MISCALIBRATED" not in calibrated and "no horizon's test" in calibrated

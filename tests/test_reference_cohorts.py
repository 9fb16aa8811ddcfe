"""The bundled reference cohorts: reproducible from their seeds and calibrated to the literature."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from relapse_model.cli import main
from relapse_model.cohort.bundled import load_bundled
from relapse_model.errors import InputError
from relapse_model.reference.cards import generate, write_cohort
from relapse_model.reference.spec import bundled_specs, read_spec
from relapse_model.reference.targets import TARGET, target_table
from tests.conftest import BUNDLED, COHORTS


def test_every_bundled_cohort_has_spec_file_and_card():
    assert tuple(s.name for s in bundled_specs()) == BUNDLED
    for name in BUNDLED:
        card = (COHORTS / f"{name}.md").read_text()
        assert "Synthetic data" in card
        assert f"seed `{read_spec(COHORTS / f'{name}.toml').seed}`" in card
        assert "relapse-model cohorts --regenerate" in card
        assert "**NO**" not in card


@pytest.mark.parametrize("name", BUNDLED)
def test_regenerating_reproduces_the_committed_files_byte_for_byte(name, tmp_path):
    spec = read_spec(COHORTS / f"{name}.toml")
    csv_path, card_path = write_cohort(spec, tmp_path)
    assert csv_path.read_bytes() == (COHORTS / f"{name}.csv").read_bytes()
    assert card_path.read_text() == (COHORTS / f"{name}.md").read_text()


def test_a_different_seed_gives_a_different_cohort():
    spec = read_spec(COHORTS / "bfm_like.toml")
    a = generate(spec)
    b = generate(spec.model_copy(update={"seed": spec.seed + 1}))
    assert not a.equals(b)


@pytest.mark.parametrize("name", BUNDLED)
def test_published_targets_are_reproduced(name):
    spec = read_spec(COHORTS / f"{name}.toml")
    table = target_table(load_bundled(name), spec.targets)
    assert set(table["key"]) == set(TARGET), "every target is checked for every cohort"
    failing = table.loc[~table["ok"], ["key", "low", "high", "observed"]]
    assert failing.empty, f"\n{failing.to_string()}"


@pytest.mark.parametrize("name", BUNDLED)
def test_prognostic_ordering_holds(name):
    # the directions the literature agrees on, beyond the per-target ranges
    t = target_table(load_bundled(name), read_spec(COHORTS / f"{name}.toml").targets).set_index("key")
    obs = t["observed"]
    assert obs["os5_late"] > obs["os5_early"]
    assert obs["os4_cbf"] > obs["os4_adverse"] + 0.25
    assert obs["mrd_os5_gap"] > 0 and obs["stemness_os5_gap"] > 0 and obs["hsct_cr1_os5_gap"] > 0


@pytest.mark.parametrize("name", BUNDLED)
def test_validate_exits_0_on_bundled_cohort(name, runner):
    result = runner.invoke(main, ["validate", str(COHORTS / f"{name}.csv")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_validate_exits_2_on_corrupted_copy(tmp_path, runner):
    frame = pd.read_csv(COHORTS / "bfm_like.csv", dtype=str, keep_default_na=False)
    frame.loc[41, "cytogenetics"] = "t(8;22)"
    frame.loc[99, "age_years"] = "ten"
    path = tmp_path / "corrupt.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {path}, row 43, column 'cytogenetics': unknown value 't(8;22)'")
    assert lines[1] == f"error: {path}, row 101, column 'age_years': 'ten' is not a number (years)"


def test_spec_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    shutil.copy(COHORTS / "bfm_like.toml", bad)
    bad.write_text(bad.read_text().replace("n = 200", "n = -5"))
    with pytest.raises(InputError, match=r"key 'n': Input should be greater than 0"):
        read_spec(bad)
    bad.write_text("name = ")
    with pytest.raises(InputError, match="malformed TOML"):
        read_spec(bad)


def test_unknown_generator_parameter_is_rejected(tmp_path):
    spec = read_spec(COHORTS / "bfm_like.toml")
    with pytest.raises(KeyError, match="cure_rate_refrence"):
        spec.model_copy(update={"parameters": {"cure_rate_refrence": 0.5}}).generator_parameters()

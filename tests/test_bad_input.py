"""Every kind of bad input gets one clear line naming file, row and column, and exit status 2."""

from __future__ import annotations

import pandas as pd
import pytest

from relapse_model.cli import main
from relapse_model.cohort import load_cohort
from relapse_model.errors import MAX_REPORTED_ISSUES, InputError
from tests.conftest import valid_rows


def _edit(index: int, **changes):
    rows = valid_rows()
    rows[index].update(changes)
    return rows


# (rows, expected row, expected column, words the message must contain)
CASES = {
    "unknown cytogenetic class": (_edit(1, cytogenetics="t(99;99)"), 3, "cytogenetics",
                                  ["unknown value 't(99;99)'", "allowed:", "t8_21", "kmt2a_t9_11"]),
    "negative time": (_edit(0, followup_months=-2), 2, "followup_months", ["negative time"]),
    "non-numeric time": (_edit(2, death_months="three"), 4, "death_months", ["'three' is not a number"]),
    "event without time": (_edit(0, second_relapse="yes"), 2, "second_relapse_months",
                           ["flagged 'yes'", "no time"]),
    "death without time": (_edit(0, died="yes", followup_months=""), 2, "death_months",
                           ["death flagged 'yes'"]),
    "death before relapse": (_edit(2, death_months=-1.5), 4, "death_months", ["death before first relapse"]),
    "duplicate id": (_edit(3, patient_id="P2"), 5, "patient_id", ["duplicate patient id 'P2'", "first seen in row 3"]),
    "non-numeric stemness": (_edit(1, lsc17="high"), 3, "lsc17", ["'high' is not a number"]),
    "MRD level above 100": (_edit(0, mrd_level_pct=140, mrd_method="flow"), 2, "mrd_level_pct",
                            ["out of range", "between 0 and 100"]),
    "MRD level negative": (_edit(0, mrd_level_pct=-0.1, mrd_method="flow"), 2, "mrd_level_pct",
                           ["out of range"]),
    "relapse after death": (_edit(1, second_relapse_months=12.0), 3, "second_relapse_months",
                            ["second relapse after death"]),
    "not yes/no": (_edit(0, hsct_cr1="maybe"), 2, "hsct_cr1", ["'maybe' is not yes/no"]),
    "blank required value": (_edit(2, age_years=""), 4, "age_years", ["missing value"]),
    "alive without follow-up": (_edit(0, followup_months=""), 2, "followup_months", ["no time of last follow-up"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_cell_is_named_by_file_row_and_column(case, write_csv, runner):
    rows, row, column, words = CASES[case]
    path = write_csv(rows)
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"error: {path}, row {row}, column '{column}': "), line
    for w in words:
        assert w in line
    assert "Traceback" not in result.output


def test_missing_required_column(write_csv, runner):
    path = write_csv(pd.DataFrame(valid_rows()).drop(columns=["hsct_cr1"]))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}, column 'hsct_cr1': required column is missing"


def test_all_problems_of_a_file_are_reported_together(write_csv):
    rows = valid_rows()
    rows[0]["cytogenetics"] = "bogus"
    rows[1]["lsc17"] = "n/a?"
    rows[3]["age_years"] = 99
    with pytest.raises(InputError) as info:
        load_cohort(write_csv(rows))
    where = {(i.row, i.column) for i in info.value.issues}
    assert where == {(2, "cytogenetics"), (3, "lsc17"), (5, "age_years")}


def test_report_is_capped_and_says_how_many_are_hidden(write_csv):
    rows = [dict(valid_rows()[0], patient_id=f"P{i}", age_years="x") for i in range(80)]
    with pytest.raises(InputError) as info:
        load_cohort(write_csv(rows))
    text = str(info.value).splitlines()
    assert len(info.value.issues) == 80
    assert len(text) == MAX_REPORTED_ISSUES + 1
    assert text[-1] == "... and 30 more problem(s) not shown"


def test_empty_file(tmp_path, runner):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: file is empty"


def test_header_only_file(tmp_path, runner):
    path = tmp_path / "header.csv"
    path.write_text(",".join(valid_rows()[0]) + "\n")
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "no data rows" in result.stderr


def test_unsupported_file_type(tmp_path, runner):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(b"PK\x03\x04")
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {path}: unsupported file type '.xlsx' "
                                     "(use .csv, .tsv or .parquet)")


def test_missing_file(tmp_path, runner):
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "file not found" in result.stderr


def test_parquet_rows_are_numbered_from_one(tmp_path):
    rows = valid_rows()
    rows[1]["cytogenetics"] = "bogus"
    path = tmp_path / "cohort.parquet"
    pd.DataFrame(rows).astype(str).replace("", None).to_parquet(path)
    with pytest.raises(InputError) as info:
        load_cohort(path)
    assert [(i.row, i.column) for i in info.value.issues] == [(2, "cytogenetics")]


def test_stemness_missing_gene_lists_every_missing_gene(tmp_path, runner):
    path = tmp_path / "expr.csv"
    genes = ["DNMT3B", "GPR56", "CD34", "SOCS2"]  # pLSC6 lacks SPINK2 and FAM30A (KIAA0125)
    pd.DataFrame({"gene": genes, "s1": [1.0, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    result = runner.invoke(main, ["stemness", str(path), "--score", "plsc6"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {path}: 2 gene(s) of PLSC6 missing: SPINK2, "
                                     "FAM30A (alias KIAA0125)")


@pytest.mark.parametrize("kind", ["priors", "trial", "report"])
def test_toml_files_that_are_folders_or_not_utf8_are_one_line_errors(tmp_path, kind):
    from relapse_model.priors.spec import load_priors
    from relapse_model.report.spec import load_report_spec
    from relapse_model.simulate.spec import load_trial_spec
    load = {"priors": load_priors, "trial": load_trial_spec, "report": load_report_spec}[kind]
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'name = "x"\ntitle = "caf\xe9"\n')
    with pytest.raises(InputError, match=r"bad.toml: line 2: byte 0xe9 is not UTF-8 text") as info:
        load(bad)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(InputError, match="is a folder; give the file"):
        load(tmp_path)


# --- NaN, inf and nonsense in specification files (issue 13) ----------------------------------

def _default_priors_with(old: str, new: str) -> str:
    from pathlib import Path

    from relapse_model.common.paths import DEFAULT_PRIORS

    text = Path(DEFAULT_PRIORS).read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old, new, message", [
    ('mu = 0.0, sigma = 1.0', 'mu = nan, sigma = 1.0', "parameter mu must be a finite number, got nan"),
    ('mu = 0.0, sigma = 1.0', 'mu = 0.0, sigma = inf', "parameter sigma must be a finite number, got inf"),
])
def test_priors_with_nan_or_inf_are_refused_naming_the_key(tmp_path, old, new, message):
    from relapse_model.priors.spec import load_priors

    path = tmp_path / "p.toml"
    path.write_text(_default_priors_with(old, new))
    with pytest.raises(InputError, match=rf"^{path}: key 'cure\.default_effect': {message}$"):
        load_priors(path)


def test_priors_meta_that_is_not_a_table_is_one_line(tmp_path):
    from relapse_model.priors.spec import load_priors

    path = tmp_path / "p.toml"
    path.write_text("meta = 5\n" + _default_priors_with("[meta]", "[unused_meta]").split("[unused_meta]")[0])
    with pytest.raises(InputError, match=rf"^{path}: key 'meta': must be a table \(name, description\), got 5$"):
        load_priors(path)


def _trial(**changes):
    import glob
    import tomllib
    from pathlib import Path

    raw = tomllib.loads(Path(sorted(glob.glob("reports/trials/*.toml"))[0]).read_text())
    for key, value in changes.items():
        target = raw
        *parents, last = key.split(".")
        for k in parents:
            target = target[k]
        target[last] = value
    return raw


@pytest.mark.parametrize("changes, message", [
    ({"analysis.rmst_tau": float("inf")}, "key 'analysis.rmst_tau': Input should be a finite number"),
    ({"analysis.max_months": 0.001}, r"analysis.max_months \(0.001\) ends before accrual of \d+ patients is complete"),
    ({"sample_size": 10**9}, "key 'sample_size': Input should be less than or equal to 100000"),
    ({"accrual.rate": float("nan")}, "key 'accrual.rate': Input should be a finite number"),
])
def test_trial_specs_with_inf_nan_or_impossible_values_are_refused(changes, message):
    from relapse_model.simulate.spec import parse_spec

    with pytest.raises(InputError, match=rf"^trial.toml: {message}"):
        parse_spec(_trial(**changes), "trial.toml")
    assert parse_spec(_trial(**{"analysis.bayes_prior_sd": float("inf")}), "trial.toml")   # inf: a flat prior


def test_agent_effects_and_targets_are_checked():
    from pydantic import ValidationError

    from relapse_model.simulate.agents import Condition, RatioPrior

    with pytest.raises(ValidationError, match="Input should be a finite number"):
        RatioPrior(median=0.8, lower=0.5, upper=float("inf"))
    with pytest.raises(ValidationError, match="flt3_itd is yes/no: give equals = true or equals = false, not 'maybe'"):
        Condition(column="flt3_itd", equals="maybe")
    assert Condition(column="flt3_itd", equals=True)


def test_predictions_outside_the_fitted_cohort_are_made_with_a_warning(small_fit, small_fit_path, tmp_path, runner):
    import warnings

    from relapse_model.cohort import load_patients
    from relapse_model.cohort.bundled import bundled_path
    from relapse_model.errors import ExtrapolationWarning

    frame = pd.read_csv(bundled_path("bfm_like"), dtype=str, keep_default_na=False).head(6)
    frame.loc[0, "study"] = "a new study"
    frame.loc[1, "lsc17"] = "50"
    frame.loc[2, "cytogenetics"] = "cbfa2t3_glis2"
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    patients = load_patients(path)
    fitted = set(small_fit._fitted_classes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small_fit.predict(patients, [12, 36])
    messages = [str(w.message) for w in caught if issubclass(w.category, ExtrapolationWarning)]
    assert any("1 patient(s) from a study the fit did not include (a new study)" in m for m in messages)
    assert any("1 patient(s) with lsc17 more than 4 SD from the fitted cohort's mean (e.g. 50)" in m for m in messages)
    assert any("cbfa2t3_glis2" in m for m in messages) == ("cbfa2t3_glis2" not in fitted)
    result = runner.invoke(main, ["predict", str(small_fit_path), str(path), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0
    assert f"warning: {path}: 1 patient(s) from a study the fit did not include (a new study)" in result.stderr


def test_cohorts_that_cannot_inform_the_model_fit_with_a_warning(monkeypatch):
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.errors import ThinDataWarning
    from relapse_model.models import RelapseModel
    from relapse_model.models.design import build_design
    from relapse_model.models.extrapolation import thin_data_notes

    cohort = load_bundled("bfm_like")
    assert thin_data_notes(build_design(cohort.data)) == []
    few = cohort.subset((cohort.data["cytogenetics"] == "t8_21").to_numpy() & (cohort.data.index < 120))
    notes = thin_data_notes(build_design(few.data), {"death without relapse": 0, "relapse": 3})
    assert notes == [f"only {len(few)} patient(s): the posterior is mostly the prior",
                     "no death without relapse in the cohort: its hazard and effects are the prior's",
                     "a single cytogenetic class (t8_21): class effects are the prior's"]

    class Stop(Exception):
        pass

    def stop(*_args, **_kwargs):
        raise Stop

    monkeypatch.setattr(RelapseModel, "_sample_design", stop)
    with pytest.warns(ThinDataWarning) as record, pytest.raises(Stop):
        RelapseModel().fit(few)
    assert [str(w.message).split(": ", 1)[1] for w in record][0] == notes[0]
    assert any("a single cytogenetic class (t8_21)" in str(w.message) for w in record)


def test_every_sweep_point_is_validated_before_any_runs():
    from relapse_model.simulate.spec import parse_spec

    raw = _trial()
    raw["sweep"] = {"sample_size": [300, -5], "nonsense.key": [1]}
    with pytest.raises(InputError) as info:
        parse_spec(raw, "trial.toml")
    lines = str(info.value).splitlines()
    assert "trial.toml: sweep point {'sample_size': -5, 'nonsense.key': 1}: key 'sample_size': Input should be " \
           "greater than 1" in lines
    assert sum("key 'nonsense': Extra inputs are not permitted" in line for line in lines) == 2

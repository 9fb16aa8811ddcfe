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

"""Input files as users have them: R's NA, renamed headers, column mappings, broken CSV structure,
patients files without outcomes, and validate --json. Each bad file gets the exact line the user
sees (file, row, column) and exit status 2."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from relapse_model.cli import main
from relapse_model.cohort import Cohort, load_cohort, load_patients
from relapse_model.cohort import vocabulary as voc
from relapse_model.cohort.reading import DEFAULT_MISSING_VALUES
from relapse_model.cohort.schema import COLUMNS, legal_value_of, suggest_column
from relapse_model.errors import InputError
from tests.conftest import BUNDLED, COHORTS, valid_rows


def _csv_text(rows=None) -> str:
    return pd.DataFrame(rows or valid_rows()).to_csv(index=False, lineterminator="\n")


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _one_error(runner, args) -> str:
    result = runner.invoke(main, ["validate", *map(str, args)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# --- the bundled cohorts read to the very same data --------------------------------------

#: sha256 of ``Cohort.data`` (CSV text and dtypes) of the bundled cohorts as the reader gave it
#: when they were last regenerated (pathway generator, response assessment times): a reader
#: change that alters the data read from them fails here. Regenerating the cohorts changes it.
BUNDLED_DATA_SHA = {
    "bfm_like": "764d587551a17e3e24fccc86fac9979fdd84a690e3f4d30d9cbfba0d82a2b4df",
    "cog_like": "c4ddd2a4a7ac67ea88d090629a8f088d8664930fdf00c47d4601e10eb7e5e33f",
}


def _data_sha(data: pd.DataFrame) -> str:
    text = data.to_csv(index=False, lineterminator="\n") + repr([(c, str(t)) for c, t in data.dtypes.items()])
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_cohorts_read_to_the_same_data(name, tmp_path):
    data = load_cohort(COHORTS / f"{name}.csv").data
    assert _data_sha(data) == BUNDLED_DATA_SHA[name]
    assert _data_sha(load_patients(COHORTS / f"{name}.csv").data) == BUNDLED_DATA_SHA[name]
    # the same table as TSV with blank lines, and as Parquet, reads to the same data
    text = (COHORTS / f"{name}.csv").read_text()
    tsv = tmp_path / "c.tsv"
    frame = pd.read_csv(COHORTS / f"{name}.csv", dtype=str, keep_default_na=False)
    tsv.write_text("\n" + frame.to_csv(sep="\t", index=False, lineterminator="\n").replace("\n", "\n\n", 3))
    pd.testing.assert_frame_equal(load_cohort(tsv).data, data)
    assert text.count("\n") == len(data) + 1


# --- missing-value tokens ----------------------------------------------------------------

@pytest.mark.parametrize("token", DEFAULT_MISSING_VALUES)
def test_missing_value_tokens_are_missing_in_optional_columns(token, write_csv):
    rows = valid_rows()
    rows[0].update(lsc17=token, flt3_itd=token, cytogenetics=token, regimen=token, mrd_method=token)
    data = load_cohort(write_csv(rows)).data
    assert np.isnan(data.loc[0, "lsc17"]) and pd.isna(data.loc[0, "flt3_itd"])
    assert pd.isna(data.loc[0, "regimen"]) and pd.isna(data.loc[0, "mrd_method"])
    assert data.loc[0, "cytogenetics"] == "unknown"  # a missing class is 'unknown', as a blank is


def test_na_in_a_required_column_is_named(write_csv, runner):
    path = write_csv(_edit_rows(1, age_years="NA"))
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 3, column 'age_years': missing value 'NA' (this column is required)")


def test_blank_outcome_times_written_as_na_by_r(write_csv):
    rows = valid_rows()
    for r in rows:
        r.update({k: ("NA" if v == "" else v) for k, v in r.items()})
    assert load_cohort(write_csv(rows)).data.equals(load_cohort(write_csv(valid_rows(), "b.csv")).data)


def test_more_missing_value_tokens_can_be_added(write_csv, runner):
    path = write_csv(_edit_rows(0, lsc17="not measured", day28_blasts_pct="ND"))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [
        f"error: {path}, row 2, column 'day28_blasts_pct': 'ND' is not a number (%)",
        f"error: {path}, row 2, column 'lsc17': 'not measured' is not a number (score)"]
    result = runner.invoke(main, ["validate", str(path), "--na", "not measured", "--na", "ND"])
    assert result.exit_code == 0, result.output
    data = load_cohort(path, missing_values=["not measured", "ND"]).data
    assert np.isnan(data.loc[0, "lsc17"]) and np.isnan(data.loc[0, "day28_blasts_pct"])


@pytest.mark.parametrize(("token", "why"), [("no", "a yes/no answer"), ("-99", "a number"),
                                            ("flow", "a value of column 'mrd_method'")])
def test_a_valid_value_cannot_be_made_a_missing_value_token(token, why, write_csv, runner):
    path = write_csv(valid_rows())
    assert _one_error(runner, [path, "--na", token]) == f"error: --na: '{token}' cannot mean missing: it is {why}"
    with pytest.raises(InputError, match=f"missing_values: '{token}' cannot mean missing"):
        load_cohort(path, missing_values=[token])


def test_no_missing_value_token_is_a_legal_value():
    for token in DEFAULT_MISSING_VALUES:
        assert legal_value_of(token) is None, token
        for spec in COLUMNS:
            if spec.kind == "category":
                assert token not in spec.allowed
                assert " ".join(token.lower().split()) not in (spec.aliases or {}) or token == "", (token, spec.name)
    assert "unknown" in voc.CYTOGENETICS


# --- renamed headers: did you mean, and column mappings -----------------------------------

def _edit_rows(index: int, **changes):
    rows = valid_rows()
    rows[index].update(changes)
    return rows


def _renamed(write_csv, renames: dict[str, str], name: str = "cohort.csv"):
    return write_csv(pd.DataFrame(valid_rows()).rename(columns=renames), name)


@pytest.mark.parametrize(("header", "column"), [("age", "age_years"), ("Age (years)", "age_years"),
                                                ("Patient ID", "patient_id"), ("id", "patient_id"),
                                                ("dead", "died"), ("death", "died"), ("Study", "study"),
                                                ("HSCT_CR1", "hsct_cr1")])
def test_renamed_required_column_suggests_the_file_header(header, column, write_csv, runner):
    path = _renamed(write_csv, {column: header})
    assert _one_error(runner, [path]) == (
        f"error: {path}, column '{column}': required column is missing; did you mean the file's column "
        f"'{header}'? (rename it, or map it to '{column}')")


def test_renamed_optional_column_is_not_silently_ignored(write_csv, runner):
    rows = [dict(r, flt3_itd="no") for r in valid_rows()]
    path = write_csv(pd.DataFrame(rows).rename(columns={"flt3_itd": "FLT3-ITD"}))
    assert _one_error(runner, [path]) == (
        f"error: {path}, column 'FLT3-ITD': not in the schema; did you mean 'flt3_itd'? "
        "(rename it, or map it to 'flt3_itd')")


def test_unrelated_extra_columns_are_still_kept(write_csv):
    rows = [dict(r, karnofsky="90", sample_barcode="X") for r in valid_rows()]
    assert load_cohort(write_csv(rows)).extra_columns == ["karnofsky", "sample_barcode"]


def test_suggestions():
    assert suggest_column("age") == "age_years"
    assert suggest_column("Months diagnosis to relapse") == "months_diagnosis_to_relapse"
    assert suggest_column("followup_month") == "followup_months"
    assert suggest_column("karnofsky") is None
    assert suggest_column("age", ["study"]) is None


def test_column_mapping_as_dict_and_as_file(write_csv, tmp_path, runner):
    renames = {"patient_id": "Patient ID", "age_years": "age", "died": "Dead?"}
    path = _renamed(write_csv, renames)
    mapping = {v: k for k, v in renames.items()}
    expected = load_cohort(write_csv(valid_rows(), "plain.csv")).data
    pd.testing.assert_frame_equal(load_cohort(path, columns=mapping).data, expected)
    toml = tmp_path / "map.toml"
    toml.write_text("[columns]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in mapping.items()))
    pd.testing.assert_frame_equal(load_cohort(path, columns=toml).data, expected)
    result = runner.invoke(main, ["validate", str(path), "--columns", str(toml), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{path}: valid, 4 patients"


def test_column_mapping_mistakes_are_named(write_csv, tmp_path, runner):
    path = _renamed(write_csv, {"age_years": "age"})
    toml = tmp_path / "map.toml"
    toml.write_text('[columns]\n"Age" = "age_years"\n')
    assert _one_error(runner, [path, "--columns", toml]) == (
        f"error: {toml}, column 'Age': mapped to 'age_years', but {path} has no column 'Age'; did you mean 'age'?")
    toml.write_text('[columns]\n"age" = "age_year"\n')
    assert _one_error(runner, [path, "--columns", toml]) == (
        f"error: {toml}, column 'age': mapped to 'age_year', which is not a schema column; "
        "did you mean 'age_years'?")
    toml.write_text('[columns]\n"age" = "study"\n')
    assert _one_error(runner, [path, "--columns", toml]) == (
        f"error: {toml}, column 'age': mapped to 'study', but {path} already has a column 'study'")
    toml.write_text('[column]\n"age" = "age_years"\n')
    result = runner.invoke(main, ["validate", str(path), "--columns", str(toml)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {toml}: key 'column': unknown (the file holds one [columns] table)",
        f"error: {toml}: no [columns] table (e.g. [columns] then \"Patient ID\" = \"patient_id\")"]
    assert _one_error(runner, [path, "--columns", tmp_path / "nope.toml"]) == f"error: {tmp_path / 'nope.toml'}: file not found"
    toml.write_text("[columns\n")
    assert _one_error(runner, [path, "--columns", toml]).startswith(f"error: {toml}: malformed TOML (")


# --- validate --json ---------------------------------------------------------------------

def test_validate_json_on_bad_input_prints_the_errors(write_csv, runner):
    rows = _edit_rows(1, cytogenetics="bogus")
    rows[3]["age_years"] = "x"
    path = write_csv(rows)
    result = runner.invoke(main, ["validate", str(path), "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    assert [(e["file"], e["row"], e["column"]) for e in payload["errors"]] == [
        (str(path), 3, "cytogenetics"), (str(path), 5, "age_years")]
    assert payload["errors"][1]["message"] == "'x' is not a number (years)"


def test_validate_json_summary_is_numbers(runner):
    result = runner.invoke(main, ["validate", str(COHORTS / "bfm_like.csv"), "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    frame = pd.read_csv(COHORTS / "bfm_like.csv")
    summary = payload["summary"]
    assert payload["ok"] is True and payload["not_recorded"] == []
    k = int((frame["flt3_itd"] == "yes").sum())
    assert summary["FLT3-ITD"] == {"count": k, "percent": round(100 * k / len(frame), 1)}
    assert summary["patients"] == 200
    age = summary["age at relapse, median (IQR), years"]
    assert age == {"median": round(frame.age_years.median(), 2), "q1": round(frame.age_years.quantile(0.25), 2),
                   "q3": round(frame.age_years.quantile(0.75), 2)}
    assert set(summary["MRD positive / negative / unknown"]) == {"positive", "negative", "unknown"}
    assert isinstance(summary["5-y overall survival (Kaplan-Meier)"]["percent"], float)

    def leaves(v):
        return [x for w in v.values() for x in leaves(w)] if isinstance(v, dict) else [v]
    assert all(isinstance(v, (int, float)) for v in leaves(summary))


# --- validate summary: columns the file does not have ------------------------------------

def test_absent_columns_are_not_recorded_not_missing(write_csv, runner):
    absent = ["flt3_itd", "cr2", "lsc17", "mrd_status", "mrd_level_pct", "mrd_method"]
    path = write_csv(pd.DataFrame(valid_rows()).assign(npm1="no", mrd_status="").drop(columns=["mrd_status"]))
    result = runner.invoke(main, ["validate", str(path), "--json"])
    payload = json.loads(result.stdout)
    assert payload["summary"]["FLT3-ITD"] is None
    assert payload["summary"]["MRD positive / negative / unknown"] is None
    assert payload["summary"]["allo-HSCT after relapse"] is None
    assert set(absent) <= set(payload["not_recorded"]) and "npm1" not in payload["not_recorded"]
    assert not set(absent) & set(payload["missing"]) and "MRD status (derived)" not in payload["missing"]
    text = runner.invoke(main, ["validate", str(path)]).output
    flt3 = next(line for line in text.splitlines() if line.lstrip().startswith("FLT3-ITD"))
    assert flt3.split("│")[1].strip() == "not recorded"
    assert "age at relapse, median (IQR), years" in text
    assert "not recorded (no such column in the file): centre, flt3_itd, cd33_positive, lsc17" in text
    missing_rows = text.split("Missing optional values")[1]
    assert "flt3_itd" not in missing_rows.split("not recorded")[0]


# --- CSV structure -----------------------------------------------------------------------

def test_duplicate_header_names_both_positions(tmp_path, runner):
    lines = _lines(_csv_text([dict(r, plsc6="1.0") for r in valid_rows()]))
    lines = [line.rstrip("\n") + (",plsc6\n" if i == 0 else ",2.0\n") for i, line in enumerate(lines)]
    path = tmp_path / "dup.csv"
    path.write_text("".join(lines))
    n = len(lines[0].split(","))
    first = lines[0].split(",").index("plsc6") + 1
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 1, column 'plsc6': column name given 2 times in the header "
        f"(columns {first} and {n}); rename or remove the copies")


def test_row_with_an_extra_field_is_one_error(tmp_path, runner):
    lines = _lines(_csv_text())
    lines[2] = lines[2].replace("S1", "S1,extra", 1)
    path = tmp_path / "extra.csv"
    path.write_text("".join(lines))
    n = len(lines[0].split(","))
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 3: {n + 1} fields, but the header has {n} "
        "(an unquoted comma inside a value? put the value in double quotes)")


def test_row_with_a_missing_field_is_one_error(tmp_path, runner):
    lines = _lines(_csv_text())
    lines[4] = lines[4].replace("S1,", "", 1)
    path = tmp_path / "short.tsv"
    path.write_text("".join(line.replace(",", "\t") for line in lines))
    n = len(lines[0].split(","))
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 5: {n - 1} fields, but the header has {n} (a tab missing?)")


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_blank_lines_do_not_shift_row_numbers(suffix, tmp_path, runner):
    rows = _edit_rows(3, cytogenetics="bogus")  # line 5 without blank lines
    text = _csv_text(rows)
    if suffix == ".tsv":
        text = text.replace(",", "\t")
    lines = _lines(text)
    lines.insert(2, "\n")          # blank line 3
    lines.insert(4, "   \n")       # whitespace-only line 5
    lines.insert(6, "\t\t\n" if suffix == ".tsv" else ",,,\n")  # separators only: line 7
    path = tmp_path / f"blank{suffix}"
    path.write_text("".join(lines))
    assert "P4" in lines[7]
    line = _one_error(runner, [path])
    assert line.startswith(f"error: {path}, row 8, column 'cytogenetics': unknown value 'bogus'"), line


def test_blank_lines_keep_every_patient(tmp_path):
    lines = _lines(_csv_text())
    path = tmp_path / "blank.csv"
    path.write_text("\n" + lines[0] + "\n\n" + "".join(lines[1:3]) + "\r\n" + "".join(lines[3:]) + "\n\n")
    assert load_cohort(path).data["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]


def test_row_numbers_count_lines_of_quoted_multiline_values(tmp_path):
    rows = _edit_rows(3, cytogenetics="bogus")
    rows[0]["regimen"] = "FLAG-Ida\nthen GO"
    path = tmp_path / "multi.csv"
    path.write_text(_csv_text(rows))
    with pytest.raises(InputError) as info:
        load_cohort(path)
    assert [(i.row, i.column) for i in info.value.issues] == [(6, "cytogenetics")]


def test_unclosed_quote_is_one_error(tmp_path, runner):
    lines = _lines(_csv_text())
    lines[2] = lines[2].replace("S1", '"S1', 1)
    path = tmp_path / "quote.csv"
    path.write_text("".join(lines))
    n = len(lines[0].split(","))
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 3: 1 field, but the header has {n} (a double quote opened in this row is never closed?)")


def test_txt_files_are_read_with_the_separator_they_use(tmp_path):
    for sep in ("\t", ";", ","):
        path = tmp_path / "cohort.txt"
        path.write_text(_csv_text().replace(",", sep))
        assert load_cohort(path).data["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]


def test_nul_byte_in_a_cell_is_named(tmp_path, runner):
    path = tmp_path / "nul.csv"
    path.write_text(_csv_text().replace("P3", "P\x003", 1))
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 4, column 'patient_id': the value contains a NUL byte "
        "(the file is damaged or not a text export)")


def test_non_utf8_byte_names_file_and_line(tmp_path, runner):
    path = tmp_path / "latin1.csv"
    path.write_bytes(_csv_text(_edit_rows(2, regimen="Ré-induction")).encode("latin-1"))
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 4: not UTF-8 text (byte 0xE9); save the file as 'CSV UTF-8' (Excel) "
        "or with fileEncoding = \"UTF-8\" (R)")
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(_csv_text().encode("utf-16"))
    assert _one_error(runner, [utf16]) == (
        f"error: {utf16}, row 1: the file is UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8' instead")


@pytest.mark.parametrize("name", ["cohorts.csv", "dataset.parquet", "folder"])
def test_folder_instead_of_a_file(name, tmp_path, runner):
    folder = tmp_path / name
    folder.mkdir()
    assert _one_error(runner, [folder]) == (
        f"error: {folder}: is a folder, not a file (give the path of the file in it)")


def test_semicolon_separated_csv(tmp_path, runner):
    path = tmp_path / "excel_de.csv"
    path.write_text(_csv_text().replace(",", ";"))
    assert _one_error(runner, [path]) == (
        f"error: {path}, row 1: the fields are separated by ';', not ',' (a European Excel export?): "
        "save the file as 'CSV UTF-8 (comma delimited)'")


def test_parquet_path_takes_missing_tokens_and_mappings(tmp_path):
    frame = pd.DataFrame(_edit_rows(1, lsc17="NA")).astype(str).replace("", None)
    path = tmp_path / "c.parquet"
    frame.rename(columns={"age_years": "age"}).to_parquet(path)
    data = load_cohort(path, columns={"age": "age_years"}).data
    assert np.isnan(data.loc[1, "lsc17"]) and data["age_years"].tolist() == [8.0] * 4
    frame.assign(regimen=["a", "b\x00", "c", "d"]).to_parquet(path)
    with pytest.raises(InputError) as info:
        load_cohort(path)
    assert [(i.row, i.column) for i in info.value.issues] == [(2, "regimen")]


# --- patients for prediction without outcome columns -------------------------------------

OUTCOMES = ["second_relapse", "second_relapse_months", "died", "death_months", "followup_months"]


def test_patients_without_outcomes_may_have_had_hsct(write_csv):
    rows = [dict(r, hsct_after_relapse="yes", hsct_after_relapse_months=4.0) for r in valid_rows()]
    path = write_csv(pd.DataFrame(rows).drop(columns=OUTCOMES))
    patients = load_patients(path)
    assert len(patients) == 4
    assert patients.data["died"].isna().all() and patients.data["followup_months"].isna().all()
    assert not any(patients.recorded(c) for c in OUTCOMES)


def test_patients_with_outcomes_are_still_checked(write_csv):
    rows = _edit_rows(0, hsct_after_relapse="yes", hsct_after_relapse_months=50.0)
    with pytest.raises(InputError) as info:
        load_patients(write_csv(rows))
    assert [str(i) for i in info.value.issues] == [
        f"{write_csv(rows)}, row 2, column 'hsct_after_relapse_months': HSCT after last follow-up"]
    # and a cohort for fitting still needs its outcome columns
    with pytest.raises(InputError, match="column 'died': required column is missing"):
        load_cohort(write_csv(pd.DataFrame(rows).drop(columns=OUTCOMES)))


def test_patients_without_follow_up_column_keep_the_other_rules(write_csv):
    rows = _edit_rows(0, hsct_after_relapse="no", hsct_after_relapse_months=5.0)
    path = write_csv(pd.DataFrame(rows).drop(columns=["followup_months"]))
    with pytest.raises(InputError) as info:
        load_patients(path)
    assert [(i.row, i.column, i.message) for i in info.value.issues] == [
        (2, "hsct_after_relapse_months", "HSCT time given but hsct_after_relapse is not 'yes'")]


def test_predict_a_patients_file_without_outcomes(small_fit_path, write_csv, tmp_path, runner):
    frame = pd.read_csv(COHORTS / "bfm_like.csv", dtype=str, keep_default_na=False).head(12)
    assert (frame["hsct_after_relapse"] == "yes").any()
    frame.loc[frame["lsc17"] == "", "lsc17"] = "NA"
    frame.loc[0, "day28_blasts_pct"] = "pending"
    path = write_csv(frame.drop(columns=OUTCOMES).rename(columns={"patient_id": "Patient ID"}), "patients.csv")
    toml = tmp_path / "map.toml"
    toml.write_text('[columns]\n"Patient ID" = "patient_id"\n')
    args = ["predict", str(small_fit_path), str(path), "--horizons", "12", "--out", str(tmp_path / "p.csv"), "--json"]
    result = runner.invoke(main, [*args, "--columns", str(toml), "--na", "pending"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["patients"] == 12
    result = runner.invoke(main, [*args, "--columns", str(toml)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (f"error: {path}, row 2, column 'day28_blasts_pct': "
                                                      "'pending' is not a number (%)")


def test_from_frame_takes_the_reading_keywords():
    frame = pd.DataFrame(valid_rows()).rename(columns={"age_years": "age"}).assign(lsc17=["missing", 1, 2, 3])
    cohort = Cohort.from_frame(frame, "f", columns={"age": "age_years"}, missing_values=["missing"])
    assert np.isnan(cohort.data.loc[0, "lsc17"]) and cohort.data.loc[1, "lsc17"] == 1.0


def test_a_saved_cohort_data_reads_back_and_a_contradicting_derived_column_is_refused(tmp_path):
    cohort = load_cohort(COHORTS / "bfm_like.csv")
    path = tmp_path / "saved.csv"
    cohort.data.to_csv(path, index=False)      # with the derived early_relapse, risk_group, mrd_* columns
    again = load_cohort(path)
    pd.testing.assert_frame_equal(again.data, cohort.data)
    assert again.extra_columns == []
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[6, "early_relapse"] = "no" if frame.loc[6, "early_relapse"] == "True" else "yes"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"^.*saved.csv, row 8, column 'early_relapse': '(yes|no)' differs from the "
                                         r"value the package derives \('(True|False)'\): this column is derived"):
        load_cohort(path)

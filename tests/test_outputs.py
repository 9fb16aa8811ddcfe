"""Outputs are written safely: validated first, built beside the target, moved in at the end;
the package never deletes what it did not write; one writer at a time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from relapse_model.cli import main
from relapse_model.common.output import (
    MARKER,
    OutputLock,
    atomic_file,
    check_output_folder,
    publish_folder,
    staging_folder,
)
from relapse_model.errors import InputError


def _spec(tmp_path: Path, output: Path, extra: str = "") -> Path:
    path = tmp_path / "r.toml"
    path.write_text(f'name = "x"\ntitle = "t"\noutput = "{output}"\n[cohort]\npaths = ["bfm_like"]\n{extra}')
    return path


def test_a_failing_spec_leaves_another_folder_untouched(tmp_path, runner):
    other = tmp_path / "somewhere"
    (other / "data").mkdir(parents=True)
    (other / "data" / "precious.csv").write_text("keep me")
    (other / "sentinel.txt").write_text("keep me")
    spec = _spec(tmp_path, other, '[[trials]]\nspec = "missing_trial.toml"\n')
    result = runner.invoke(main, ["report", str(spec)])
    assert result.exit_code == 2 and "missing_trial.toml" in result.stderr
    assert (other / "sentinel.txt").read_text() == "keep me"
    assert (other / "data" / "precious.csv").read_text() == "keep me"


def test_a_foreign_folder_is_refused_without_force(tmp_path, runner):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_text("x")
    with pytest.raises(InputError, match="not a previous report output; choose another folder, or pass --force"):
        check_output_folder(other, "report")
    assert check_output_folder(other, "report", force=True) == other
    result = runner.invoke(main, ["report", str(_spec(tmp_path, other))])
    assert result.exit_code == 2 and "--force" in result.stderr and (other / "holiday.jpg").exists()


def test_publishing_replaces_only_the_previous_outputs(tmp_path):
    target = tmp_path / "report"
    for version, names in ((1, ["report.html", "tables/a.csv", "tables/old.csv"]), (2, ["report.html", "tables/a.csv"])):
        with staging_folder(target) as staging:
            for name in names:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                (staging / name).write_text(f"v{version}")
            publish_folder(staging, target, "report")
        if version == 1:
            (target / "tables" / "mine.csv").write_text("the user's")         # added by the user
    assert (target / "report.html").read_text() == "v2" and (target / "tables" / "a.csv").read_text() == "v2"
    assert not (target / "tables" / "old.csv").exists()                   # the package's own, now stale
    assert (target / "tables" / "mine.csv").read_text() == "the user's"   # never the user's
    assert json.loads((target / MARKER).read_text())["files"] == ["report.html", "tables/a.csv"]
    assert not any(p.name.endswith(".building") for p in tmp_path.iterdir())


def test_a_report_folder_from_before_markers_counts_as_a_previous_report(tmp_path):
    old = tmp_path / "demo"
    (old / "tables").mkdir(parents=True)
    for name in ("report.html", "provenance.json", "tables/x.csv"):
        (old / name).write_text("old")
    (old / "manifest.json").write_text(json.dumps({"tables/x.csv": "abc"}))
    assert check_output_folder(old, "report") == old


def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(tmp_path):
    target = tmp_path / "out.nc"
    with OutputLock(target):
        with pytest.raises(InputError, match=rf"another relapse-model process \(pid {os.getpid()}\) is writing"):
            with OutputLock(target):
                pass
    assert not target.with_name("out.nc.lock").exists()
    target.with_name("out.nc.lock").write_text("999999999")               # left by a killed process
    with OutputLock(target):
        assert target.with_name("out.nc.lock").read_text() == str(os.getpid())


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "res.nc"
    target.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as partial:
            partial.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "previous" and list(tmp_path.iterdir()) == [target]


def test_simulate_out_must_be_a_netcdf_file(tmp_path, runner, small_fit_path):
    trial = Path(__file__).resolve().parents[1] / "reports" / "trials" / "go_cd33.toml"
    for out, message in ((tmp_path / "res.csv", "must be a NetCDF file ending in .nc"), (tmp_path, "is a folder")):
        result = runner.invoke(main, ["simulate", str(trial), "--fit", str(small_fit_path), "--out", str(out)])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output

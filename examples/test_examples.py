"""Smoke tests: every script in examples/ runs end to end (with few draws) and writes its report."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_research_script_runs_and_builds_its_report(tmp_path, capsys):
    script = _load("research_script")
    cohort = HERE.parent / "cohorts" / "bfm_like.csv"
    html = script.main(["--cohort", str(cohort), "--draws", "50", "--n-trials", "100",
                        "--out", str(tmp_path / "report")])
    assert html == tmp_path / "report" / "report.html" and html.is_file()
    printed = capsys.readouterr().out
    assert "P(success)" in printed and "report:" in printed
    assert (tmp_path / "report" / "tables" / "trial_go_cd33_operating_characteristics.csv").is_file()


def _tutorial_code() -> str:
    readme = (HERE.parent / "README.md").read_text(encoding="utf-8")
    tutorial = readme[readme.index("## Tutorial"):readme.index("## Reports")]
    blocks = tutorial.split("```python\n")[1:]
    return "\n".join(block.split("```")[0] for block in blocks)


def test_readme_tutorial_runs_as_written(tmp_path, monkeypatch):
    """The README's tutorial, block by block, with fewer draws, chains and trials and the smaller cohort."""
    code = _tutorial_code()
    assert code.count("rm.") > 10
    for old, new in (("draws=1000, chains=4", "draws=50, tune=50, chains=2"), ("n_trials=2000", "n_trials=100"),
                     ("cohorts/cog_like.csv", "cohorts/bfm_like.csv")):
        assert old in code
        code = code.replace(old, new)
    for folder in ("cohorts", "priors", "reports", "examples"):
        (tmp_path / folder).symlink_to(HERE.parent / folder)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md tutorial", "exec"), namespace)  # noqa: S102 - our own README
    # the README's comments show what the tutorial prints
    text = printed.getvalue()
    assert ("examples/broken.csv, row 14, column 'died': 'maybe' is not yes/no\n"
            "examples/broken.csv, row 17, column 'age_years': 'ten' is not a number (years)") in text
    comments = {line.split("#", 1)[0].strip(): line.split("#", 1)[1].strip() for line in _tutorial_code().splitlines()
                if line.startswith("print(") and "#" in line}
    cohort_line = comments["print(cohort)"].replace("800", "200").replace("cog_like", "bfm_like")
    assert cohort_line + "\n" in text                           # Cohort(200 patients, 2 studies, from ...)
    assert comments["print(model)"] + "\n" in text              # RelapseModel(defaults; priors 'default'; fitted)
    for title in ("Convergence diagnostics", "Odds ratio of cure", "Hazard ratio of relapse (non-cured)",
                  "Operating characteristics"):
        assert title in text
    assert " max R-hat " in text and "posterior median (95% CrI)" in text and "P(success)" in text
    assert max(len(line) for line in text.splitlines()) <= 100 and "nan" not in text
    assert (tmp_path / "fits" / "cog.nc").is_file()
    assert namespace["report"].html.is_file()
    assert set(namespace["risk"].data_vars) >= {"relapse_incidence", "event_free_survival", "cure_probability"}


def test_notebook_runs_cell_by_cell_and_shows_its_figures(monkeypatch):
    """examples/first_hour.ipynb executed in a fresh kernel (with fewer draws and trials): no cell
    fails, the tables print readably and every plotting cell shows a figure."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("RELAPSE_MODEL_NOTEBOOK_DRAWS", "50")
    monkeypatch.setenv("RELAPSE_MODEL_NOTEBOOK_TRIALS", "100")
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")       # jupyter_core's own paths, without its warning
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(HERE / "first_hour.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(HERE)}})
    client.execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Convergence diagnostics" in text and "Odds ratio of cure" in text and "Operating characteristics" in text
    assert "RelapseModel(baseline='weibull'" in text or "RelapseModel(defaults" in text
    images = [o for o in outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.data]
    assert len(images) == 3                                  # effects, curves by risk group, calibration
    shown = "".join(o.data.get("text/plain", "") for o in outputs if o.output_type == "execute_result")
    assert "Cohort(200 patients, 2 studies" in shown

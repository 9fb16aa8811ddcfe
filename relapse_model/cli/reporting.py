"""The ``report`` and ``demo`` commands: reproducible HTML reports from a specification."""

from __future__ import annotations

from pathlib import Path

import click

from relapse_model.cli.common import (DEFAULT_MODEL, StageProgress, command_line, err, finish, force_option, json_option, out, print_json,
                                      quiet_option, records, strict_option)


def _build(spec, quiet: bool, as_json: bool, strict: bool, *, show: tuple[str, ...], force: bool = False) -> None:
    from relapse_model.report.build import build_report, n_stages

    with StageProgress(n_stages(spec), quiet or as_json) as progress:
        result = build_report(spec, step=progress.step, trial_progress=progress.trials, command=command_line(),
                              force=force)
    if not result.passed:
        err.print(f"[bold red]WARNING: the fit FAILED its convergence checks "
                  f"({', '.join(result.verdict['failed'])}); the report carries a warning banner[/bold red]")
    if as_json:
        print_json({"report": str(result.html), "folder": str(result.folder), "passed": result.passed,
                    "diagnostics": result.verdict,
                    "tables": {k: records(v) for k, v in result.tables.items() if k in show or
                               k.endswith("_operating_characteristics")},
                    "files": [str(f) for f in result.files]})
    else:
        if not quiet:
            from relapse_model.cli.views import print_report_tables
            print_report_tables(result.tables, show)
        out.print(f"report: {result.html}", markup=False)
        out.print(f"open it in a browser: file://{result.html.resolve()}", markup=False)
    finish(result.passed, strict)


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None, help="Override the spec's seed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Override the spec's output folder.")
@force_option
@quiet_option
@json_option
@strict_option
def report(spec_path: Path, seed: int | None, out_dir: Path | None, force: bool, quiet: bool, as_json: bool,
           strict: bool) -> None:
    """Build a reproducible report from a specification (reports/*.toml).

    Fits (or loads) the model, checks it, simulates the trials and writes a self-contained HTML
    page, every table as CSV, the figures and their data, the posterior and the simulations,
    and a provenance block (versions, input hashes, seed, command, diagnostics, build date).
    The same spec and seed give identical tables and figures. Counts below 5 are suppressed and
    no patient identifier appears.

    \b
    Examples:
      relapse-model report reports/demo.toml
      relapse-model report reports/demo.toml --seed 2 --out reports/build/demo_seed2 --strict
      relapse-model report my_study.toml --json > build.json
    """
    from relapse_model.report.spec import load_report_spec

    spec = load_report_spec(spec_path)
    _build(_override(spec, seed=seed, out_dir=out_dir), quiet, as_json, strict, show=("convergence",), force=force)


def _override(spec, *, seed: int | None = None, out_dir: Path | None = None, draws: int | None = None):
    update: dict = {}
    if seed is not None:
        update["seed"] = seed
    if out_dir is not None:
        update["output"] = str(out_dir.expanduser().resolve())
    if draws is not None:
        update["model"] = spec.model.model_copy(update={"draws": draws, "tune": draws})
    return spec.model_copy(update=update) if update else spec


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: reports/build/pathway; reports/build/demo with --model competing).")
@click.option("--seed", type=int, default=None, help="Override the demo spec's seed (1).")
@click.option("--draws", type=click.IntRange(min=10), default=None,
              help="Draws and tuning steps per chain (default 1000).")
@click.option("--model", "outcome", type=click.Choice(["pathway", "competing"]), default=DEFAULT_MODEL, show_default=True,
              help="pathway: the multi-state model of the course after relapse, its checks and five virtual trials "
                   "(reports/pathway.toml); competing: the one-step model and two virtual trials (reports/demo.toml).")
@force_option
@quiet_option
@json_option
@strict_option
def demo(out_dir: Path | None, seed: int | None, draws: int | None, outcome: str, force: bool, quiet: bool,
         as_json: bool, strict: bool) -> None:
    """End-to-end demo on the bundled BFM-like reference cohort (on 2 cores about 40 s, or 85 s
    with empty compile caches).

    Builds reports/pathway.toml: validates the cohort, fits the pathway model (response to
    re-induction, MRD, transplant as a time-dependent transition, cure, second relapse, death),
    checks it (state occupation against Aalen-Johansen, calibration of response, EFS and landmark
    predictions by transplant status, LOO), simulates five virtual trials (response endpoint,
    single-arm Simon design, master protocol, multi-arm, phase 2 then 3), and writes the HTML
    report, printing where it is. --model competing builds reports/demo.toml instead: the
    one-step competing-risk cure model and two virtual trials.

    \b
    Examples:
      relapse-model demo
      relapse-model demo --out /tmp/demo --seed 7
      relapse-model demo --model competing
    """
    from relapse_model.common.paths import REPORTS_DIR
    from relapse_model.report.spec import load_report_spec

    pathway = outcome == "pathway"
    spec = _override(load_report_spec(REPORTS_DIR / ("pathway.toml" if pathway else "demo.toml")), seed=seed,
                     out_dir=out_dir, draws=draws)
    if not (quiet or as_json):
        out.print("[bold]relapse-model demo[/bold]: the synthetic BFM-like reference cohort (200 patients), "
                  + ("the pathway model (response, MRD, transplant, cure), its checks and five virtual trials" if pathway else
                     "the one-step competing-risk model, its checks and two virtual trials"))
    _build(spec, quiet, as_json, strict, show=("cohort_characteristics", "convergence", "risk_profiles"), force=force)

"""What every command shares: consoles, exit codes, output options, tables and progress."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from relapse_model.common.tables import format_number

#: Exit statuses, documented in ``relapse-model --help`` and the README.
EXIT_OK, EXIT_BAD_INPUT, EXIT_DIAGNOSTICS = 0, 2, 3

#: The model ``fit`` and ``demo`` use without ``--model``: the multi-state pathway model (the
#: one-step models stay available for comparison). ``RelapseModel()`` in Python keeps the one-step
#: competing-risk model, so research scripts do not change meaning.
DEFAULT_MODEL = "pathway"

# every printed table fits 100 columns; output to a file or a pipe is laid out at that width
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 100)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def quiet_option(f: Callable) -> Callable:
    return click.option("--quiet", "-q", is_flag=True,
                        help="Print only warnings, errors and the paths written.")(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON object on stdout (for scripts); progress and warnings go to stderr.")(f)


def strict_option(f: Callable) -> Callable:
    return click.option("--strict", is_flag=True,
                        help="Exit with status 3 when the fit fails its convergence diagnostics.")(f)


def cohort_input_options(f: Callable) -> Callable:
    """``--na TOKEN`` (repeatable) and ``--columns MAP.toml``: how a cohort or patients file is
    read, for every command that reads one. The command gets ``reading``, to pass through
    :func:`reading_keywords` to :func:`relapse_model.cohort.load_cohort` or ``load_patients``."""
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        reading = ctx.params.setdefault("reading", {})
        if param.name == "na":
            reading["missing_values"] = tuple(value)
        elif value is not None:
            reading["columns"] = value
        return value

    f = click.option("--na", "na", multiple=True, metavar="TOKEN", expose_value=False, callback=callback,
                     help="Also read TOKEN as a missing value (repeatable). Blank, NA, N/A, n/a, NaN, "
                          "nan and . always are.")(f)
    return click.option("--columns", "columns", metavar="MAP.toml", type=click.Path(path_type=Path),
                        default=None, expose_value=False, callback=callback,
                        help="TOML file whose [columns] table renames the file's headers to schema "
                             "columns, e.g. \"Patient ID\" = \"patient_id\".")(f)


def reading_keywords(reading: dict[str, Any]) -> dict[str, Any]:
    """The keywords of :func:`cohort_input_options` for ``load_cohort``; a ``--na`` token that is a
    valid value is bad input named as ``--na``."""
    from relapse_model.cohort.reading import missing_value_tokens

    missing_value_tokens(reading.get("missing_values", ()), label="--na")
    return dict(reading)


def print_json(payload: dict[str, Any]) -> None:
    """One JSON object on stdout, nothing else."""
    click.echo(json.dumps(payload, indent=1, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


force_option = click.option("--force", is_flag=True,
                            help="Write into an output folder that holds other files (they are kept; only the "
                                 "package's own previous outputs are replaced).")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-ready records (NaN becomes null)."""
    return json.loads(frame.to_json(orient="records"))


def fmt(value: object) -> str:
    """A cell as printed: numbers in the one number format, missing or suppressed values blank."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def print_table(frame: pd.DataFrame, title: str | None = None) -> None:
    table = Table(title=title, title_justify="left", show_edge=False)
    for col in frame.columns:  # escape: headers such as "E[events]" are not markup
        table.add_column(escape(str(col)), justify="right" if pd.api.types.is_numeric_dtype(frame[col]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(escape(fmt(v)) for v in row))
    out.print(table)


def quiet_sampler_logs() -> None:
    """Hide PyMC's informational lines ("Initializing NUTS...", "Sampling 4 chains..."); its
    warnings still show. Used where our own progress display reports the stages."""
    import pymc  # noqa: F401 - importing pymc sets its logger to INFO, so import it first

    logging.getLogger("pymc").setLevel(logging.WARNING)


def warn_failed_fit(model, checks: pd.DataFrame | None = None) -> bool:
    """Print the convergence warning to stderr when the fit failed; return whether it passed.
    ``checks`` is ``model.check()`` when the caller already has it."""
    passed = bool((model.check() if checks is None else checks)["passed"].all())
    if not passed:
        err.print("[bold red]WARNING: this fit FAILED its convergence checks; do not use its numbers "
                  "before refitting (more draws, higher target_accept, or a simpler model)[/bold red]")
    return passed


def finish(passed: bool, strict: bool) -> None:
    """Exit 3 under ``--strict`` when the diagnostics failed."""
    if strict and not passed:
        err.print("error: diagnostics failed and --strict was given (exit status 3)", markup=False)
        sys.exit(EXIT_DIAGNOSTICS)


def command_line() -> list[str]:
    """The running command as typed: its path and every parameter given on the command line."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    words = ["relapse-model", *ctx.command_path.split()[1:]]  # the program's name, whatever invoked it
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif getattr(param, "is_flag", False):
            words.append(param.opts[0])
        else:
            words += [param.opts[0], str(value)]
    return words


def progress_bar(description: str, quiet: bool):
    """A rich progress bar on stderr as a ``progress(done, total)`` callback, and its context manager."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, disable=quiet, transient=False)
    task = bar.add_task(description, total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


class StageProgress:
    """Progress on stderr for a command made of stages: one bar over the stages, showing the one
    running and the time so far, and, while virtual trials run, a bar over the trials.

    Use as a context manager; call :meth:`step` as each stage starts and pass :meth:`trials`
    as a ``progress(done, total)`` callback.
    """

    def __init__(self, n_stages: int, quiet: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        quiet_sampler_logs()
        self._progress = Progress(TextColumn("{task.description:<42}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=err, disable=quiet)
        self._stages = self._progress.add_task("starting", total=n_stages)
        self._trials = None
        self._started = False

    def __enter__(self) -> StageProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            total = self._progress.tasks[self._stages].total
            self._progress.update(self._stages, completed=total, description="done")
        self._progress.__exit__(*exc)

    def step(self, description: str) -> None:
        if self._started:
            self._progress.advance(self._stages)
        self._started = True
        self._progress.update(self._stages, description=description)
        if self._trials is not None:  # a new stage: the trial bar belonged to the previous one
            self._progress.remove_task(self._trials)
            self._trials = None

    def trials(self, done: int, total: int) -> None:
        if self._trials is None:
            self._trials = self._progress.add_task("  trials", total=total)
        self._progress.update(self._trials, completed=done, total=total)

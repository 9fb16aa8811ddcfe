"""The ``relapse-model`` command line.

Exit codes: 0 success, 2 bad input (each problem on one line naming file, row and column),
3 diagnostics failed under ``--strict``.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from relapse_model import __version__
from relapse_model.cli.common import EXIT_BAD_INPUT, err
from relapse_model.cli.data import cohorts, stemness, validate
from relapse_model.cli.modelling import check, fit, predict
from relapse_model.cli.reporting import demo, report
from relapse_model.cli.sbc import sbc
from relapse_model.cli.trials import agents, simulate
from relapse_model.errors import ExtrapolationWarning, InputError


def _one_line_warning(message, category, *_args, **_kwargs) -> None:
    if issubclass(category, ExtrapolationWarning):
        err.print(f"warning: {message}", markup=False)
    else:
        err.print(f"warning: {category.__name__}: {message}", markup=False)


class _Group(click.Group):
    """Turns :class:`InputError` into its one-line-per-problem message and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", ExtrapolationWarning)
                warnings.showwarning = _one_line_warning      # "warning: FILE: ..." on stderr
                return super().invoke(ctx)
        except InputError as exc:
            for line in str(exc).splitlines():
                err.print(f"error: {line}", markup=False)
            sys.exit(EXIT_BAD_INPUT)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # workflow order, not alphabetical


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="relapse-model")
def main() -> None:
    """Bayesian relapse-risk modelling and virtual-trial simulation for relapsed paediatric AML.

    \b
    Examples:
      relapse-model demo
      relapse-model validate cohorts/bfm_like.csv
      relapse-model stemness expression.csv --score lsc17 --out scores.csv
      relapse-model fit cohorts/cog_like.csv --out fits/cog.nc --seed 1       # the pathway model
      relapse-model check fits/cog.nc --cohort cohorts/cog_like.csv --out checks/cog
      relapse-model predict fits/cog.nc patients.csv --horizons 12,36,60 --out predictions.csv
      relapse-model simulate reports/trials/go_cd33.toml --fit fits/cog.nc --out sim/go.nc
      relapse-model report reports/demo.toml

    \b
    Every command takes --help. Output: --quiet prints only warnings and paths; --json prints
    one JSON object on stdout for scripts; progress goes to stderr.

    \b
    Exit status:
      0  success
      2  bad input: every problem printed on one line naming file, row and column
      3  the fit failed its convergence diagnostics and --strict was given
    """


for _command in (demo, validate, cohorts, stemness, fit, check, predict, simulate, agents, report, sbc):
    main.add_command(_command)


__all__ = ["main"]

"""The ``relapse-model`` command line.

Exit codes: 0 success, 2 bad input (each problem on one line naming file, row and column).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from relapse_model import __version__
from relapse_model.errors import InputError

EXIT_BAD_INPUT = 2
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Group(click.Group):
    """Turns :class:`InputError` into its one-line-per-problem message and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            for line in str(exc).splitlines():
                err.print(f"error: {line}", markup=False)
            sys.exit(EXIT_BAD_INPUT)


def _print_table(frame: pd.DataFrame, title: str | None = None) -> None:
    table = Table(title=title, title_justify="left", show_edge=False)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if pd.api.types.is_numeric_dtype(frame[col]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row))
    out.print(table)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="relapse-model")
def main() -> None:
    """Bayesian relapse-risk modelling and virtual-trial simulation for relapsed paediatric AML.

    \b
    Examples:
      relapse-model validate cohorts/bfm_like.csv
      relapse-model stemness expression.csv --score lsc17 --out scores.csv
      relapse-model cohorts
      relapse-model demo
    """


@main.command()
@click.argument("cohort", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def validate(cohort: Path, as_json: bool) -> None:
    """Validate a cohort file (CSV, TSV or Parquet) and summarise it.

    Prints the characteristics and the count of missing optional values. On bad input prints
    every problem (file, row, column) and exits with status 2.

    \b
    Example:
      relapse-model validate cohorts/cog_like.csv
    """
    from relapse_model.cohort import load_cohort
    from relapse_model.cohort.summary import missing_table, summary_table

    c = load_cohort(cohort)
    summary, missing = summary_table(c), missing_table(c)
    if as_json:
        out.print_json(json.dumps({"file": str(cohort), "valid": True, "patients": len(c),
                                   "summary": dict(zip(summary.characteristic, summary.value)),
                                   "missing": dict(zip(missing.column, missing.missing.astype(int))),
                                   "extra_columns": c.extra_columns}))
        return
    out.print(f"{cohort}: valid, {len(c)} patients")
    _print_table(summary, "Characteristics")
    _print_table(missing[missing["missing"] > 0], "Missing optional values (kept missing, not dropped)")
    if c.extra_columns:
        out.print(f"columns outside the schema, kept but unused: {', '.join(c.extra_columns)}")


@main.command()
@click.argument("expression", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--score", type=click.Choice(["lsc17", "plsc6"]), default="lsc17", show_default=True)
@click.option("--reference", type=float, default=None,
              help="Fixed cut-off for the high/low call (default: the cohort median).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write sample, score and high/low call as CSV.")
def stemness(expression: Path, score: str, reference: float | None, out_path: Path | None) -> None:
    """Compute LSC17 or pLSC6 from a log2-normalised expression table.

    The table may have genes as rows (first column: gene symbols) or genes as columns (first
    column: sample ids). Old gene symbols KIAA0125, NGFRAP1 and GPR56 are accepted.

    \b
    Example:
      relapse-model stemness expression.csv --score plsc6 --reference 2.1 --out plsc6.csv
    """
    from relapse_model.scores import call_high, read_expression, stemness_score

    values = stemness_score(read_expression(expression), score, source=str(expression))
    result = pd.DataFrame({"sample": values.index, score: values.to_numpy(),
                           f"{score}_high": call_high(values, reference).to_numpy()})
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        result.to_csv(out_path, index=False, lineterminator="\n")
        out.print(f"wrote {len(result)} {score.upper()} scores to {out_path}")
    else:
        out.print(result.to_csv(index=False, lineterminator="\n"), end="", markup=False)


@main.command()
@click.option("--regenerate", is_flag=True, help="Rewrite the cohorts and their data cards from their specs.")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of cohort specifications (default: the bundled cohorts/).")
def cohorts(regenerate: bool, folder: Path | None) -> None:
    """List the bundled reference cohorts and their data cards (or regenerate them).

    \b
    Examples:
      relapse-model cohorts
      relapse-model cohorts --regenerate
    """
    from relapse_model.cohort.bundled import bundled_specs, cohorts_dir
    from relapse_model.cohort.cards import write_cohort

    folder = folder or cohorts_dir()
    specs = bundled_specs(folder)
    if not specs:
        raise InputError.single(str(folder), "no cohort specifications (*.toml) found")
    for spec in specs:
        if regenerate:
            csv_path, card_path = write_cohort(spec, folder)
            out.print(f"wrote {csv_path} and {card_path}")
            continue
        card = folder / f"{spec.name}.md"
        out.print(f"[bold]{spec.name}[/bold]: {spec.title}; {spec.n} patients, seed {spec.seed}")
        out.print(f"  file {folder / (spec.name + '.csv')}, data card {card}")
        out.print(f"  resembles {spec.resembles}", markup=False)


@main.command()
@click.option("--cohort", "name", default="bfm_like", show_default=True, help="Bundled cohort to use.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/build/demo"), show_default=True)
def demo(name: str, out_dir: Path) -> None:
    """End-to-end demo on a bundled reference cohort.

    Validates and summarises the cohort and writes a Kaplan-Meier / cumulative-incidence figure.
    """
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.cohort.summary import missing_table, summary_table
    from relapse_model.report.figures import outcome_figure

    c = load_bundled(name)
    out.print(f"[bold]relapse-model demo[/bold] on the synthetic reference cohort '{name}' ({c.source})")
    _print_table(summary_table(c), "Characteristics")
    _print_table(missing_table(c).query("missing > 0"), "Missing optional values (kept missing, not dropped)")
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = outcome_figure(c, out_dir / f"{name}_outcomes.png")
    summary_path = out_dir / f"{name}_summary.csv"
    summary_table(c).to_csv(summary_path, index=False, lineterminator="\n")
    out.print(f"wrote {figure} and {summary_path}")


if __name__ == "__main__":  # pragma: no cover
    main()

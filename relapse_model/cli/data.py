"""Commands on input data: ``validate``, ``stemness`` and ``cohorts``."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from relapse_model.cli.common import (cohort_input_options, json_option, out, print_json, print_table, quiet_option,
                                      reading_keywords, records)
from relapse_model.errors import InputError


@click.command()
@click.argument("cohort", type=click.Path(path_type=Path))
@cohort_input_options
@json_option
@quiet_option
def validate(cohort: Path, reading: dict, as_json: bool, quiet: bool) -> None:
    """Validate a cohort file (CSV, TSV or Parquet) and summarise it.

    Prints the characteristics and the count of missing optional values. On bad input prints
    every problem (file, row, column) and exits with status 2; with --json the problems are
    also printed on stdout as {"ok": false, "errors": [{"file", "row", "column", "message"}]}.

    \b
    Examples:
      relapse-model validate cohorts/cog_like.csv
      relapse-model validate my_cohort.parquet --json
      relapse-model validate from_r.csv --na "not done" --columns my_headers.toml
    """
    from relapse_model.cohort import load_cohort
    from relapse_model.cohort.summary import missing_table, not_recorded, summary_table, summary_values

    try:
        c = load_cohort(cohort, **reading_keywords(reading))
    except InputError as exc:
        if as_json:
            print_json({"ok": False, "file": str(cohort),
                        "errors": [{"file": i.source, "row": i.row, "column": i.column, "message": i.message}
                                   for i in exc.issues]})
        raise
    missing, absent = missing_table(c), not_recorded(c)
    if as_json:
        print_json({"ok": True, "file": str(cohort), "valid": True, "patients": len(c),
                    "summary": summary_values(c, spread="iqr"),
                    "missing": dict(zip(missing.column, missing.missing.astype(int).tolist())),
                    "not_recorded": absent, "extra_columns": c.extra_columns})
        return
    out.print(f"{cohort}: valid, {len(c)} patients", markup=False)
    if quiet:
        return
    print_table(summary_table(c, spread="iqr"), "Characteristics")
    print_table(missing[missing["missing"] > 0], "Missing optional values (kept missing, not dropped)")
    if absent:
        out.print(f"not recorded (no such column in the file): {', '.join(absent)}", markup=False)
    if c.extra_columns:
        out.print(f"columns outside the schema, kept but unused: {', '.join(c.extra_columns)}", markup=False)


@click.command()
@click.argument("expression", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--score", type=click.Choice(["lsc17", "plsc6"]), default="lsc17", show_default=True)
@click.option("--reference", type=float, default=None,
              help="Fixed cut-off for the high/low call (default: the cohort median).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write sample, score and high/low call as CSV.")
@json_option
@quiet_option
def stemness(expression: Path, score: str, reference: float | None, out_path: Path | None, as_json: bool,
             quiet: bool) -> None:
    """Compute LSC17 or pLSC6 from a log2-normalised expression table.

    The table may have genes as rows (first column: gene symbols) or genes as columns (first
    column: sample ids). Old gene symbols KIAA0125, NGFRAP1 and GPR56 are accepted.

    \b
    Examples:
      relapse-model stemness expression.csv --score plsc6 --reference 2.1 --out plsc6.csv
      relapse-model stemness expression.csv --json
    """
    from relapse_model.scores import call_high, read_expression, stemness_score

    values = stemness_score(read_expression(expression), score, source=str(expression))
    result = pd.DataFrame({"sample": values.index, score: values.to_numpy(),
                           f"{score}_high": call_high(values, reference).to_numpy()})
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        result.to_csv(out_path, index=False, lineterminator="\n")
    if as_json:
        print_json({"score": score, "file": str(out_path) if out_path else None, "samples": records(result)})
    elif out_path is not None:
        out.print(f"wrote {len(result)} {score.upper()} scores to {out_path}", markup=False)
    elif not quiet:
        out.print(result.to_csv(index=False, lineterminator="\n"), end="", markup=False)


@click.command()
@click.option("--regenerate", is_flag=True, help="Rewrite the cohorts and their data cards from their specs.")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of cohort specifications (default: the bundled cohorts/).")
@json_option
def cohorts(regenerate: bool, folder: Path | None, as_json: bool) -> None:
    """List the bundled reference cohorts and their data cards (or regenerate them).

    \b
    Examples:
      relapse-model cohorts
      relapse-model cohorts --regenerate
    """
    from relapse_model.common.paths import cohorts_dir
    from relapse_model.reference.cards import write_cohort
    from relapse_model.reference.spec import bundled_specs

    folder = folder or cohorts_dir()
    specs = bundled_specs(folder)
    if not specs:
        raise InputError.single(str(folder), "no cohort specifications (*.toml) found")
    listing = []
    for spec in specs:
        if regenerate:
            csv_path, card_path = write_cohort(spec, folder)
            listing.append({"name": spec.name, "file": str(csv_path), "data_card": str(card_path)})
            if not as_json:
                out.print(f"wrote {csv_path} and {card_path}", markup=False)
            continue
        card = folder / f"{spec.name}.md"
        listing.append({"name": spec.name, "title": spec.title, "patients": spec.n, "seed": spec.seed,
                        "file": str(folder / (spec.name + ".csv")), "data_card": str(card),
                        "resembles": spec.resembles})
        if not as_json:
            out.print(f"[bold]{spec.name}[/bold]: {spec.title}; {spec.n} patients, seed {spec.seed}")
            out.print(f"  file {folder / (spec.name + '.csv')}, data card {card}", markup=False)
            out.print(f"  resembles {spec.resembles}", markup=False)
    if as_json:
        print_json({"cohorts": listing})

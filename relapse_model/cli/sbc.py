"""The ``sbc`` command (``make sbc``): simulation-based calibration of the default model."""

from __future__ import annotations

from pathlib import Path

import click

from relapse_model.cli.common import out, print_table, progress_bar, quiet_option


@click.command()
@click.option("--replications", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/build/sbc"),
              show_default=True)
@click.option("--model", "outcome", type=click.Choice(["competing", "pathway"]), default="competing", show_default=True,
              help="The one-step competing-risk cure model, or the pathway model (about 2 minutes a replication).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Replications fitted at once, one process each; the ranks are the same for any number.")
@quiet_option
def sbc(replications: int, seed: int, out_dir: Path, outcome: str, workers: int, quiet: bool) -> None:
    """Simulation-based calibration on the BFM-like cohort's covariates (about 20 s a replication).

    Draws parameters from the priors, simulates outcomes, refits, and ranks each true value among
    its posterior draws; writes the ranks, a uniformity table and the rank-ECDF figure to OUT.

    \b
    Examples:
      relapse-model sbc --replications 100
      relapse-model sbc --replications 20 --seed 3 --out /tmp/sbc
      relapse-model sbc --replications 100 --workers 4      # on a machine with 8 cores
      relapse-model sbc --model pathway --replications 20 --out /tmp/sbc_pathway
    """
    from relapse_model.checks.sbc import run_pathway_sbc, run_sbc
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.report.figures import sbc_figure

    bar, progress = progress_bar("SBC replications", quiet)
    with bar:
        run = run_pathway_sbc if outcome == "pathway" else run_sbc
        result = run(load_bundled("bfm_like"), replications, seed=seed, draws=500, tune=500, chains=2,
                     progress=progress, workers=workers)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.ranks.to_csv(out_dir / "sbc_ranks.csv", index=False)
    table = result.uniformity()
    table.to_csv(out_dir / "sbc_uniformity.csv", index=False)
    sbc_figure(result, out_dir / "sbc_ecdf.png")
    if not quiet:
        print_table(table, "Rank uniformity per parameter")
    out.print(f"pooled chi-square p = {result.pooled_p_value():.3f}; divergent replications: "
              f"{int((result.divergences > 0).sum())} of {len(result.divergences)}; written to {out_dir}", markup=False)

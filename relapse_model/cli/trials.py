"""The ``simulate`` command: virtual trials driven by a fitted posterior."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from relapse_model.cli.common import (err, finish, json_option, out, print_json, print_table, progress_bar, quiet_option,
                                      records, strict_option, warn_failed_fit)
from relapse_model.common.output import OutputLock, atomic_file, check_output_file
from relapse_model.errors import InputError


def print_oc(table: pd.DataFrame, title: str = "Operating characteristics") -> None:
    view = table.drop(columns=["meaning"], errors="ignore").rename(columns={
        "E[sample size]": "E[N]", "E[duration, months]": "E[months]", "stopped early": "early stop"})
    for col in view.columns:
        if pd.api.types.is_float_dtype(view[col]):
            view[col] = view[col].map(lambda v: f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}")
    print_table(view, title)


@click.command()
@click.argument("trial", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fit", "fit_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="A fit of the competing-risk model (relapse-model fit ... --model competing).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True,
              help="NetCDF file of per-trial results (a folder with --sweep).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-trials", type=click.IntRange(min=1), default=None, help="Override the spec's n_trials.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local dask worker processes.")
@click.option("--scheduler", default=None, help="Address of an existing dask scheduler (instead of --workers).")
@click.option("--sweep", is_flag=True, help="Run the grid in the spec's [sweep] table, checkpointed; rerun to resume.")
@quiet_option
@json_option
@strict_option
def simulate(trial: Path, fit_path: Path, out_path: Path, seed: int, n_trials: int | None, workers: int,
             scheduler: str | None, sweep: bool, quiet: bool, as_json: bool, strict: bool) -> None:
    """Simulate virtual trials of adding (or leaving out) an agent, driven by a fitted posterior.

    Each trial uses one posterior draw and one draw of the agent effects, so model and effect
    uncertainty propagate. Prints power (effects at their prior medians), assurance (effects
    from their priors) and type-I error (no effect), expected sample size and duration. The
    result is identical for any --workers.

    \b
    Examples:
      relapse-model simulate reports/trials/go_cd33.toml --fit fits/cog.nc --out sim/go.nc --seed 1
      relapse-model simulate reports/trials/go_cd33.toml --fit fits/cog.nc --out sim/go_sweep \\
          --sweep --workers 2
      relapse-model simulate reports/trials/menin_kmt2a.toml --fit fits/cog.nc --out sim/menin.nc --json
    """
    from relapse_model.models import RelapseModel
    from relapse_model.simulate.engine import operating_characteristics, simulate_trials, type1_warning
    from relapse_model.simulate.spec import load_trial_spec

    spec = load_trial_spec(trial)
    if not sweep:
        out_path = check_output_file(out_path)
        if out_path.suffix.lower() != ".nc":
            raise InputError.single("--out", f"'{out_path}' must be a NetCDF file ending in .nc (the operating "
                                    "characteristics are written beside it as .csv)")
    model = RelapseModel.load(fit_path)
    passed = warn_failed_fit(model)
    bar, progress = progress_bar("simulating" if not sweep else "sweep", quiet or as_json)
    with OutputLock(out_path), bar:      # a second writer of the same output is refused at once
        if sweep:
            from relapse_model.simulate.sweep import run_sweep
            table = run_sweep(model, spec, out_path, seed=seed, n_trials=n_trials, workers=workers,
                              scheduler=scheduler, progress=progress)
        else:
            ds = simulate_trials(model, spec, seed=seed, n_trials=n_trials, workers=workers,
                                 scheduler=scheduler, progress=progress)
            table = operating_characteristics(ds)
            with atomic_file(out_path) as partial:
                ds.to_netcdf(partial, engine="h5netcdf")
            with atomic_file(out_path.with_suffix(".csv")) as partial:
                table.to_csv(partial, index=False, lineterminator="\n")
    warning = type1_warning(table)
    if warning:
        err.print(f"[bold red]WARNING: {warning}[/bold red]")
    written = [str(out_path)] + ([] if sweep else [str(out_path.with_suffix(".csv"))])
    if as_json:
        print_json({"trial": spec.name, "files": written, "fit_passed_diagnostics": passed,
                    "operating_characteristics": records(table)})
    else:
        if not quiet:
            print_oc(table)
        out.print(f"wrote {' and '.join(written)}", markup=False)
    finish(passed, strict)

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
    from relapse_model.report.readable import oc_view
    print_table(oc_view(table), title)


@click.command()
@click.argument("trial", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fit", "fit_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="A fit of the competing-risk model (--model competing) or of the pathway model "
                   "(--model pathway: response endpoints, single-arm designs).")
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
    from their priors) and type-I error (no effect) beside the nominal alpha, expected sample
    size and duration. TRIAL is a two-arm trial, or (with a pathway fit) a single-arm design
    (kind = "single_arm"), a multi-arm trial ("multi_arm"), a master protocol
    ("master_protocol") or a phase 2 -> phase 3 programme ("programme"). The result is
    identical for any --workers.

    \b
    Examples:
      relapse-model simulate reports/trials/go_cd33.toml --fit fits/cog.nc --out sim/go.nc --seed 1
      relapse-model simulate reports/trials/pedal_master.toml --fit fits/pathway.nc --out sim/pedal.nc
      relapse-model simulate reports/trials/go_cd33.toml --fit fits/cog.nc --out sim/go_sweep \\
          --sweep --workers 2
      relapse-model simulate reports/trials/menin_kmt2a.toml --fit fits/cog.nc --out sim/menin.nc --json
    """
    from relapse_model.models import RelapseModel
    from relapse_model.simulate.engine import operating_characteristics, precheck, simulate_trials, type1_warning
    from relapse_model.simulate.spec import load_trial_spec

    spec = load_trial_spec(trial)
    if not sweep:
        out_path = check_output_file(out_path)
        if out_path.suffix.lower() != ".nc":
            raise InputError.single("--out", f"'{out_path}' must be a NetCDF file ending in .nc (the operating "
                                    "characteristics are written beside it as .csv)")
    model = RelapseModel.load(fit_path)
    precheck(model, spec)                   # refuse a spec the fit cannot run before anything is shown
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
    if not sweep and not (quiet or as_json) and ds.attrs.get("design_kind") == "master_protocol":
        import json
        shares = ", ".join(f"{k} {v:.0%}" for k, v in json.loads(ds.attrs["routing_shares"]).items())
        out.print(f"virtual patients: {ds.attrs['population']}; routed to the subtrials: {shares}", markup=False)
    elif not sweep and not (quiet or as_json):
        out.print(f"virtual patients: {ds.attrs['population']}; endpoint: {ds.attrs['endpoint']}", markup=False)
        if getattr(getattr(spec, "analysis", None), "borrowing", None) is not None:
            from relapse_model.report.design import borrowing_text
            out.print(f"control prior: {borrowing_text(spec, ds.attrs)}", markup=False)
        if ds.attrs.get("design_kind") == "single_arm":
            source = ("the model's standard-care rate, 95% interval "
                      f"{ds.attrs['standard_care_rate_lower']:.3f}-{ds.attrs['standard_care_rate_upper']:.3f}"
                      if ds.attrs["p0_source"] == "model" else "the spec")
            out.print(f"design: {ds.attrs['design']}; p0 = {ds.attrs['p0']:.3f} (from {source}), "
                      f"p1 = {ds.attrs['p1']:.3f}", markup=False)
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


@click.command()
@click.option("--fit", "fit_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="A fit of the pathway model (relapse-model fit ... --model pathway).")
@click.option("--cohort", "cohort_name", default="bfm_like", show_default=True,
              help="Cohort (bundled name or file) whose target groups are used.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the agent-effect draws.")
@json_option
def agents(fit_path: Path, cohort_name: str, seed: int, as_json: bool) -> None:
    """What each agent's [pathway] prior implies: the response rate (CR2 / CRi) in its target group
    with standard re-induction (posterior) and with the agent added (prior predictive), beside
    the published rate the prior came from.

    \b
    Examples:
      relapse-model agents --fit fits/pathway.nc
      relapse-model agents --fit fits/pathway.nc --cohort cohorts/cog_like.csv --json
    """
    from relapse_model.cohort.bundled import bundled_path
    from relapse_model.cohort.cohort import load_cohort
    from relapse_model.models import RelapseModel
    from relapse_model.simulate.agent_response import agent_response_rates

    model = RelapseModel.load(fit_path)
    if not model.spec.pathway:
        raise InputError.single(str(fit_path), "agents needs a fit of the pathway model (--model pathway)")
    path = cohort_name if "/" in cohort_name or cohort_name.endswith((".csv", ".tsv", ".parquet")) else \
        bundled_path(cohort_name)
    table = agent_response_rates(model, load_cohort(path), seed=seed)
    if as_json:
        print_json({"fit": str(fit_path), "cohort": str(path), "agents": records(table)})
        return

    def interval(prefix: str, row) -> str:
        lower, upper = (row[f"{prefix} lower"], row[f"{prefix} upper"])
        return f"{row[prefix if prefix != 'with agent' else 'with agent (prior predictive)']:.0%} " \
               f"({lower:.0%}-{upper:.0%})"

    view = pd.DataFrame({
        "agent": table["agent"], "target n": table["patients"],
        "standard care": [interval("standard care", r) for _, r in table.iterrows()],
        "with agent": [interval("with agent", r) for _, r in table.iterrows()],
        "published": [f"{p:.0%}" if pd.notna(p) else "" for p in table["published"]],
    })
    print_table(view, f"Response rate (CR2 / CRi) in each agent's target group of {cohort_name}")
    out.print("published: the figure each prior came from (for gemtuzumab ozogamicin and revumenib a single-agent "
              "rate, not the add-on simulated).", markup=False)

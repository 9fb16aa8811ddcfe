"""Build a report from its specification: fit, check, simulate, then write HTML, CSV and data.

Layout of the output folder::

    report.html          self-contained page (figures embedded, no external resources)
    provenance.json      versions, input hashes, seed, command, diagnostics, build date
    manifest.json        SHA-256 of every table, figure and figure-data file
    tables/*.csv         every table of the page (small counts suppressed)
    figures/*.png        every figure of the page
    figures/data/*.csv   the numbers behind each figure
    data/fit.nc          the posterior (holds per-patient observed times: do not share)
    data/trial_*.nc      per-trial simulation results

The same spec and seed give identical tables, figures and figure data (``manifest.json``);
only ``report.html``, ``provenance.json`` and the NetCDF creation stamps carry the build date.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.checks.calibration import calibration_figure
from relapse_model.checks.model_checks import posterior_predictive
from relapse_model.checks.ppc import ppc_figure
from relapse_model.cohort.bundled import bundled_path
from relapse_model.cohort.cohort import Cohort, load_cohort
from relapse_model.cohort.schema import COLUMNS
from relapse_model.errors import InputError, Issue
from relapse_model.report import content
from relapse_model.report.figures import arm_curves_figure, forest_figure, outcome_figure, profile_figure
from relapse_model.report.html import Figure, Section, Table, render_report
from relapse_model.report.provenance import file_sha256, provenance
from relapse_model.report.spec import ReportSpec, load_report_spec
from relapse_model.simulate.agents import available_agents
from relapse_model.simulate.spec import load_trial_spec

Step = Callable[[str], None]
TrialProgress = Callable[[int, int], None]


@dataclass
class ReportResult:
    """What :func:`build_report` wrote."""

    folder: Path
    html: Path
    passed: bool
    verdict: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def _cohort_path(spec: ReportSpec, name: str) -> Path:
    looks_like_file = "/" in name or Path(name).suffix.lower() in (".csv", ".tsv", ".txt", ".parquet")
    return spec.resolve(name) if looks_like_file else bundled_path(name)


def load_report_cohort(spec: ReportSpec) -> tuple[Cohort, list[Path]]:
    """The spec's cohort files, validated and pooled (ids must be unique across files)."""
    paths = [_cohort_path(spec, p) for p in spec.cohort.paths]
    cohorts = [load_cohort(p) for p in paths]
    if len(cohorts) == 1:
        return cohorts[0], paths
    seen: dict[str, Path] = {}
    issues = []
    for path, cohort in zip(paths, cohorts):
        for row, pid in enumerate(cohort.data["patient_id"].astype(str), start=2):
            if pid in seen:
                issues.append(Issue(str(path), row, "patient_id", f"'{pid}' is also in {seen[pid].name}: "
                                    "ids must be unique across the pooled files"))
            seen.setdefault(pid, path)
    if issues:
        raise InputError(issues)
    schema = [c.name for c in COLUMNS]
    pooled = pd.concat([c.data[schema] for c in cohorts], ignore_index=True)
    return Cohort.from_frame(pooled, " + ".join(p.name for p in paths)), paths


def _model(spec: ReportSpec, cohort: Cohort):
    from relapse_model.models import RelapseModel
    from relapse_model.models.model import DEFAULT_PRIORS

    m = spec.model
    if m.fit is not None:
        return RelapseModel.load(spec.resolve(m.fit), cohort=cohort)
    priors = spec.resolve(m.priors) if m.priors else DEFAULT_PRIORS
    model = RelapseModel(priors, outcome=m.outcome, endpoint=m.endpoint, baseline=m.baseline, cure=m.cure,
                         stemness=None if m.stemness == "none" else m.stemness)
    return model.fit(cohort, draws=m.draws, tune=m.tune, chains=m.chains, random_seed=spec.seed,
                     target_accept=m.target_accept, progressbar=False)


class _Writer:
    """Writes tables and figures into the report folder and remembers them for the page."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[Path] = []
        self.tables: dict[str, pd.DataFrame] = {}

    def table(self, key: str, title: str, frame: pd.DataFrame, note: str = "") -> Table:
        path = self.folder / "tables" / f"{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, lineterminator="\n")
        self.files.append(path)
        self.tables[key] = frame
        return Table(key, title, frame, note, path.relative_to(self.folder).as_posix())

    def figure_data(self, key: str, frame: pd.DataFrame) -> None:
        path = self.folder / "figures" / "data" / f"{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, lineterminator="\n")
        self.files.append(path)

    def figure(self, path: Path, title: str, caption: str = "") -> Figure:
        self.files.append(path)
        return Figure(title, caption, path)


def _ppc_data(ds: xr.Dataset) -> pd.DataFrame:
    curves = [v for v in ds.data_vars if "time" in ds[v].dims]
    return ds[curves].to_dataframe().reset_index()


def _shown_groups(ds: xr.Dataset, min_count: int) -> xr.Dataset:
    keep = (ds["n_patients"] >= min_count).to_numpy()
    return ds.isel(group=np.flatnonzero(keep))


#: Stages of :func:`build_report` before and after the trials (validate, fit, profiles, PPC,
#: calibration; write), each announced through its ``step`` callback.
_FIXED_STAGES = 6


def n_stages(spec: ReportSpec) -> int:
    """How many times :func:`build_report` calls ``step`` for this spec (for progress bars)."""
    return _FIXED_STAGES + len(spec.trials)


def build_report(spec: ReportSpec | str | Path, *, model=None, command: list[str] | None = None,
                 step: Step | None = None, trial_progress: TrialProgress | None = None) -> ReportResult:
    """Build the report a spec describes.

    Parameters
    ----------
    spec : ReportSpec or path
        The specification (``reports/*.toml``) or its path.
    model : RelapseModel, optional
        An already fitted model to report on instead of fitting (it must have been fitted to
        the spec's cohort).
    command : list of str, optional
        The command line to record in the provenance (default ``sys.argv``).
    step : callable, optional
        Called with a short description as each stage starts.
    trial_progress : callable, optional
        ``progress(done, total)`` during each trial simulation.

    Returns
    -------
    ReportResult
    """
    if not isinstance(spec, ReportSpec):
        spec = load_report_spec(spec)
    say = step or (lambda _msg: None)
    folder = spec.output_dir
    for stale in ("tables", "figures", "data"):
        shutil.rmtree(folder / stale, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    w = _Writer(folder)
    mc = spec.min_count
    trials = [(t, load_trial_spec(spec.resolve(t.spec)), spec.resolve(t.spec)) for t in spec.trials]

    say("validating the cohort")
    cohort, cohort_paths = load_report_cohort(spec)
    sections: list[Section] = []
    tables = content.cohort_tables(cohort, mc)
    fig_dir = folder / "figures"
    sections.append(Section("cohort", "Cohort", [
        w.table("cohort_characteristics", "Characteristics", tables["characteristics"],
                f"Counts from 1 to {mc - 1} are shown as <{mc}."),
        w.table("cohort_missing_values", "Missing optional values (kept missing, never dropped)",
                tables["missing_values"]),
        w.figure(outcome_figure(cohort, fig_dir / "cohort_outcomes.png"), "Outcomes after first relapse",
                 "Kaplan-Meier estimates with 95% log-log intervals and Aalen-Johansen cumulative incidence "
                 "(scikit-survival); risk groups with fewer than 5 patients are not drawn."),
    ]))

    m = spec.model
    say(f"fitting the model ({m.chains} chains x {m.tune + m.draws:,} iterations)"
        if model is None and m.fit is None else "loading the fit")
    model = model or _model(spec, cohort)
    fit_path = model.save(folder / "data" / "fit.nc")
    w.files.append(fit_path)
    conv, loo, verdict = content.diagnostics(model)
    effects = content.effect_table(model)
    w.figure_data("effects_forest", effects)
    sections.append(Section("model", "Model and effects", [
        w.table("model_configuration", "Configuration",
                pd.DataFrame({"setting": list(model.config), "value": [json.dumps(v) if not isinstance(v, str) else v
                                                                       for v in model.config.values()]})),
        w.figure(forest_figure(effects, fig_dir / "effects_forest.png"), "Effects: prior beside posterior",
                 "Odds ratios of cure and hazard ratios of relapse and of death without relapse, "
                 "posterior median with 95% credible interval (blue) and the prior's median and 95% interval (grey)."),
        w.table("effects", "Effects (posterior and prior)", effects),
    ]))

    say("predicting risk by profile")
    h = spec.checks.profile_horizon
    profiles = content.risk_profiles(model, cohort, h, mc)
    w.figure_data("risk_profiles", profiles)
    sections.append(Section("profiles", "Risk by profile", [
        w.table("risk_profiles", f"Predicted and observed risk at {h:g} months by cytogenetic risk group and MRD",
                profiles, "Aggregates over each profile's patients; no per-patient predictions are shown. "
                f"Profiles with fewer than {mc} patients are suppressed."),
        w.figure(profile_figure(profiles, fig_dir / "risk_profiles.png", h, content.survival_label(model)),
                 "Predicted and observed survival by profile"),
    ]))

    say("posterior-predictive checks")
    ppc = posterior_predictive(model, cohort, n_replicates=spec.checks.replicates, seed=spec.seed)
    check_items = [w.table("convergence", "Convergence diagnostics", conv),
                   w.table("loo", "PSIS-LOO", loo, verdict["pareto_k_note"])]
    for name, ds in ppc.items():
        ds = _shown_groups(ds, mc)
        w.figure_data(f"ppc_{name}", _ppc_data(ds))
        check_items.append(w.figure(ppc_figure(ds, fig_dir / f"ppc_{name}.png"),
                                    f"Posterior-predictive check: {name.replace('_', ' ')}",
                                    "Observed curves (black) against replicates censored like the data."))
    check_items.append(w.table("ppc_summary", "Posterior-predictive summary", content.ppc_table(ppc, mc)))
    say("calibration")
    summary, cal_tables = content.calibration_tables(model, cohort, spec.checks.horizons, mc)
    check_items.append(w.table("calibration_summary", "Calibration (slope 1 and intercept 0 when calibrated)",
                               summary))
    for key, table in cal_tables.items():
        kind, horizon = key.split("_")
        w.figure_data(f"calibration_{key}", table)
        numeric = table.assign(n=pd.to_numeric(table["n"], errors="coerce"))
        check_items.append(w.figure(calibration_figure(numeric, fig_dir / f"calibration_{key}.png"),
                                    f"Calibration: {'relapse' if kind == 'relapse' else content.survival_label(model)}, "
                                    f"{horizon}"))
    sections.append(Section("checks", "Model checks", check_items))

    inputs: dict[str, Path] = {f"cohort {p.name}": p for p in cohort_paths}
    if model.priors.path:
        inputs["priors"] = Path(model.priors.path)
    if spec.model.fit:
        inputs["fit"] = spec.resolve(spec.model.fit)
    agent_files = available_agents()
    for i, (part, trial, trial_path) in enumerate(trials):
        say(f"simulating {trial.name}")
        inputs[f"trial {trial.name}"] = trial_path
        inputs |= {f"agent {a}": agent_files[a] for a in trial.agents}
        ds, oc, sensitivity = content.trial_results(model, trial, seed=spec.seed, n_trials=part.n_trials,
                                                    variants=spec.agent_prior_variants, progress=trial_progress)
        path = folder / "data" / f"trial_{trial.name}.nc"
        ds.to_netcdf(path, engine="h5netcdf")
        w.files.append(path)
        curves = ds[[v for v in ds.data_vars if str(v).startswith("arm_")]]
        w.figure_data(f"trial_{trial.name}_curves", curves.to_dataframe().reset_index())
        n = ds.sizes["trial"]
        sections.append(Section(f"trial_{trial.name}", f"Virtual trial: {trial.title}", [
            w.figure(arm_curves_figure(curves, fig_dir / f"trial_{trial.name}_curves.png", trial.title),
                     "Model-based curves per arm",
                     "Eligible population; each band pairs posterior draws with draws of the agent effects."),
            w.table(f"trial_{trial.name}_operating_characteristics",
                    f"Operating characteristics ({n:,} simulated trials per scenario)", oc,
                    "assurance: agent effects drawn from their priors; power: effects at their prior medians; "
                    "no_effect: type-I error."),
            w.table(f"trial_{trial.name}_agent_prior_sensitivity", "Sensitivity of assurance to the agent-effect prior",
                    sensitivity, "Ratios as median (95% interval). Every row uses the same seed, so differences "
                    "come from the prior, not from Monte Carlo noise."),
        ]))

    say("writing the report")
    prov = provenance(inputs, spec.seed, verdict, command)
    manifest = {p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(w.files) if p.suffix != ".nc"}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    (folder / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n", encoding="utf-8")
    html = folder / "report.html"
    html.write_text(render_report(spec.title, sections, verdict, prov, folder), encoding="utf-8")
    return ReportResult(folder, html, bool(verdict["passed"]), verdict,
                        [*w.files, folder / "manifest.json", folder / "provenance.json", html], w.tables)

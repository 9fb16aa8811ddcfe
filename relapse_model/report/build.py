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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.checks.model_checks import CheckResults, CheckSpec, calibration_summary, n_check_stages, run_checks
from relapse_model.cohort.bundled import bundled_path
from relapse_model.cohort.cohort import Cohort, load_cohort
from relapse_model.cohort.schema import COLUMNS
from relapse_model.cohort.summary import km_at
from relapse_model.common.intervals import expand_estimates
from relapse_model.models.convergence import convergence_view
from relapse_model.models.effects import effect_view
from relapse_model.common.progress import progress_bar
from relapse_model.common.output import OutputLock, check_output_folder, publish_folder, staging_folder
from relapse_model.errors import InputError, Issue
from relapse_model.report import content
from relapse_model.report.design import design_table, plain_language
from relapse_model.report.labels import setting_text
from relapse_model.report.figures import (arm_curves_figure, calibration_grid_figure, forest_figure, landmark_figure,
                                          occupation_figure, outcome_figure, ppc_figure, profile_figure,
                                          response_calibration_figure)
from relapse_model.report.html import Figure, Section, Table, render_report
from relapse_model.report.privacy import suppress_counts
from relapse_model.report.provenance import file_sha256, provenance
from relapse_model.report.spec import ReportSpec, TrialPart, load_report_spec
from relapse_model.simulate.agents import available_agents
from relapse_model.simulate.engine import type1_warning
from relapse_model.simulate.spec import TrialSpec, load_trial_spec

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

    m = spec.model
    if m.fit is not None:
        return RelapseModel.load(spec.resolve(m.fit), cohort=cohort)
    model = RelapseModel(spec.resolve(m.priors) if m.priors else None, m.model_spec())
    return model.fit(cohort, m.sampler_spec(spec.seed), progressbar=False)


class _Writer:
    """Writes tables and figures into the report folder and remembers them for the page."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[Path] = []
        self.tables: dict[str, pd.DataFrame] = {}

    def table(self, key: str, title: str, frame: pd.DataFrame, note: str = "", shown: pd.DataFrame | None = None) -> Table:
        """Write ``frame`` as CSV; the page shows ``shown`` (readable values) when given."""
        path = self.folder / "tables" / f"{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, lineterminator="\n")
        self.files.append(path)
        self.tables[key] = frame
        return Table(key, title, frame, note, path.relative_to(self.folder).as_posix(), shown)

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
    return expand_estimates(ds[curves], mean_as_name=False).to_dataframe().reset_index()


def _shown_groups(ds: xr.Dataset, min_count: int) -> xr.Dataset:
    keep = (ds["n_patients"] >= min_count).to_numpy()
    return ds.isel(group=np.flatnonzero(keep))


@dataclass
class _Build:
    """The state a report build passes from stage to stage."""

    spec: ReportSpec
    writer: _Writer
    say: Step
    trial_progress: TrialProgress | None
    model: Any = None
    cohort: Cohort | None = None
    cohort_paths: list[Path] = field(default_factory=list)
    checks: CheckResults | None = None
    verdict: dict[str, Any] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)
    inputs: dict[str, Path] = field(default_factory=dict)
    #: the page's summary: one or two plain sentences per stage, shown at the top
    summary: list[str] = field(default_factory=list)

    @property
    def fig_dir(self) -> Path:
        return self.writer.folder / "figures"


def _cohort_stage(b: _Build) -> None:
    b.cohort, b.cohort_paths = load_report_cohort(b.spec)
    w, mc = b.writer, b.spec.min_count
    tables = content.cohort_tables(b.cohort, mc)
    n = len(b.cohort)
    os5, efs5 = km_at(b.cohort, 60.0, endpoint="os"), km_at(b.cohort, 60.0, endpoint="efs")
    lead = (f"{n} patients at first relapse; 5-year overall survival {os5:.0%} and event-free survival "
            f"{efs5:.0%} (Kaplan-Meier).")
    b.summary.append(f"Cohort: {lead}")
    b.sections.append(Section("cohort", "Cohort", lead=lead, items=[
        w.table("cohort_characteristics", "Characteristics", tables["characteristics"],
                f"Counts from 1 to {mc - 1} are shown as <{mc}."),
        w.table("cohort_missing_values", "Missing optional values (kept missing, never dropped)",
                tables["missing_values"]),
        w.figure(outcome_figure(b.cohort, b.fig_dir / "cohort_outcomes.png"), "Outcomes after first relapse",
                 "Kaplan-Meier estimates with 95% log-log intervals and Aalen-Johansen cumulative incidence "
                 "(scikit-survival); risk groups with fewer than 5 patients are not drawn."),
    ]))
    b.inputs |= {f"cohort {p.name}": p for p in b.cohort_paths}


def effects_shown(effects: pd.DataFrame) -> pd.DataFrame:
    """The effect table as the page shows it: scale, effect, posterior and prior as median (95% interval)."""
    return pd.concat([view.assign(scale=scale)[["scale", *view.columns]]
                      for scale, view in effect_view(effects).items()], ignore_index=True)


ONE_STEP_EFFECTS_CAPTION = "Odds ratios of cure and hazard ratios of relapse and of death without relapse"
PATHWAY_EFFECTS_CAPTION = ("Every transition of the pathway model: odds ratios of refractory disease and of early "
                           "death (vs response), of cure in remission, of cure after vs before transplant, and hazard "
                           "ratios of relapse after transplant and of death after a second relapse")


def _model_stage(b: _Build) -> None:
    w = b.writer
    b.model = b.model or _model(b.spec, b.cohort)
    w.files.append(b.model.save(w.folder / "data" / "fit.nc"))
    effects = content.effect_table(b.model)
    settings = b.model.spec.settings()
    w.figure_data("effects_forest", effects)
    strongest = effects.assign(distance=np.abs(np.log(effects["posterior_median"])))
    strongest = strongest[(effects["posterior_lower"] > 1) | (effects["posterior_upper"] < 1)]
    strongest = strongest.sort_values("distance", ascending=False).head(3)
    clear = "; ".join(f"{row.effect} ({row.scale} {row.posterior_median:.2f})" for row in strongest.itertuples())
    lead = ("Effects whose 95% credible interval excludes no effect, largest first: " + clear + "."
            if clear else "No effect's 95% credible interval excludes no effect.")
    b.summary.append(f"Model: {lead}")
    b.sections.append(Section("model", "Model and effects", lead=lead, items=[
        w.table("model_configuration", "Configuration",
                pd.DataFrame({"setting": [k.replace("_", " ") for k in settings],
                              "value": [setting_text(v) for v in settings.values()]})),
        w.figure(forest_figure(effects, b.fig_dir / "effects_forest.png"), "Effects: prior beside posterior",
                 (PATHWAY_EFFECTS_CAPTION if b.model.spec.pathway else ONE_STEP_EFFECTS_CAPTION)
                 + ", posterior median with 95% credible interval (blue) and the prior's median and 95% interval "
                 "(grey)."),
        w.table("effects", "Effects (posterior and prior)", effects, shown=effects_shown(effects)),
    ]))
    if b.spec.model.fit:      # a reused fit carries its priors (and their hash) itself
        b.inputs["fit"] = b.spec.resolve(b.spec.model.fit)
    elif b.model.priors.path:
        b.inputs["priors"] = Path(b.model.priors.path)


def _profiles_stage(b: _Build) -> None:
    w, mc, h = b.writer, b.spec.min_count, b.spec.checks.profile_horizon
    profiles = content.risk_profiles(b.model, b.cohort, h, mc)
    w.figure_data("risk_profiles", profiles)
    b.sections.append(Section("profiles", "Risk by profile", lead=f"Predicted against observed {content.survival_label(b.model)} "
                              f"at {h:g} months for each cytogenetic risk group and "
                              f"{'timing of relapse' if b.model.spec.pathway else 'MRD status'}.", items=[
        w.table("risk_profiles", f"Predicted and observed risk at {h:g} months by cytogenetic risk group and "
                f"{'timing of relapse' if b.model.spec.pathway else 'MRD'}",
                profiles, "Aggregates over each profile's patients; no per-patient predictions are shown. "
                f"Profiles with fewer than {mc} patients are suppressed."),
        w.figure(profile_figure(profiles, b.fig_dir / "risk_profiles.png", h, content.survival_label(b.model)),
                 "Predicted and observed survival by profile"),
    ]))


def _check_spec(spec: ReportSpec) -> CheckSpec:
    return CheckSpec(horizons=tuple(spec.checks.horizons), n_replicates=spec.checks.replicates, seed=spec.seed)


def _checks_stage(b: _Build) -> None:
    w, mc, label = b.writer, b.spec.min_count, content.survival_label(b.model)
    b.checks = run_checks(b.model, b.cohort, _check_spec(b.spec), step=b.say)
    conv, b.verdict = content.diagnostics(b.checks)
    items = [w.table("convergence", "Convergence diagnostics", conv, shown=convergence_view(conv)),
             w.table("loo", "PSIS-LOO", b.checks.loo, b.verdict["pareto_k_note"])]
    for name, ds in b.checks.ppc.items():
        ds = _shown_groups(ds, mc)
        w.figure_data(f"ppc_{name}", _ppc_data(ds))
        items.append(w.figure(ppc_figure(ds, b.fig_dir / f"ppc_{name}.png"),
                              f"Posterior-predictive check: {name.replace('_', ' ')}",
                              "Observed curves (black) against replicates censored like the data."))
    if b.checks.ppc:
        items.append(w.table("ppc_summary", "Posterior-predictive summary", content.ppc_table(b.checks.ppc, mc)))
    items += _pathway_check_items(b)
    items.append(w.table("calibration_summary", "Calibration (slope 1 and intercept 0 when calibrated)",
                         calibration_summary(b.checks, label)))
    numeric = {}
    for key, table in b.checks.calibration.items():
        shown = suppress_counts(table, ["n", "events"], mc)
        w.figure_data(f"calibration_{key}", shown)
        numeric[key] = shown.assign(n=pd.to_numeric(shown["n"], errors="coerce"))
    if numeric:
        items.append(w.figure(calibration_grid_figure(numeric, b.fig_dir / "calibration.png"),
                              f"Calibration: {label} and relapse at each horizon",
                              "Patients grouped by fifth of predicted risk; observed risk (Kaplan-Meier or Aalen-Johansen, "
                              "95% interval) against the mean prediction, the diagonal and the fitted line."))
    lead = _checks_lead(b)
    b.summary.append(f"Checks: {lead}")
    b.sections.append(Section("checks", "Model checks", items, lead=lead))


def _calibration_phrase(checks: CheckResults, survival_label: str) -> str:
    """The calibration slopes' range, what a slope off 1 means, and every horizon whose joint
    test of slope 1 and intercept 0 rejects at the 5% level (so a misfit is not averaged away)."""
    slopes = [f.slope for f in checks.calibration_fits.values()]
    phrase = (f"calibration slopes run from {min(slopes):.2f} to {max(slopes):.2f} (1 is perfect; below 1, "
              "predictions too extreme; above 1, too close to the average: high risks "
              "underestimated and low risks overestimated)")
    summary = calibration_summary(checks, survival_label)
    rejected = summary[summary["p value"] < 0.05]
    if rejected.empty:
        return phrase + ", and no horizon's test of slope 1 and intercept 0 rejects at the 5% level"
    named = ", ".join(f"{r['endpoint']} at {r['horizon (months)']:g} months (slope {r['slope']:.2f}, "
                      f"p = {r['p value']:.3f})" for _, r in rejected.iterrows())
    return phrase + f"; the model is MISCALIBRATED (test of slope 1 and intercept 0, 5% level) for {named}"


def _checks_lead(b: _Build) -> str:
    """The checks in one or two plain sentences: convergence, the predictive band, calibration."""
    verdict, checks = b.verdict, b.checks
    parts = ["The fit passed every convergence check" if verdict["passed"] else
             f"The fit FAILED its convergence checks ({', '.join(verdict['failed'])})"]
    if checks.ppc and "all" in checks.ppc:
        overall = checks.ppc["all"].isel(group=0)
        inside = 1 - float(overall["efs_fraction_outside"]) if "efs_fraction_outside" in overall else None
        if inside is not None:
            parts.append(f"the observed EFS curve lies inside the model's 95% predictive band at {inside:.0%} of times")
    if checks.calibration_fits:
        parts.append(_calibration_phrase(checks, content.survival_label(b.model)))
    if checks.occupation is not None:
        parts.append(f"the observed state occupation lies inside the model's band at "
                     f"{float(checks.occupation['inside'].mean()):.0%} of the state-times shown")
    return "; ".join(parts) + "."


def _pathway_check_items(b: _Build) -> list:
    """The pathway model's checks: state occupation, response and landmark calibration."""
    w, mc, checks = b.writer, b.spec.min_count, b.checks
    if checks.occupation is None:
        return []
    occupation = expand_estimates(checks.occupation).to_dataframe().reset_index()
    w.figure_data("state_occupation", occupation)
    response = suppress_counts(checks.response_calibration, ["n"], mc)
    landmark = suppress_counts(checks.landmark_calibration, ["n"], mc)
    at = checks.landmark_calibration.attrs["landmark"]
    w.figure_data("calibration_response", response)
    w.figure_data("calibration_landmark", landmark)
    inside = float(checks.occupation["inside"].mean())
    return [
        w.figure(occupation_figure(checks.occupation, b.fig_dir / "state_occupation.png"),
                 "State occupation: the course after relapse",
                 "Probability of being in each state over time: observed (Aalen-Johansen estimate from the cohort's "
                 "paths, black) against the model's 95% posterior-predictive band for a cohort of the same patients "
                 f"(blue); the observed value lies inside the band at {inside:.0%} of the state-times shown. "
                 "Comparable under independent censoring."),
        w.figure(response_calibration_figure(checks.response_calibration, b.fig_dir / "calibration_response.png"),
                 "Calibration: response to re-induction",
                 "Observed share responding (CR2/CRi, Wilson 95% interval) by fifth of predicted probability; "
                 f"{checks.response_calibration.attrs['unassessed']} patient(s) lost before the assessment are "
                 "not counted."),
        w.figure(landmark_figure(checks.landmark_calibration, b.fig_dir / "calibration_landmark.png"),
                 f"Calibration by transplant status: predictions given the state at {at:g} months",
                 "Mean prediction given each patient's path so far against Kaplan-Meier from the landmark (95% "
                 "interval), for patients transplanted by then, in remission, or relapsed/refractory."),
        w.table("calibration_landmark", f"Given the state at {at:g} months: predicted vs observed", landmark),
    ]


def _trial_stage(part: TrialPart, trial: TrialSpec, trial_path: Path) -> Callable[[_Build], None]:
    def run(b: _Build) -> None:
        w = b.writer
        b.inputs[f"trial {trial.name}"] = trial_path
        agent_files = available_agents()
        b.inputs |= {f"agent {a}": agent_files[a] for a in trial.agents}
        ds, oc, sensitivity = content.trial_results(b.model, trial, seed=b.spec.seed, n_trials=part.n_trials,
                                                    variants=b.spec.agent_prior_variants, progress=b.trial_progress)
        path = w.folder / "data" / f"trial_{trial.name}.nc"
        ds.to_netcdf(path, engine="h5netcdf")
        w.files.append(path)
        n = ds.sizes["trial"]
        summary = " ".join(plain_language(oc, trial))
        items = [w.table(f"trial_{trial.name}_design", "Design", design_table(trial, dict(ds.attrs)), summary)]
        curve_vars = [v for v in ds.data_vars if str(v).startswith("arm_")]
        if curve_vars:         # two-arm trials: model-based curves per arm
            curves = ds[curve_vars]
            w.figure_data(f"trial_{trial.name}_curves", expand_estimates(curves).to_dataframe().reset_index())
            items.append(w.figure(arm_curves_figure(curves, b.fig_dir / f"trial_{trial.name}_curves.png",
                                                    trial.title), "Model-based curves per arm",
                                  "Eligible population; each band pairs posterior draws with draws of the agent "
                                  "effects."))
        sentences = plain_language(oc, trial)
        flag = type1_warning(oc)
        b.summary.append(" ".join([f"{trial.title}: {sentences[0]}" if sentences else trial.title]
                                  + ([flag] if flag else [])))
        b.sections.append(Section(f"trial_{trial.name}", f"Virtual trial: {trial.title}", lead=" ".join(sentences[:1]),
                                  items=items + [
            w.table(f"trial_{trial.name}_operating_characteristics",
                    f"Operating characteristics ({n:,} simulated trials per scenario)", oc,
                    "assurance: agent effects drawn from their priors; power: effects at their prior medians; "
                    "no_effect: type-I error, beside the nominal alpha of the specification. " + type1_warning(oc)),
        ] + ([] if sensitivity.empty else [
            w.table(f"trial_{trial.name}_agent_prior_sensitivity", "Sensitivity of assurance to the agent-effect prior",
                    sensitivity, "Ratios as median (95% interval). Every row uses the same seed, so differences "
                    "come from the prior, not from Monte Carlo noise."),
        ])))
    return run


def _write_stage(b: _Build, command: list[str] | None) -> ReportResult:
    w, folder = b.writer, b.writer.folder
    prov = provenance(b.inputs, b.spec.seed, b.verdict, command)
    manifest = {p.relative_to(folder).as_posix(): file_sha256(p) for p in sorted(w.files) if p.suffix != ".nc"}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    (folder / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n", encoding="utf-8")
    html = folder / "report.html"
    html.write_text(render_report(b.spec.title, b.sections, b.verdict, prov, folder, b.summary), encoding="utf-8")
    return ReportResult(folder, html, bool(b.verdict["passed"]), b.verdict,
                        [*w.files, folder / "manifest.json", folder / "provenance.json", html], w.tables)


def report_stages(spec: ReportSpec, *, fitted: bool = False) -> list[tuple[str | None, Callable[[_Build], None]]]:
    """The stages of a report, in order: ``(progress message, stage)``. A stage without a
    message announces its own steps (the model checks)."""
    m = spec.model
    fitting = f"fitting the model ({m.chains} chains x {m.tune + m.draws:,} iterations)"
    stages: list[tuple[str | None, Callable[[_Build], None]]] = [
        ("validating the cohort", _cohort_stage),
        ("loading the fit" if fitted or m.fit is not None else fitting, _model_stage),
        ("predicting risk by profile", _profiles_stage),
        (None, _checks_stage),
    ]
    for part in spec.trials:
        path = spec.resolve(part.spec)
        trial = load_trial_spec(path)
        if not spec.model.pathway and (trial.kind != "two_arm" or trial.endpoint != "efs"):
            raise InputError.single(str(path),
                                    f"trial '{trial.name}' ({trial.kind.replace('_', '-')}"
                                    f"{'' if trial.kind != 'two_arm' else ', endpoint ' + trial.endpoint}) needs the "
                                    "pathway model: "
                                    "set model.outcome = 'pathway' in the report spec")
        stages.append((f"simulating {trial.name}", _trial_stage(part, trial, path)))
    return stages


def n_stages(spec: ReportSpec, *, fitted: bool = False) -> int:
    """How many times :func:`build_report` calls ``step`` for this spec (for progress bars)."""
    own = sum(message is not None for message, _ in report_stages(spec, fitted=fitted))
    return own + n_check_stages(_check_spec(spec), pathway=spec.model.pathway) + 1     # + writing the report


def build_report(spec: ReportSpec | str | Path, *, model=None, command: list[str] | None = None,
                 step: Step | None = None, trial_progress: TrialProgress | None = None,
                 force: bool = False, progressbar: bool = True) -> ReportResult:
    """Build the report a spec describes: the stages of :func:`report_stages`, then the page.

    Everything is validated first and built in a temporary folder beside the output folder, then
    moved in; a failure leaves the folder as it was. Only files a previous report listed in its
    marker are replaced; a folder that is neither empty nor a previous report is refused unless
    ``force``; a second build of the same folder at the same time is refused.

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
    force : bool
        Write into a folder that holds other files (they are kept).
    progressbar : bool
        Without ``step``: show the stage running and the time so far on stderr (a report of the
        demo's size takes a few minutes).

    Returns
    -------
    ReportResult
    """
    if not isinstance(spec, ReportSpec):
        spec = load_report_spec(spec)
    stages = report_stages(spec, fitted=model is not None)     # reads every trial spec first
    target = check_output_folder(spec.output_dir, "report", force=force)
    total = n_stages(spec, fitted=model is not None)
    with (progress_bar("building the report", total, enabled=progressbar and step is None) as update,
          OutputLock(target), staging_folder(target) as staging):
        done = [0]

        def say(message: str) -> None:
            if step is not None:
                step(message)
            else:
                update(done[0], total, message)
                done[0] += 1
        if trial_progress is None and step is None and progressbar:
            def trial_progress(n: int, of: int) -> None:
                update(done[0] - 1, total, f"simulating: {n:,} of {of:,} trials")
        build = _Build(spec, _Writer(staging), say, trial_progress, model=model)
        for message, stage in stages:
            if message is not None:
                say(message)
            stage(build)
        say("writing the report")
        staged = _write_stage(build, command)
        files = publish_folder(staging, target, "report")
        update(total, total, "report written")
    return replace(staged, folder=target, html=target / "report.html", files=files)

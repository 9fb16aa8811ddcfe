"""Commands on the model: ``fit``, ``predict`` and ``check``."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import click
import pandas as pd

from relapse_model.cli.common import (DEFAULT_MODEL, StageProgress, cohort_input_options, err, finish, json_option, out, print_json,
                                      print_table, quiet_option, quiet_sampler_logs, reading_keywords, records,
                                      strict_option, warn_failed_fit)
from relapse_model.errors import InputError
from relapse_model.models.spec import ModelSpec, SamplerSpec, choices, default, parse_model_spec, parse_sampler_spec


def print_fit(model, checks: pd.DataFrame) -> None:
    """Convergence diagnostics (``model.check()``) and the effect table."""
    from relapse_model.models.convergence import convergence_view
    print_table(convergence_view(checks), "Convergence diagnostics")
    from relapse_model.models.effects import effect_view
    for scale, view in effect_view(model.hazard_ratios()).items():
        print_table(view, scale.capitalize())


def fit_json(model, checks: pd.DataFrame) -> dict:
    return {"passed": bool(checks["passed"].all()), "diagnostics": records(checks),
            "effects": records(model.hazard_ratios())}


@click.command()
@click.argument("cohort", type=click.Path(path_type=Path))
@cohort_input_options
@click.option("--priors", "priors_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Priors file (default: priors/pathway.toml; priors/default.toml for --model competing or cure).")
@click.option("--model", "outcome", type=click.Choice(choices(ModelSpec, "outcome")),
              default=DEFAULT_MODEL, show_default=True,
              help="pathway: the course after relapse (response, MRD, transplant, cure, second relapse, death) "
                   "as one multi-state model; competing: the one-step model, relapse vs death without relapse; "
                   "cure: the one-step model of one endpoint.")
@click.option("--endpoint", type=click.Choice(choices(ModelSpec, "endpoint")), default=default(ModelSpec, "endpoint"),
              show_default=True, help="Endpoint of --model cure.")
@click.option("--baseline", type=click.Choice(choices(ModelSpec, "baseline")), default=default(ModelSpec, "baseline"),
              show_default=True, help="Baseline hazards of the one-step models (the pathway model's are Weibull).")
@click.option("--no-cure", is_flag=True, help="Fit a one-step model without a cure fraction.")
@click.option("--stemness", type=click.Choice([*choices(ModelSpec, "stemness"), "none"]),
              default=default(ModelSpec, "stemness"), show_default=True)
@click.option("--draws", type=click.IntRange(min=10), default=default(SamplerSpec, "draws"), show_default=True)
@click.option("--tune", type=click.IntRange(min=10), default=default(SamplerSpec, "tune"), show_default=True)
@click.option("--chains", type=click.IntRange(min=1), default=default(SamplerSpec, "chains"), show_default=True)
@click.option("--target-accept", type=click.FloatRange(0.5, 1.0, min_open=True, max_open=True),
              default=default(SamplerSpec, "target_accept"), show_default=True,
              help="NUTS target acceptance; raise it (e.g. 0.98) when a fit reports divergences.")
@click.option("--sampler", "nuts", type=click.Choice(choices(SamplerSpec, "nuts")), default=default(SamplerSpec, "nuts"),
              show_default=True, help="NUTS implementation (README, Benchmarks); each is bit-reproducible under --seed.")
@click.option("--adaptation", type=click.Choice(choices(SamplerSpec, "adaptation")),
              default=default(SamplerSpec, "adaptation"), show_default=True,
              help="nutpie's mass-matrix adaptation; draw_diag: about 1.45x the ESS, about 20% slower sampling, "
                   "but divergences in 3 of 24 seeds (README, Benchmarks).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the fit (NetCDF).")
@quiet_option
@json_option
@strict_option
def fit(cohort: Path, reading: dict, priors_path: Path | None, outcome: str, endpoint: str, baseline: str, no_cure: bool,
        stemness: str, draws: int, tune: int, chains: int, target_accept: float, nuts: str, adaptation: str,
        seed: int, out_path: Path, quiet: bool, as_json: bool, strict: bool) -> None:
    """Fit the hierarchical Bayesian model to a cohort and save the posterior.

    Shows a progress bar while sampling, then the convergence diagnostics and the effect table
    (posterior beside prior). A fit that fails its diagnostics is flagged on stderr, and exits
    with status 3 under --strict (the file is still written, for inspection).

    \b
    Examples:
      relapse-model fit cohorts/cog_like.csv --out fits/cog_pathway.nc --seed 1
      relapse-model fit cohorts/cog_like.csv --model competing --out fits/cog.nc --seed 1
      relapse-model fit cohorts/cog_like.csv --model competing --priors priors/weak.toml \\
          --baseline piecewise --out fits/cog_piecewise.nc --seed 1 --strict
      relapse-model fit my_cohort.csv --out fit.nc --json > fit.json
    """
    from relapse_model.cohort import load_cohort
    from relapse_model.models import RelapseModel

    c = load_cohort(cohort, **reading_keywords(reading))
    if quiet or as_json:
        quiet_sampler_logs()
    settings = {"endpoint": endpoint, "baseline": baseline, "cure": not no_cure, "stemness": stemness}
    # options left at their defaults are not settings the user chose (the pathway model refuses some)
    chosen = {k: v for k, v in settings.items() if v != default(ModelSpec, k)}
    try:
        spec = parse_model_spec({"outcome": outcome, **chosen}, "fit")
    except InputError as error:
        if outcome != "pathway":
            raise
        hint = " (the pathway model is fit's default; add --model competing for the one-step model)"
        raise InputError([replace(issue, message=issue.message + hint) for issue in error.issues]) from None
    sampler = parse_sampler_spec({"draws": draws, "tune": tune, "chains": chains, "random_seed": seed,
                                  "target_accept": target_accept, "nuts": nuts, "adaptation": adaptation},
                                 "fit")
    model = RelapseModel(priors_path, spec).fit(c, sampler, progressbar=not (quiet or as_json))
    checks = model.check()
    passed = warn_failed_fit(model, checks)
    path = model.save(out_path)
    if as_json:
        print_json({"fit": str(path), **fit_json(model, checks)})
    else:
        if not quiet:
            print_fit(model, checks)
        out.print(f"wrote {path}", markup=False)
    finish(passed, strict)


def _check_predict_options(fit_path: Path, pathway: bool, conditional: float | None, landmark: float | None,
                           horizons: list[float]) -> None:
    if pathway and conditional is not None:
        raise InputError.single("--conditional-on-survival-to", f"{fit_path} is a pathway fit: condition on the path "
                                "so far with --landmark instead")
    if not pathway and landmark is not None:
        raise InputError.single("--landmark", f"{fit_path} is a one-step fit: --landmark needs a pathway fit "
                                "(relapse-model fit --model pathway); use --conditional-on-survival-to")
    if landmark is not None:
        if not (math.isfinite(landmark) and landmark >= 0):
            raise InputError.single("--landmark", f"{landmark:g} is not a time: give months >= 0")
        if any(h <= landmark for h in horizons):
            raise InputError.single("--horizons", f"every horizon must be later than the landmark ({landmark:g})")


def parse_horizons(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError.single("--horizons", f"'{text}' is not a comma-separated list of months") from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise InputError.single("--horizons", f"'{text}': give positive, finite months, e.g. 12,36,60")
    return values


def _prediction_frame(ds) -> pd.DataFrame:
    """One row per patient, quantity and horizon, with the mean and the interval's bounds."""
    rows = []
    for name, da in ds.data_vars.items():
        frame = pd.DataFrame({est: da.sel(estimate=est, drop=True).to_series()
                              for est in ("mean", "lower", "upper")}).reset_index()
        if "horizon" not in frame:
            frame["horizon"] = float("nan")
        frame.insert(1, "quantity", str(name))
        rows.append(frame[["patient", "quantity", "horizon", "mean", "lower", "upper"]])
    return pd.concat(rows, ignore_index=True)


#: The pathway model's predictions as CSV quantities: variable -> (quantity, how it is selected).
PATHWAY_QUANTITIES = (("response_probability", "response"), ("hsct_probability", "transplant"),
                      ("event_free_survival", "efs"), ("overall_survival", "os"), ("relapse_incidence", "relapse"),
                      ("cure_probability", "cure"))


def _pathway_prediction_frame(ds) -> pd.DataFrame:
    """One row per patient, quantity and horizon (response categories, transplant, EFS, OS,
    relapse, cure), with the landmark state when predictions are given the path so far."""
    rows = []
    for name, quantity in PATHWAY_QUANTITIES:
        da = ds[name]
        frame = pd.DataFrame({est: da.sel(estimate=est, drop=True).to_series() for est in ("mean", "lower", "upper")})
        frame = frame.reset_index()
        if "response" in frame:
            frame["quantity"] = frame.pop("response")
        else:
            frame["quantity"] = quantity
        frame["horizon"] = frame.pop("time") if "time" in frame else float("nan")
        rows.append(frame[["patient", "quantity", "horizon", "mean", "lower", "upper"]])
    out = pd.concat(rows, ignore_index=True)
    if "landmark_state" in ds:
        out.insert(1, "landmark_state", out["patient"].map(ds["landmark_state"].to_series()))
    return out


@click.command()
@click.argument("fit_path", metavar="FIT", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("patients", type=click.Path(path_type=Path))
@cohort_input_options
@click.option("--horizons", default="12,36,60", show_default=True, help="Months since first relapse.")
@click.option("--conditional-on-survival-to", "conditional", type=float, default=None,
              help="Condition on being event-free at this many months (the API's conditional_on_survival_to).")
@click.option("--conditional-on", "conditional_old", type=float, default=None, hidden=True,
              help="Deprecated name of --conditional-on-survival-to.")
@click.option("--landmark", type=float, default=None,
              help="Pathway fits: predict from each patient's observed state at this month (PATIENTS then "
                   "needs the outcome columns: response, transplant, relapse, follow-up).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV (one row per patient, horizon and quantity) or NetCDF (.nc).")
@quiet_option
@json_option
@strict_option
def predict(fit_path: Path, patients: Path, reading: dict, horizons: str, conditional: float | None,
            conditional_old: float | None, landmark: float | None, out_path: Path, quiet: bool, as_json: bool,
            strict: bool) -> None:
    """Per-patient posterior probabilities of relapse, event-free survival and cure (and, for a
    pathway fit, of response, transplant and overall survival, at relapse or from a landmark).

    PATIENTS has the cohort columns; outcome columns may be left out, except with --landmark.

    \b
    Examples:
      relapse-model predict fits/cog.nc new_patients.csv --horizons 12,36,60 --out risk.csv
      relapse-model predict fits/cog.nc new_patients.csv --conditional-on-survival-to 12 --horizons 36,60 --out risk.nc
      relapse-model predict fits/cog_pathway.nc cohorts/cog_like.csv --landmark 6 --horizons 12,36,60 --out lm.csv
    """
    from relapse_model.cohort import load_cohort, load_patients
    from relapse_model.models import RelapseModel

    hs = parse_horizons(horizons)
    if conditional_old is not None:
        if conditional is not None:
            raise InputError.single("--conditional-on", "give --conditional-on-survival-to only (--conditional-on "
                                    "is its deprecated name)")
        err.print("warning: --conditional-on is deprecated: use --conditional-on-survival-to (the API's "
                  "conditional_on_survival_to)", markup=False)
        conditional = conditional_old
    if conditional is not None and not (math.isfinite(conditional) and conditional >= 0):
        raise InputError.single("--conditional-on-survival-to", f"{conditional:g} is not a time: give months >= 0")
    model = RelapseModel.load(fit_path)
    pathway = model.spec.pathway
    _check_predict_options(fit_path, pathway, conditional, landmark, hs)
    passed = warn_failed_fit(model)
    reader = load_cohort if landmark is not None else load_patients
    cohort = reader(patients, **reading_keywords(reading))
    if pathway:
        with StageProgress(1, quiet or as_json) as progress:
            progress.step(f"simulating paths of {len(cohort)} patients")
            result = model.predict(cohort, hs, landmark=landmark)
    else:
        result = model.predict(cohort, hs, conditional_on_survival_to=conditional, progressbar=not (quiet or as_json))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix.lower() == ".nc":
        result.to_netcdf(out_path, engine="h5netcdf")
    else:
        frame = _pathway_prediction_frame(result) if pathway else _prediction_frame(result)
        frame.to_csv(out_path, index=False, lineterminator="\n")
    if as_json:
        print_json({"file": str(out_path), "patients": int(result.sizes["patient"]), "horizons": hs,
                    "fit_passed_diagnostics": passed})
    else:
        out.print(f"wrote predictions for {result.sizes['patient']} patients to {out_path}", markup=False)
    finish(passed, strict)


def _landmark_view(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "state at landmark": table["state"].str.replace("_", "/"), "n": table["n"],
        "quantity": [f"{q.upper()} at {h:g} months" for q, h in zip(table["quantity"], table["horizon"])],
        "predicted": table["predicted"].map(lambda v: f"{v:.2f}"),
        "observed (95% CI)": [f"{o:.2f} ({lo:.2f}-{hi:.2f})" for o, lo, hi in
                              zip(table["observed"], table["lower"], table["upper"])]})


@click.command()
@click.argument("fit_path", metavar="FIT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cohort", "cohort_path", type=click.Path(path_type=Path), required=True,
              help="The cohort the fit was made on (checked against the fit's hash).")
@cohort_input_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--horizons", default="12,36,60", show_default=True, help="Calibration horizons (months).")
@click.option("--replicates", type=click.IntRange(min=10), default=200, show_default=True,
              help="Posterior-predictive replicates.")
@click.option("--cv", "cv_folds", type=click.IntRange(min=0), default=0, show_default=True,
              help="K-fold cross-validated accuracy (refits the model K times; 0 = skip).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Fit the --cv folds and the --compare variants on this many processes (the same "
                   "results for any number).")
@click.option("--compare", is_flag=True,
              help="Also fit Weibull vs piecewise, cure vs no cure, without stemness, without MRD, and compare by LOO.")
@click.option("--sensitivity", is_flag=True, help="Also refit with priors/weak.toml and report what moves.")
@click.option("--seed", type=int, default=0, show_default=True)
@quiet_option
@json_option
@strict_option
def check(fit_path: Path, cohort_path: Path, reading: dict, out_dir: Path, horizons: str, replicates: int, cv_folds: int,
          workers: int, compare: bool, sensitivity: bool, seed: int, quiet: bool, as_json: bool, strict: bool) -> None:
    """Check a fit: convergence, LOO with Pareto k, posterior-predictive Kaplan-Meier and
    cumulative-incidence curves (overall and by risk group, MRD, stemness, prior HSCT),
    calibration at each horizon, and optionally cross-validated C-index, AUC and Brier score.

    Writes PNG figures and CSV tables to OUT; prints each stage as it starts.

    \b
    Examples:
      relapse-model check fits/cog.nc --cohort cohorts/cog_like.csv --out checks/cog
      relapse-model check fits/cog.nc --cohort cohorts/cog_like.csv --out checks/cog --cv 5 --workers 2 \\
          --compare --strict
    """
    from relapse_model.checks.model_checks import (CheckSpec, calibration_summary, n_check_stages, ppc_summary,
                                                   run_checks)
    from relapse_model.cohort import load_cohort
    from relapse_model.models import RelapseModel
    from relapse_model.report.check_files import write_check_files
    from relapse_model.report.content import survival_label

    c = load_cohort(cohort_path, **reading_keywords(reading))
    model = RelapseModel.load(fit_path, cohort=c)
    passed = warn_failed_fit(model)
    spec = CheckSpec(horizons=tuple(parse_horizons(horizons)), n_replicates=replicates, seed=seed, cv_folds=cv_folds,
                     workers=workers)
    if model.spec.pathway:
        for flag, given in (("--cv", cv_folds), ("--compare", compare), ("--sensitivity", sensitivity)):
            if given:
                raise InputError.single(flag, f"not available for a pathway fit ({fit_path}) in this version: "
                                        "the pathway checks are occupation, response and landmark calibration")
    with StageProgress(n_check_stages(spec, model.spec.pathway) + compare + sensitivity, quiet or as_json) as progress:
        results = run_checks(model, c, spec, step=progress.step)
        files = write_check_files(results, out_dir, survival_label(model))
        if compare:
            from relapse_model.checks.loo import standard_comparison
            progress.step("LOO comparison: fitting four alternatives")
            table, _ = standard_comparison(c, priors=model.priors, seed=seed, workers=workers)
            table.to_csv(out_dir / "loo_comparison.csv", lineterminator="\n")
            files.append(out_dir / "loo_comparison.csv")
        if sensitivity:
            from relapse_model.checks.sensitivity import prior_sensitivity
            from relapse_model.common.paths import WEAK_PRIORS
            progress.step("prior sensitivity: refitting, weak priors")
            weak = RelapseModel(WEAK_PRIORS, model.spec).fit(c, random_seed=seed, progressbar=False)
            for name, frame in prior_sensitivity(model, weak, c).items():
                frame.to_csv(out_dir / f"prior_sensitivity_{name}.csv", index=False, lineterminator="\n")
                files.append(out_dir / f"prior_sensitivity_{name}.csv")
    summary = calibration_summary(results, survival_label(model))
    payload: dict = {"folder": str(out_dir), "fit_passed_diagnostics": passed,
                     "convergence": records(results.convergence), "loo": records(results.loo),
                     "calibration": records(summary)}
    if results.ppc:
        payload["posterior_predictive"] = records(ppc_summary(results.ppc))
    if results.landmark_calibration is not None:
        payload["response_calibration"] = records(results.response_calibration)
        payload["landmark_calibration"] = records(results.landmark_calibration)
        payload["state_occupation_inside"] = float(results.occupation["inside"].mean())
    if not (quiet or as_json):
        from relapse_model.cli.views import print_check_results
        print_check_results(results, summary)
        if results.landmark_calibration is not None:
            print_table(_landmark_view(results.landmark_calibration),
                        f"Given the state at {results.landmark_calibration.attrs['landmark']:g} months: "
                        "predicted vs observed (Kaplan-Meier)")
    if compare:
        payload["loo_comparison"] = records(table.reset_index(names="model"))
        if not (quiet or as_json):
            print_table(table.reset_index(names="model"), "LOO comparison (best first)")
    payload["files"] = [str(f) for f in files]
    if as_json:
        print_json(payload)
    else:
        out.print(f"wrote {len(files)} files to {out_dir}", markup=False)
    finish(passed, strict)

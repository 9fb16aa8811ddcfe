"""Model checks of a fitted RelapseModel on a cohort: convergence and LOO, posterior-predictive
curves by subgroup, calibration at horizons, K-fold predictive accuracy. :func:`run_checks` is the
one check sequence; it returns data (:class:`CheckResults`), and figures are drawn from that data
by :mod:`relapse_model.report.figures`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.checks.accuracy import accuracy_metrics, kfold_indices
from relapse_model.checks.calibration import CalibrationFit, calibration_slope_intercept, calibration_table
from relapse_model.checks.loo import loo_table
from relapse_model.checks.ppc import ppc_curves, replicate_outcomes
from relapse_model.cohort.cohort import Cohort
from relapse_model.common.parallel import map_replications
from relapse_model.models.convergence import convergence_table
from relapse_model.models.predict import patient_curves
from relapse_model.scores.stemness import call_high

DEFAULT_TIMES = np.arange(0.0, 97.0, 3.0)


def subgroup_labels(cohort: Cohort) -> dict[str, np.ndarray]:
    """Labels for subgroup checks: cytogenetic risk group, MRD, stemness high/low, prior HSCT."""
    d = cohort.data
    mrd = d["mrd_positive"].map({True: "MRD positive", False: "MRD negative"}).fillna("MRD unknown")
    stem = call_high(d["lsc17"]).map({True: "LSC17 high", False: "LSC17 low"}).fillna("LSC17 missing")
    return {
        "risk_group": d["risk_group"].astype(str).to_numpy(),
        "mrd": mrd.astype(str).to_numpy(),
        "stemness": stem.astype(str).to_numpy(),
        "hsct_cr1": np.where(d["hsct_cr1"].fillna(False).to_numpy(dtype=bool), "prior HSCT", "no prior HSCT"),
    }


def _observed(model, cohort: Cohort) -> tuple[np.ndarray, np.ndarray]:
    design = model.design(cohort)
    cause = design.cause if design.cause is not None else design.event
    return design.time, np.asarray(cause, dtype=np.int64)


def posterior_predictive(model, cohort: Cohort, *, n_replicates: int = 200, seed: int = 0,
                         times: np.ndarray = DEFAULT_TIMES, horizon: float = 60.0) -> dict[str, xr.Dataset]:
    """Observed Kaplan-Meier / cumulative-incidence curves against posterior-predictive replicates
    (censored like the data), overall and by each subgroup of :func:`subgroup_labels`."""
    time, cause = _observed(model, cohort)
    reps = replicate_outcomes(model.parameters(), model.design(cohort, with_outcome=False), time, cause,
                              n_replicates, seed)
    out = {"all": ppc_curves(time, cause, reps["time"], reps["cause"], times, horizon=horizon)}
    for name, labels in subgroup_labels(cohort).items():
        out[name] = ppc_curves(time, cause, reps["time"], reps["cause"], times, groups=labels, horizon=horizon)
    return out


def ppc_summary(ppc: dict[str, xr.Dataset]) -> pd.DataFrame:
    """The per-group numbers of :func:`posterior_predictive` (everything but the curves), one row
    per group with its ``grouping``."""
    parts = []
    for name, ds in ppc.items():
        keep = [v for v in ds.data_vars if "time" not in ds[v].dims]
        parts.append(ds[keep].to_dataframe().reset_index().assign(grouping=name))
    return pd.concat(parts, ignore_index=True)


def predicted_risks(model, cohort: Cohort, horizons: tuple[float, ...] | list[float]) -> dict[str, np.ndarray]:
    """Posterior-mean risk by each horizon, arrays (n, H): ``"efs"`` is 1 - EFS (or 1 - survival),
    ``"relapse"`` the relapse incidence (competing-risk model). One pass over the draws serves
    every horizon."""
    hs = np.asarray(horizons, dtype=float)
    curves = patient_curves(model.parameters(1000), model.design(cohort, with_outcome=False), hs)
    key = "event_free_survival" if "event_free_survival" in curves else "survival"
    out = {"efs": 1.0 - curves[key].mean(axis=0)}
    if "relapse_incidence" in curves:
        out["relapse"] = curves["relapse_incidence"].mean(axis=0)
    return out


def predicted_risk(model, cohort: Cohort, horizon: float, kind: str = "efs") -> np.ndarray:
    """Posterior-mean risk by ``horizon``: 1 - EFS (or 1 - survival), or relapse incidence."""
    return predicted_risks(model, cohort, [horizon])[kind][:, 0]


def calibration(model, cohort: Cohort, horizon: float, *, kind: str = "efs", n_groups: int = 5,
                predicted: np.ndarray | None = None):
    """Calibration table (predicted vs observed risk by risk group) and its slope and intercept.

    ``predicted`` (per-patient risk by ``horizon``, from :func:`predicted_risks`) saves
    recomputing it.
    """
    time, cause = _observed(model, cohort)
    risk = predicted if predicted is not None else predicted_risk(model, cohort, horizon, kind)
    table = calibration_table(risk, time, cause, horizon, n_groups=n_groups, kind=kind)
    return table, calibration_slope_intercept(table)


def cross_validate(model, cohort: Cohort, *, k: int = 5, seed: int = 0, horizons: tuple[float, ...] = (12.0, 36.0, 60.0),
                   fit_kwargs: dict[str, Any] | None = None,
                   step: Callable[[str], None] | None = None, workers: int = 1) -> pd.DataFrame:
    """K-fold predictive accuracy: refit on each training fold with the model's priors and
    configuration, score the held-out fold with scikit-survival's metrics. ``step`` is called
    with a description as each fold starts (as each finishes with ``workers > 1``, when the
    folds are fitted on that many processes; the results do not depend on ``workers``)."""
    kwargs = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False, **(fit_kwargs or {})}
    time, cause = _observed(model, cohort)
    folds = list(kfold_indices(cause, k=k, seed=seed))
    one_fold = partial(_cross_validation_fold, priors=model.priors, spec=model.spec, cohort=cohort, folds=folds,
                       observed=(time, cause), seed=seed, fit_kwargs=kwargs, horizons=tuple(horizons))
    if workers == 1:
        def run(fold: int) -> dict[str, Any]:
            if step:
                step(f"cross-validation: fold {fold + 1} of {k}")
            return one_fold(fold)
        rows = [run(fold) for fold in range(k)]
    else:
        report = (lambda done, n: step(f"cross-validation: {done} of {n} folds fitted")) if step else None
        rows = map_replications(one_fold, k, workers, report)
    frame = pd.DataFrame(rows)
    numeric = frame.select_dtypes("number").drop(columns=["fold"])
    return pd.concat([frame, numeric.mean().to_frame().T.assign(fold="mean")], ignore_index=True)


def _cross_validation_fold(fold: int, *, priors, spec, cohort: Cohort, folds: list,
                           observed: tuple[np.ndarray, np.ndarray], seed: int, fit_kwargs: dict[str, Any],
                           horizons: tuple[float, ...]) -> dict[str, Any]:
    """Fit on fold ``fold``'s training patients and score its held-out ones against the
    cohort's ``observed`` (time, cause); module level, so that worker processes can run it."""
    from relapse_model.models import RelapseModel

    train, test = folds[fold]
    time, cause = observed
    fold_model = RelapseModel(priors, spec)
    fold_model.fit(cohort.subset(np.isin(np.arange(len(cohort)), train)), random_seed=seed + fold, **fit_kwargs)
    test_cohort = cohort.subset(np.isin(np.arange(len(cohort)), test))
    hs = np.asarray(horizons, dtype=float)
    curves = patient_curves(fold_model.parameters(1000), fold_model.design(test_cohort, with_outcome=False), hs)
    key = "event_free_survival" if "event_free_survival" in curves else "survival"
    surv = curves[key].mean(axis=0)
    y = lambda idx: np.array(list(zip(cause[idx] > 0, time[idx])), dtype=[("event", bool), ("time", float)])  # noqa: E731
    acc = accuracy_metrics(y(train), y(test), 1.0 - surv[:, -1], surv, hs)
    return {"fold": fold, **acc.as_dict()}


@dataclass(frozen=True)
class CheckSpec:
    """Which checks to run: calibration horizons (months), posterior-predictive replicates, the
    seed of the replicates and folds, K-fold cross-validation (0 = skip) and the number of
    processes its folds are fitted on (the same results for any number)."""

    horizons: tuple[float, ...] = (12.0, 36.0, 60.0)
    n_replicates: int = 200
    seed: int = 0
    cv_folds: int = 0
    workers: int = 1


@dataclass
class CheckResults:
    """What :func:`run_checks` found; tables and figures are drawn from it elsewhere."""

    convergence: pd.DataFrame | None = None
    loo: pd.DataFrame | None = None
    ppc: dict[str, xr.Dataset] = field(default_factory=dict)
    #: grouped calibration table per ``"{kind}_{horizon:g}m"`` (kind ``efs`` or ``relapse``)
    calibration: dict[str, pd.DataFrame] = field(default_factory=dict)
    calibration_fits: dict[str, CalibrationFit] = field(default_factory=dict)
    cross_validation: pd.DataFrame | None = None
    #: pathway model only: state occupation (observed Aalen-Johansen vs predicted), P(response)
    #: calibration, and landmark predictions by the state at the landmark
    occupation: xr.Dataset | None = None
    response_calibration: pd.DataFrame | None = None
    landmark_calibration: pd.DataFrame | None = None

    def __repr__(self) -> str:
        parts = []
        if self.convergence is not None:
            failed = self.convergence.loc[~self.convergence["passed"].astype(bool), "diagnostic"].tolist()
            parts.append("convergence passed" if not failed else f"convergence FAILED ({', '.join(failed)})")
        if self.loo is not None:
            row = self.loo.iloc[0]
            parts.append(f"ELPD {row['elpd_loo']:,.1f} (SE {row['se']:.1f})")
        if self.ppc:
            parts.append(f"posterior-predictive checks by {', '.join(self.ppc)}")
        if self.calibration_fits:
            slopes = ", ".join(f"{k} {f.slope:.2f}" for k, f in self.calibration_fits.items())
            parts.append(f"calibration slopes {slopes}")
        if self.occupation is not None:
            parts.append(f"state occupation inside the band {float(self.occupation['inside'].mean()):.0%}")
        return "CheckResults(" + "; ".join(parts) + ")"

    def plot_calibration(self, key: str | None = None):
        """The calibration plots the report draws, as a matplotlib Figure: every endpoint and
        horizon in one grid, or the one named by ``key`` (e.g. ``"efs_36m"``)."""
        from relapse_model.checks.plots import draw_calibration, draw_calibration_grid

        if key is None:
            return draw_calibration_grid(self.calibration)
        if key not in self.calibration:
            raise KeyError(f"no calibration {key!r} (have: {', '.join(self.calibration)})")
        return draw_calibration(self.calibration[key])


def _convergence_and_loo(model, cohort: Cohort, spec: CheckSpec, out: CheckResults) -> None:
    out.convergence = convergence_table(model.posterior)
    out.loo = loo_table({"fitted model": model})


def _posterior_predictive(model, cohort: Cohort, spec: CheckSpec, out: CheckResults) -> None:
    out.ppc = posterior_predictive(model, cohort, n_replicates=spec.n_replicates, seed=spec.seed)


def _calibration(model, cohort: Cohort, spec: CheckSpec, out: CheckResults) -> None:
    for kind, risk in predicted_risks(model, cohort, spec.horizons).items():
        for j, h in enumerate(spec.horizons):
            key = f"{kind}_{h:g}m"
            out.calibration[key], out.calibration_fits[key] = calibration(model, cohort, h, kind=kind,
                                                                          predicted=risk[:, j])


def _pathway_spec(spec: CheckSpec):
    from relapse_model.checks.pathway_checks import PathwayCheckSpec
    return PathwayCheckSpec(horizons=spec.horizons, seed=spec.seed)


def _pathway_occupation(model, cohort: Cohort, spec: CheckSpec, out: CheckResults) -> None:
    from relapse_model.checks.pathway_checks import occupation
    out.occupation = occupation(model, cohort, _pathway_spec(spec))


def _pathway_calibration(model, cohort: Cohort, spec: CheckSpec, out: CheckResults) -> None:
    from relapse_model.checks.pathway_checks import efs_calibration, landmark_calibration, response_calibration
    out.response_calibration = response_calibration(model, cohort)
    for key, table in efs_calibration(model, cohort, _pathway_spec(spec)).items():
        out.calibration[key], out.calibration_fits[key] = table, calibration_slope_intercept(table)
    out.landmark_calibration = landmark_calibration(model, cohort, _pathway_spec(spec))


#: The check sequence: (progress message, stage). ``check``, ``report`` and ``demo`` all run it.
CHECK_STAGES: tuple[tuple[str, Callable[..., None]], ...] = (
    ("convergence and PSIS-LOO", _convergence_and_loo),
    ("posterior-predictive checks", _posterior_predictive),
    ("calibration", _calibration),
)
#: The pathway model's check sequence.
PATHWAY_CHECK_STAGES: tuple[tuple[str, Callable[..., None]], ...] = (
    ("convergence and PSIS-LOO", _convergence_and_loo),
    ("state occupation vs Aalen-Johansen", _pathway_occupation),
    ("calibration of response, EFS and landmarks", _pathway_calibration),
)


def check_stages(pathway: bool = False) -> tuple[tuple[str, Callable[..., None]], ...]:
    """The check sequence of the pathway model or of the one-step models."""
    return PATHWAY_CHECK_STAGES if pathway else CHECK_STAGES


def n_check_stages(spec: CheckSpec, pathway: bool = False) -> int:
    """How many progress messages :func:`run_checks` gives (one per stage, one per fold)."""
    return len(check_stages(pathway)) + (0 if pathway else spec.cv_folds)


def run_checks(model, cohort: Cohort, spec: CheckSpec = CheckSpec(),
               step: Callable[[str], None] | None = None) -> CheckResults:
    """Run every model check on a fitted model and its cohort.

    ``step`` is called with a short description as each stage (and each cross-validation fold)
    starts, for progress output.
    """
    say = step or (lambda _msg: None)
    out = CheckResults()
    for message, stage in check_stages(model.spec.pathway):
        say(message)
        stage(model, cohort, spec, out)
    if spec.cv_folds and not model.spec.pathway:
        out.cross_validation = cross_validate(model, cohort, k=spec.cv_folds, seed=spec.seed,
                                              horizons=spec.horizons, step=say, workers=spec.workers)
    return out


def calibration_summary(results: CheckResults, survival_label: str = "EFS") -> pd.DataFrame:
    """Slope and intercept per endpoint and horizon (slope 1 and intercept 0 when calibrated)."""
    names = {"EFS": "event-free survival", "OS": "overall survival"}
    rows = []
    for key, fit in results.calibration_fits.items():
        kind, horizon = key.rsplit("_", 1)
        rows.append({"endpoint": names[survival_label] if kind == "efs" else "relapse incidence",
                     "horizon (months)": float(horizon.removesuffix("m")), "slope": fit.slope,
                     "intercept": fit.intercept, "chi2 (slope 1, intercept 0)": fit.chi2, "p value": fit.p_value})
    return pd.DataFrame(rows)

"""PathwayModel: fit the multi-state pathway model to a cohort, predict and simulate paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.cohort.cohort import Cohort
from relapse_model.common.intervals import estimate_coords, summarise_draws
from relapse_model.common.paths import PATHWAY_PRIORS
from relapse_model.errors import InputError
from relapse_model.models import fit_file
from relapse_model.models.convergence import Thresholds, convergence_table
from relapse_model.models.design import Design, build_design
from relapse_model.models.extrapolation import fitted_classes, warn_extrapolation, warn_thin_data
from relapse_model.models.model import NotFittedError, _sample, _with_overrides
from relapse_model.models.pathway.build import PathwayData, build_pathway_model
from relapse_model.models.pathway.likelihood import DEATH, RELAPSE, sojourns
from relapse_model.models.pathway.parameters import PathwayParameters, from_posterior
from relapse_model.models.pathway.paths import DEFAULT_ASSESSMENT_MONTHS, REFRACTORY, RESPONSE, mrd_codes, observed_paths
from relapse_model.models.pathway.landmark import landmark_states
from relapse_model.models.pathway.predict import curves, predict_draws, summarise
from relapse_model.models.pathway.simulate import SimulatedPaths, simulate_paths
from relapse_model.models.spec import ModelSpec, SamplerSpec, parse_model_spec, parse_sampler_spec
from relapse_model.priors.spec import PriorSet, load_priors

#: Default prediction grid (months from relapse).
DEFAULT_TIMES = tuple(float(t) for t in np.arange(0.0, 61.0, 3.0))
#: Sections a priors file must have for the pathway model.
PATHWAY_SECTIONS = ("refractory", "early_death", "mrd", "remission_cure", "transplant_cure", "transplant_relapse",
                    "refractory_death")


def _check_priors(priors: PriorSet) -> None:
    missing = [k for k in PATHWAY_SECTIONS if k not in priors.sections]
    if missing:
        raise InputError.single(priors.path or priors.name, f"no section(s) {', '.join(f'[{k}]' for k in missing)}: "
                                "the pathway model needs priors like priors/pathway.toml")


class PathwayModel:
    """Bayesian multi-state model of the course after first relapse (issue 11, step 1).

    Parameters
    ----------
    priors : str, Path or PriorSet, default ``priors/pathway.toml``
    spec : ModelSpec, optional
        ``outcome="pathway"`` (the default here); of its other settings the pathway model uses
        ``stemness`` (the score among the baseline covariates) and ``hierarchy`` (cytogenetic
        classes nested in risk groups, and study effects, on the refractory and the cure logits).
    **overrides
        Fields of :class:`ModelSpec` to change, e.g. ``stemness="plsc6"``, ``hierarchy=False``.

    ``RelapseModel(outcome="pathway")`` and ``RelapseModel.load`` of a pathway fit give this class.

    Examples
    --------
    >>> model = PathwayModel().fit(cohort, draws=500, chains=2)          # doctest: +SKIP
    >>> model.predict(new_patients, times=[0, 6, 12, 24, 60])            # doctest: +SKIP
    """

    def __init__(self, priors: str | Path | PriorSet | None = None, spec: ModelSpec | None = None,
                 **overrides: Any):
        spec = _with_overrides(spec or ModelSpec(outcome="pathway"), overrides, "model specification",
                               parse_model_spec)
        if not spec.pathway:
            raise InputError.single("model specification", f"PathwayModel fits outcome 'pathway', not "
                                    f"'{spec.outcome}': use RelapseModel(outcome='{spec.outcome}')")
        self.spec: ModelSpec = spec
        self.priors = priors if isinstance(priors, PriorSet) else load_priors(priors or PATHWAY_PRIORS)
        _check_priors(self.priors)
        self.sampler: SamplerSpec | None = None
        self._posterior: xr.DataTree | None = None
        self._design: Design | None = None
        self._data_hash: str | None = None
        self._cohort: Cohort | None = None
        self._fitted_classes: tuple[str, ...] | None = None

    @property
    def stemness(self) -> str | None:
        return self.spec.stemness

    @property
    def hierarchy(self) -> bool:
        return self.spec.hierarchy

    @property
    def endpoint(self) -> str:
        return "pathway"

    def __repr__(self) -> str:
        state = "fitted" if self._posterior is not None else "not fitted"
        return f"PathwayModel(stemness={self.stemness!r}, hierarchy={self.hierarchy}; priors {self.priors.name!r}; {state})"

    def design(self, cohort: Cohort) -> Design:
        """Baseline covariates and MRD columns (with the fitted standardisation and studies)."""
        fitted = self._design
        return build_design(cohort.data, stemness=self.stemness, include_mrd=True, with_outcome=False,
                            standardisation=fitted.standardisation if fitted else None,
                            studies=fitted.studies if fitted else None)

    def data(self, cohort: Cohort) -> PathwayData:
        """The model's data: design and sojourns of every observed path (InputError if inconsistent)."""
        return PathwayData(self.design(cohort), sojourns(observed_paths(cohort)))

    def build(self, cohort: Cohort):
        """The PyMC model for ``cohort`` (without sampling)."""
        return build_pathway_model(self.data(cohort), self.priors, hierarchy=self.hierarchy)

    def fit(self, cohort: Cohort, sampler: SamplerSpec | None = None, *, progressbar: bool = True,
            **overrides: Any) -> PathwayModel:
        """Sample the posterior with NUTS (default nutpie, Numba-compiled log density; bit-identical per seed).

        ``overrides`` are fields of :class:`SamplerSpec` (``draws``, ``tune``, ``chains``,
        ``random_seed`` ...). Returns ``self``, fitted.
        """
        sampling = _with_overrides(sampler or SamplerSpec(), overrides, "sampler specification", parse_sampler_spec)
        self._design = None
        data = self.data(cohort)
        warn_thin_data(cohort.source, data.design, _transition_counts(data.sojourns))
        model = build_pathway_model(data, self.priors, hierarchy=self.hierarchy)
        self._posterior = _sample(model, sampling, progressbar)
        self._design, self.sampler = data.design, sampling
        self._cohort, self._data_hash = cohort, fit_file.cohort_hash(cohort)
        self._fitted_classes = fitted_classes(data.design)
        fit_file.stamp_provenance(self._posterior, spec=self.spec, sampler=sampling, priors=self.priors,
                                  data_hash=self._data_hash, standardisation=data.design.standardisation,
                                  studies=data.design.studies, classes=self._fitted_classes, cohort_source=cohort.source)
        return self

    @property
    def posterior(self) -> xr.DataTree:
        """The fitted DataTree (posterior, sample_stats, log_likelihood with one term per patient)."""
        if self._posterior is None:
            raise NotFittedError("this PathwayModel has no posterior yet: call fit(cohort) first "
                                 "(or RelapseModel.load(path) for a saved fit)")
        return self._posterior

    def check(self, thresholds: Thresholds | None = None) -> pd.DataFrame:
        """Convergence diagnostics with pass/fail (R-hat, bulk and tail ESS, divergences, E-BFMI)."""
        return convergence_table(self.posterior, thresholds)

    @property
    def passed_checks(self) -> bool:
        """True when every convergence diagnostic passed."""
        return bool(self.check()["passed"].all())

    def hazard_ratios(self, interval: float = 0.95) -> pd.DataFrame:
        """Every transition effect on its natural scale (odds ratios of refractory disease, early
        death and cure; the transplant's odds ratio of cure and hazard ratio of relapse; the
        hazard ratio of death after a second relapse), posterior median and interval beside the
        prior's. Same columns as :meth:`RelapseModel.hazard_ratios`."""
        from relapse_model.models.effects import readable_effects
        from relapse_model.models.pathway.effects import pathway_effect_table
        return readable_effects(pathway_effect_table(self.posterior["posterior"].to_dataset(), self.priors,
                                                     hierarchy=self.hierarchy, interval=interval))

    def plot_effects(self, interval: float = 0.95):
        """The report's forest plot of every transition effect, prior beside posterior
        (a matplotlib Figure)."""
        from relapse_model.models.plots import draw_forest
        return draw_forest(self.hazard_ratios(interval))

    def save(self, path: str | Path) -> Path:
        """Write the fit as NetCDF with its provenance and content hash (read back by
        :meth:`RelapseModel.load` or :meth:`load`)."""
        return fit_file.write_fit(self.posterior, path)

    @classmethod
    def load(cls, path: str | Path, *, cohort: Cohort | None = None,
             priors: str | Path | PriorSet | None = None) -> PathwayModel:
        """Load a saved pathway fit, with the checks of :func:`relapse_model.models.fit_file.read_fit`."""
        saved = fit_file.read_fit(path, cohort=cohort, priors=priors)
        if not saved.spec.pathway:
            raise InputError.single(str(path), f"a fit of the '{saved.spec.outcome}' model, not of the pathway "
                                    "model: load it with RelapseModel.load")
        return cls.from_saved(saved, path, cohort)

    @classmethod
    def from_saved(cls, saved: fit_file.SavedFit, path: str | Path, cohort: Cohort | None = None) -> PathwayModel:
        """The model of a fit read by :func:`~relapse_model.models.fit_file.read_fit`."""
        model = cls(saved.priors, saved.spec)
        model.sampler = saved.sampler
        model._design = Design(np.zeros((0, 0)), (), np.zeros(0, int), np.zeros(0, int), saved.studies,
                               saved.standardisation)
        model._posterior, model._data_hash, model._cohort = saved.tree, saved.data_hash, cohort
        model._fitted_classes = saved.classes
        try:
            model.parameters(max_draws=1)
        except KeyError as exc:
            raise InputError.single(str(path), f"posterior variable {exc} missing: refit the model") from None
        return model

    def parameters(self, max_draws: int | None = None) -> PathwayParameters:
        """Posterior draws as arrays (chains stacked), thinned to at most ``max_draws``."""
        params = from_posterior(self.posterior["posterior"].to_dataset())
        return params.thin(max_draws) if max_draws else params

    def transplant_effects(self, interval: float = 0.95) -> pd.DataFrame:
        """Posterior of the transplant's effects: ``cure_shift`` (delta, log odds of cure after vs
        before transplant, reference MRD and time to transplant) and ``relapse_log_hr`` (gamma)."""
        p = self.parameters()
        lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
        rows = {"cure_shift": p.transplant_cure_shift, "relapse_log_hr": p.transplant_relapse_log_hr}
        return pd.DataFrame({k: {"mean": v.mean(), "lower": np.quantile(v, lo), "upper": np.quantile(v, hi)}
                             for k, v in rows.items()}).T

    def simulate_paths(self, patients: Cohort, *, replicates: int = 1, censor: np.ndarray | None = None,
                       max_draws: int = 200, seed: int = 0, assessment: float | None = None) -> SimulatedPaths:
        """Whole paths of ``patients`` (covariates and response assessment times are used) under
        posterior draws, (S, n, K)."""
        self.posterior  # noqa: B018 - raises NotFittedError naming fit() first
        a = assessment_times(patients) if assessment is None else np.full(len(patients), float(assessment))
        return simulate_paths(self.parameters(max_draws), self.design(patients), a, replicates=replicates,
                              censor=censor, seed=seed)

    def efs_draws(self, patients: Cohort, horizons: list[float] | np.ndarray, *, replicates: int = 10,
                  seed: int = 0) -> np.ndarray:
        """EFS of each patient at each horizon under every posterior draw, chains stacked:
        (S, n, H), each a Monte Carlo average over ``replicates`` simulated paths (for LOO
        expectations, :func:`relapse_model.checks.loo.loo_efs_accuracy`)."""
        self.posterior  # noqa: B018 - raises NotFittedError naming fit()
        return predict_draws(self.parameters(), self.design(patients), assessment_times(patients),
                             _checked_times(horizons, None), replicates=replicates, seed=seed).efs

    def transplant_counterfactual(self, patients: Cohort, times: list[float] | np.ndarray, *, at: float = 4.0,
                                  replicates: int = 100, max_draws: int = 200, interval: float = 0.95,
                                  seed: int = 0) -> xr.Dataset:
        """The same patient in remission at month ``at``, transplanted then or never transplanted.

        Each patient is taken as a responder in remission, relapse-free and untransplanted at
        ``at`` months after relapse, with the MRD recorded in the cohort (blank: not measured)
        and their own covariates; paths are simulated onward (:mod:`.landmark`) under two
        scenarios: allogeneic HSCT at ``at`` months, and no transplant from remission (salvage
        transplant after a relapse stays possible in both).

        What it assumes: the fitted transition effects are causal given the model's covariates
        and path (no unmeasured reason for transplanting some responders and not others, such
        as donor availability tied to prognosis); a transplant at ``at`` is feasible; outcomes
        follow the model's semi-Markov structure (the post-transplant hazards on the graft's
        clock). It is a model-based contrast, not an estimate from a randomised comparison.

        Returns
        -------
        xarray.Dataset
            ``event_free_survival`` and ``overall_survival`` (patient x scenario x time x
            estimate, scenarios ``transplant`` and ``no_transplant``) and their differences,
            ``efs_difference`` and ``os_difference`` (transplant minus none, per draw).
        """
        from relapse_model.models.pathway.landmark import counterfactual_states, simulate_from_landmark

        self.posterior  # noqa: B018 - raises NotFittedError naming fit()
        times = _checked_times(times, at)
        params, design = self.parameters(max_draws), self.design(patients)
        codes = mrd_codes(patients.data)
        with_tx, without = counterfactual_states(assessment_times(patients), codes, at)
        seeds = np.random.SeedSequence(seed).spawn(2)
        draws = {name: curves(simulate_from_landmark(params, design, states, replicates=replicates, seed=child,
                                                     transplant_from_remission=allowed), None, times)
                 for (name, states, allowed), child in zip((("transplant", with_tx, True),
                                                            ("no_transplant", without, False)), seeds)}
        data = {}
        for key, field in (("event_free_survival", "efs"), ("overall_survival", "os")):
            stacked = np.stack([getattr(draws[k], field) for k in ("transplant", "no_transplant")], axis=2)
            data[key] = summarise_draws(stacked, ("patient", "scenario", "time"), interval)
            diff = getattr(draws["transplant"], field) - getattr(draws["no_transplant"], field)
            data[f"{field}_difference"] = summarise_draws(diff, ("patient", "time"), interval)
        ds = xr.Dataset(data, coords={"patient": patients.data["patient_id"].astype(str).tolist(),
                                      "scenario": ["transplant", "no_transplant"], "time": times, **estimate_coords()})
        ds.attrs.update(credible_interval=interval, transplant_month=float(at))
        return ds

    def survival_curves(self, groups: dict[str, Cohort], times: list[float] | np.ndarray | None = None, *,
                        interval: float = 0.95, replicates: int = 20, max_draws: int = 200,
                        seed: int = 0) -> xr.Dataset:
        """Marginal curves of groups of patients at relapse, averaged over each group's patients
        per draw: ``event_free_survival``, ``overall_survival``, ``relapse_incidence`` and
        ``hsct_probability`` (group x time x estimate), as :meth:`RelapseModel.survival_curves`."""
        self.posterior  # noqa: B018 - raises NotFittedError naming fit()
        times = _checked_times(DEFAULT_TIMES if times is None else times, None)
        params = self.parameters(max_draws)
        per_group = {}
        for name, cohort in groups.items():
            c = predict_draws(params, self.design(cohort), assessment_times(cohort), times, replicates=replicates, seed=seed)
            per_group[name] = {"event_free_survival": c.efs, "overall_survival": c.os, "relapse_incidence": c.relapse,
                               "hsct_probability": c.hsct}
        names = list(per_group)
        data = {key: summarise_draws(np.stack([per_group[g][key].mean(axis=1) for g in names], axis=1),
                                     ("group", "time"), interval) for key in per_group[names[0]]}
        ds = xr.Dataset(data, coords={"group": names, "time": times, **estimate_coords()})
        ds.attrs["credible_interval"] = interval
        return ds

    def predict(self, patients: Cohort, times: list[float] | np.ndarray = DEFAULT_TIMES, *,
                landmark: float | None = None, replicates: int = 200, max_draws: int = 200, interval: float = 0.95,
                seed: int = 0) -> xr.Dataset:
        """Predictions for patients at first relapse, or given their path so far at a landmark.

        Parameters
        ----------
        patients : Cohort
            At relapse only the covariates are used (outcome columns may be left out, see
            :func:`relapse_model.cohort.load_patients`). With ``landmark`` each patient's
            observed path up to then is used (response, MRD, transplant, relapse, follow-up).
        times : sequence of float
            Months from first relapse (after ``landmark`` when one is given).
        landmark : float, optional
            Predict from each patient's observed state at this month (see
            :mod:`relapse_model.models.pathway.landmark`); patients who died or whose
            follow-up ended before it are reported in ``landmark_state`` with NaN predictions.
        replicates : int
            Simulated paths per posterior draw and patient (Monte Carlo error about
            ``sqrt(p (1 - p) / replicates)`` per draw).
        max_draws : int
            Posterior draws used (evenly spaced).

        Returns
        -------
        xarray.Dataset
            ``state_occupation`` (patient x state x time), ``hsct_probability``,
            ``event_free_survival``, ``overall_survival``, ``relapse_incidence`` (patient x time),
            ``response_probability`` (patient x response) and ``cure_probability`` (patient), each
            with an ``estimate`` dimension (mean, lower, upper); with a landmark also
            ``landmark_state`` (patient).
        """
        self.posterior  # noqa: B018 - raises NotFittedError naming fit() first
        times = _checked_times(times, landmark)
        params = self.parameters(max_draws)
        design = self.design(patients)
        warn_extrapolation(patients, design, self._fitted_classes)
        states = None
        if landmark is not None:
            states = landmark_states(observed_paths(patients), landmark)
        assessment = states.assessment if states is not None else assessment_times(patients)
        draws = predict_draws(params, design, assessment, times, replicates=replicates, seed=seed, states=states)
        ds = summarise(draws, patients.data["patient_id"].astype(str).tolist(), times, interval)
        ds.attrs.update({"model": "pathway", "landmark": -1.0 if landmark is None else float(landmark),
                         "fit_hash": self.posterior.attrs.get("fit_hash", "")})
        if states is not None:
            ds["landmark_state"] = ("patient", states.labels)
        return ds


def _transition_counts(so) -> dict[str, int]:
    """How many patients made each transition the model estimates."""
    return {"response": int((so.response == RESPONSE).sum()), "refractory disease": int((so.response == REFRACTORY).sum()),
            "transplant from remission": int(so.is_transplanted.sum()),
            "relapse in remission": int(((so.u_exit == RELAPSE) & (so.is_response > 0)).sum()
                                        + ((so.v_exit == RELAPSE) & (so.is_transplanted > 0)).sum()),
            "death": int(so.w_dead.sum() + ((so.u_exit == DEATH) & (so.is_response > 0)).sum()
                         + ((so.v_exit == DEATH) & (so.is_transplanted > 0)).sum())}


def assessment_times(patients: Cohort) -> np.ndarray:
    """Response assessment times of patients at relapse (the column, blank = the default)."""
    data = patients.data
    if "response_assessment_months" not in data.columns:
        return np.full(len(data), DEFAULT_ASSESSMENT_MONTHS)
    return data["response_assessment_months"].fillna(DEFAULT_ASSESSMENT_MONTHS).to_numpy(dtype=float)


def _checked_times(times, landmark: float | None) -> np.ndarray:
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise InputError.single("predict", f"times {np.atleast_1d(times).tolist()}: give finite months >= 0")
    if landmark is not None:
        if not (np.isfinite(landmark) and landmark >= 0):
            raise InputError.single("predict", f"landmark = {landmark}: give months >= 0")
        if np.any(times <= landmark):
            raise InputError.single("predict", f"every time must be later than the landmark ({landmark:g} months)")
    return times

"""The hierarchical Bayesian relapse model: configure, fit, predict, check, save and load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel

from relapse_model.cohort.cohort import Cohort
from relapse_model.common.intervals import estimate_coords, summarise_draws
from relapse_model.common.paths import DEFAULT_PRIORS
from relapse_model.errors import InputError
from relapse_model.models import fit_file
from relapse_model.models.convergence import Thresholds, convergence_table
from relapse_model.models.design import Design, Standardisation, build_design
from relapse_model.models.extrapolation import fitted_classes, warn_extrapolation, warn_thin_data
from relapse_model.models.parameters import ParameterDraws, from_posterior, from_priors
from relapse_model.models.predict import patient_curves, summarise
from relapse_model.models.spec import ModelSpec, SamplerSpec, default, parse_model_spec, parse_sampler_spec
from relapse_model.priors.spec import PriorSet, load_priors


class NotFittedError(RuntimeError):
    """A result was asked for before :meth:`RelapseModel.fit` (or :meth:`RelapseModel.load`)."""


def _with_overrides(spec: BaseModel, overrides: dict[str, Any], source: str, parse) -> Any:
    unknown = sorted(set(overrides) - set(type(spec).model_fields))
    if unknown:
        raise InputError.single(source, f"unknown option(s) {', '.join(unknown)} "
                                f"(known: {', '.join(type(spec).model_fields)})")
    return parse({**spec.model_dump(), **overrides}, source) if overrides else spec


class RelapseModel:
    """Hierarchical Bayesian survival model of outcome after first relapse.

    Parameters
    ----------
    priors : str, Path or PriorSet, optional
        Default ``priors/default.toml`` (``priors/pathway.toml`` for ``outcome="pathway"``).
    spec : ModelSpec, optional
        The model (default :class:`ModelSpec()`). With ``outcome="pathway"`` the result is a
        :class:`~relapse_model.models.pathway.model.PathwayModel`, the multi-state model of the
        course after relapse.
    **overrides
        Fields of :class:`~relapse_model.models.spec.ModelSpec` to change, e.g.
        ``outcome="cure", endpoint="os"``, ``baseline="piecewise"``, ``cure=False``,
        ``stemness=None``, ``relapse_covariates=[...]``. An unknown name or a bad value is an
        InputError naming it.

    Examples
    --------
    >>> from relapse_model.cohort.bundled import load_bundled
    >>> model = RelapseModel(baseline="weibull").fit(load_bundled("bfm_like"), random_seed=1)
    >>> model.hazard_ratios()                                         # doctest: +SKIP
    >>> model.predict(load_bundled("bfm_like"), horizons=[12, 36, 60])  # doctest: +SKIP
    """

    def __new__(cls, priors: str | Path | PriorSet | None = None, spec: ModelSpec | None = None, **overrides: Any):
        outcome = overrides.get("outcome", spec.outcome if spec is not None else None)
        if cls is RelapseModel and outcome == "pathway":
            # the multi-state model has its own class (models/pathway); RelapseModel is the one entry point
            from relapse_model.models.pathway.model import PathwayModel
            return PathwayModel(priors, spec, **overrides)
        return super().__new__(cls)

    def __init__(self, priors: str | Path | PriorSet | None = None, spec: ModelSpec | None = None,
                 **overrides: Any):
        self.spec: ModelSpec = _with_overrides(spec or ModelSpec(), overrides, "model specification",
                                               parse_model_spec)
        self.priors: PriorSet = priors if isinstance(priors, PriorSet) else load_priors(priors or DEFAULT_PRIORS)
        self.sampler: SamplerSpec | None = None
        self._posterior: xr.DataTree | None = None
        self._design: Design | None = None
        self._data_hash: str | None = None
        self._cohort: Cohort | None = None
        self._fitted_classes: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        state = "fitted" if self._posterior is not None else "not fitted"
        changed = {k: v for k, v in self.spec.model_dump().items() if v != default(ModelSpec, k)}
        settings = ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "defaults"
        return f"RelapseModel({settings}; priors {self.priors.name!r}; {state})"

    # --- fitting --------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``"competing"``, or the single-event model's endpoint (``"efs"`` or ``"os"``)."""
        return self.spec.endpoint_kind

    def design(self, cohort: Cohort, *, with_outcome: bool = True) -> Design:
        """Design of ``cohort`` (for prediction: with the fitted standardisation and studies)."""
        fitted = self._design
        return build_design(cohort.data, stemness=self.spec.stemness, include_mrd=self.spec.include_mrd,
                            include_cr2=self.spec.include_cr2, endpoint=self.endpoint, with_outcome=with_outcome,
                            standardisation=fitted.standardisation if fitted else None,
                            studies=fitted.studies if fitted else None)

    def build(self, cohort: Cohort):
        """The PyMC model for ``cohort`` (without sampling)."""
        from relapse_model.models.build import build_pymc_model
        self._check_terms(self.design(cohort).covariates)
        return build_pymc_model(self.design(cohort), self.priors, self.spec)

    def _check_terms(self, available: tuple[str, ...]) -> None:
        for key in ("relapse_terms", "death_covariates"):
            bad = [c for c in getattr(self.spec, key) if c not in available]
            if bad:
                name = key.replace("_terms", "_covariates")
                raise InputError.single("model specification", f"{name}: {', '.join(bad)} not among the "
                                        f"model's covariates ({', '.join(available)})")

    def fit(self, cohort: Cohort, sampler: SamplerSpec | None = None, *, progressbar: bool = True,
            **overrides: Any) -> RelapseModel:
        """Sample the posterior with NUTS.

        Parameters
        ----------
        cohort : Cohort
        sampler : SamplerSpec, optional
            How to sample (default :class:`SamplerSpec()`: 4 chains of 1,000 tuning and 1,000
            kept draws, nutpie's NUTS on a Numba-compiled log density, bit-identical for one seed).
        progressbar : bool
        **overrides
            Fields of :class:`SamplerSpec` to change: ``draws``, ``tune``, ``chains``, ``cores``,
            ``random_seed``, ``target_accept``, ``nuts``, ``adaptation``.

        Returns
        -------
        RelapseModel
            ``self``, fitted.
        """
        sampling = _with_overrides(sampler or SamplerSpec(), overrides, "sampler specification",
                                   parse_sampler_spec)
        self._design = None
        design = self.design(cohort)
        self._check_terms(design.covariates)
        warn_thin_data(cohort.source, design, _event_counts(design, self.spec.competing))
        self._sample_design(design, sampling, progressbar)
        self._cohort, self._data_hash = cohort, fit_file.cohort_hash(cohort)
        self._stamp()
        return self

    def fit_arrays(self, X: np.ndarray, names: list[str], time: np.ndarray, *, event: np.ndarray | None = None,
                   cause: np.ndarray | None = None, sampler: SamplerSpec | None = None, progressbar: bool = True,
                   **overrides: Any) -> RelapseModel:
        """Fit to data outside the cohort schema (e.g. scikit-survival's data sets).

        Parameters
        ----------
        X : ndarray (n, p)
            Covariates (standardise continuous ones yourself); priors come from the ``default_effect``
            entries of the priors file unless a name matches a schema covariate.
        names : list of str
        time : ndarray (n,)
        event : ndarray (n,), for ``outcome="cure"``
        cause : ndarray (n,) of {0, 1, 2}, for ``outcome="competing"`` (1 relapse, 2 death without relapse)
        sampler, progressbar, **overrides
            As for :meth:`fit`.

        The model is fitted under :meth:`ModelSpec.for_array_data` of its specification: no class /
        study hierarchy (there are no classes or studies).
        """
        if (cause is None) == (event is None) or (cause is None) == self.spec.competing:
            raise InputError.single("fit_arrays", "give cause= for outcome 'competing' and event= for 'cure'")
        names = [str(n) for n in names]
        self.spec = self.spec.for_array_data(names)
        self._check_terms(tuple(names))
        sampling = _with_overrides(sampler or SamplerSpec(), overrides, "sampler specification",
                                   parse_sampler_spec)
        n = len(time)
        cause_arr = np.asarray(cause, dtype=np.int64) if cause is not None else None
        event_arr = (cause_arr > 0).astype(np.int64) if cause_arr is not None else np.asarray(event, dtype=np.int64)
        design = Design(np.asarray(X, dtype=float), tuple(names), np.zeros(n, np.int64), np.zeros(n, np.int64),
                        ("all",), Standardisation(), np.maximum(np.asarray(time, float), 1e-3), event_arr, cause_arr)
        self._sample_design(design, sampling, progressbar)
        self._cohort = None
        self._data_hash = fit_file.sha256(np.column_stack([design.X, design.time, event_arr]).tobytes())
        self._stamp()
        return self

    def _sample_design(self, design: Design, sampling: SamplerSpec, progressbar: bool) -> None:
        from relapse_model.models.build import build_pymc_model
        model = build_pymc_model(design, self.priors, self.spec)
        self._posterior = _sample(model, sampling, progressbar)
        self._design, self.sampler = design, sampling

    def _stamp(self) -> None:
        d = self._design
        self._fitted_classes = fitted_classes(d) if self._cohort is not None else None
        fit_file.stamp_provenance(self._posterior, spec=self.spec, sampler=self.sampler, priors=self.priors,
                                  data_hash=self._data_hash or "", standardisation=d.standardisation, studies=d.studies,
                                  classes=self._fitted_classes or (),
                                  cohort_source=self._cohort.source if self._cohort is not None else "")

    # --- results ---------------------------------------------------------------------------

    @property
    def posterior(self) -> xr.DataTree:
        """The fitted DataTree (posterior, sample_stats, log_likelihood, observed_data)."""
        if self._posterior is None:
            raise NotFittedError("this model has no posterior yet: call fit(cohort) first "
                                 "(or RelapseModel.load(path) for a saved fit)")
        return self._posterior

    def parameters(self, max_draws: int | None = None) -> ParameterDraws:
        """Posterior draws in the plain-NumPy layout used by prediction and simulation."""
        params = from_posterior(self.posterior["posterior"].to_dataset(), self.spec)
        return params.thin(max_draws) if max_draws else params

    def prior_parameters(self, n_draws: int = 1000, seed: int = 0, cohort: Cohort | None = None) -> ParameterDraws:
        """Draws from the priors in the same layout (prior-predictive checks)."""
        design = self._design or (self.design(cohort) if cohort is not None else None)
        if design is None:
            raise NotFittedError("prior_parameters needs a cohort: pass cohort=... or call fit() first")
        return from_priors(self.priors, self.spec, design.covariates, len(design.studies), n_draws, seed)

    def prior_predictive(self, cohort: Cohort, horizons: tuple[float, ...] = (12.0, 60.0),
                         n_draws: int = 1000, seed: int = 0) -> pd.DataFrame:
        """Cohort-average EFS, relapse incidence and cure implied by the priors alone."""
        from relapse_model.models.prior_predictive import prior_predictive
        return prior_predictive(self, cohort, horizons, n_draws, seed)

    def check(self, thresholds: Thresholds | None = None) -> pd.DataFrame:
        """Convergence diagnostics with pass/fail (R-hat <= 1.01, ESS >= 400, no divergences)."""
        return convergence_table(self.posterior, thresholds)

    @property
    def passed_checks(self) -> bool:
        """True when every convergence diagnostic passed."""
        return bool(self.check()["passed"].all())

    def hazard_ratios(self, interval: float = 0.95) -> pd.DataFrame:
        """Effects on their natural scale: odds ratios of cure, hazard ratios of relapse and of death.

        Posterior median and equal-tailed credible interval, with the prior's beside them.
        """
        from relapse_model.models.effects import effect_table, readable_effects
        return readable_effects(effect_table(self.posterior["posterior"].to_dataset(), self.priors, self.spec, interval))

    def predict(self, patients: Cohort, horizons: list[float] | np.ndarray = (12, 36, 60), *,
                conditional_on_survival_to: float | None = None, interval: float = 0.95,
                max_draws: int = 1000, progressbar: bool = False) -> xr.Dataset:
        """Per-patient posterior probabilities with credible intervals.

        Parameters
        ----------
        patients : Cohort
            Patients to predict for (outcome columns are not needed: see
            :func:`relapse_model.cohort.load_patients`).
        horizons : sequence of float
            Months since first relapse.
        conditional_on_survival_to : float, optional
            Condition on being event-free (alive, for the OS model) at this many months; every
            horizon must be later.
        progressbar : bool
            Show progress over the patients on stderr (for large files: 800 patients take about
            20 s with 1,000 draws).

        Returns
        -------
        xarray.Dataset
            Dims ``patient`` x ``horizon``: ``relapse_incidence``, ``death_without_relapse``,
            ``event_free_survival`` (competing-risk model) or ``survival`` (single endpoint), and
            ``cure_probability`` per patient; each with an ``estimate`` dimension (``mean``,
            ``lower``, ``upper``; the interval's mass is the ``credible_interval`` attribute).
        """
        self.posterior  # noqa: B018 - raises NotFittedError naming fit() before any other work
        horizons = np.asarray(horizons, dtype=float)
        s = conditional_on_survival_to
        if horizons.size == 0 or not np.all(np.isfinite(horizons)) or np.any(horizons <= 0):
            raise InputError.single("predict", f"horizons {horizons.tolist()}: give positive, finite months")
        if s is not None and not (np.isfinite(s) and s >= 0):
            raise InputError.single("predict", f"conditional_on_survival_to = {s}: give months >= 0")
        if s is not None and np.any(horizons <= s):
            raise InputError.single("predict", f"every horizon must be later than "
                                    f"conditional_on_survival_to = {s:g} months")
        design = self.design(patients, with_outcome=False)
        warn_extrapolation(patients, design, self._fitted_classes)
        from relapse_model.common.progress import progress_bar
        with progress_bar(f"predicting {len(patients)} patients", len(patients), enabled=progressbar) as update:
            draws = patient_curves(self.parameters(max_draws), design, horizons, conditional_on=s,
                                   progress=lambda done, total: update(done, total))
        ds = summarise(draws, patients.data["patient_id"].astype(str).tolist(), horizons, interval)
        ds.attrs.update({"endpoint": self.endpoint, "conditional_on_survival_to": -1.0 if s is None else float(s),
                         "fit_hash": self.posterior.attrs.get("fit_hash", "")})
        return ds

    def efs_draws(self, patients: Cohort, horizons: list[float] | np.ndarray) -> np.ndarray:
        """EFS (or the single endpoint's survival) of each patient at each horizon under every
        posterior draw, chains stacked: (S, n, H), for LOO expectations
        (:func:`relapse_model.checks.loo.loo_efs_accuracy`)."""
        curves = patient_curves(self.parameters(), self.design(patients, with_outcome=False),
                                np.asarray(horizons, dtype=float))
        return curves["event_free_survival" if "event_free_survival" in curves else "survival"]

    def survival_curves(self, groups: str | dict[str, Cohort], times: list[float] | np.ndarray | None = None,
                        *, interval: float = 0.95, max_draws: int = 1000) -> xr.Dataset:
        """Marginal curves of groups of patients, averaged over each group's patients per draw.

        Parameters
        ----------
        groups : str or dict
            A column of the fitted cohort to group by (e.g. ``"risk_group"``, ``"early_relapse"``)
            or a mapping of group name to Cohort.
        times : sequence of float, optional
            Months (default 0 to 96 by 2).
        """
        self.posterior  # noqa: B018 - raises NotFittedError naming fit()
        times = np.arange(0.0, 97.0, 2.0) if times is None else np.asarray(times, dtype=float)
        times = np.where(times <= 0, 1e-6, times)
        if isinstance(groups, str):
            cohort = self.fitted_cohort()
            if groups not in cohort.data:
                raise InputError.single("survival_curves", f"'{groups}' is not a column of the fitted cohort "
                                        "(e.g. 'risk_group', 'early_relapse', 'mrd_positive')")
            column = cohort.data[groups].astype(str)
            groups = {g: cohort.subset(column == g) for g in sorted(column.unique())}
        params = self.parameters(max_draws)
        per_group: dict[str, dict[str, np.ndarray]] = {}
        for name, cohort in groups.items():
            curves = patient_curves(params, self.design(cohort, with_outcome=False), times)
            per_group[name] = {k: v.mean(axis=1) for k, v in curves.items() if v.ndim == 3}
        names = list(per_group)
        data_vars = {key: summarise_draws(np.stack([per_group[g][key] for g in names], axis=1), ("group", "time"),
                                          interval)                                   # draws (S, G, T)
                     for key in per_group[names[0]]}
        ds = xr.Dataset(data_vars, coords={"group": names, "time": times, **estimate_coords()})
        ds.attrs["credible_interval"] = interval
        return ds

    def fitted_cohort(self) -> Cohort:
        """The cohort this model was fitted to.

        After :meth:`fit`, the cohort in memory; after :meth:`load`, the ``cohort=`` given there,
        else the file the fit recorded (its ``cohort_source``), read again and checked against
        the fit's data hash.

        Raises
        ------
        NotFittedError
            Not fitted, or fitted to data outside the cohort schema (:meth:`fit_arrays`), or the
            recorded file is gone or holds other data than the fit's (then pass ``cohort=`` to
            :meth:`load`).
        """
        if self._cohort is None:
            self._cohort = recorded_cohort(self.posterior)
        return self._cohort

    def plot_effects(self, interval: float = 0.95):
        """The report's forest plot: every effect on its ratio scale, posterior median and
        credible interval beside the prior's, one panel per scale.

        Returns
        -------
        matplotlib.figure.Figure
            ``fig.savefig("effects.png")`` writes it; a notebook shows it.
        """
        from relapse_model.models.plots import draw_forest
        return draw_forest(self.hazard_ratios(interval))

    def plot_survival_curves(self, groups: str | dict[str, Cohort], times: list[float] | np.ndarray | None = None,
                             names: list[str] | None = None, *, interval: float = 0.95):
        """Marginal curves of :meth:`survival_curves` with their credible bands (the report's curve
        figure): one panel per quantity (default EFS and relapse incidence), one line per group.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from relapse_model.models.plots import draw_curves
        curves = self.survival_curves(groups, times, interval=interval)
        title = f"by {groups.replace('_', ' ')}" if isinstance(groups, str) else ""
        return draw_curves(curves, names, title=title)

    # --- persistence -----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the fit (posterior, diagnostics, specifications, priors, hashes) as NetCDF, with a
        content hash that :meth:`load` checks."""
        return fit_file.write_fit(self.posterior, path)

    @classmethod
    def load(cls, path: str | Path, *, cohort: Cohort | None = None,
             priors: str | Path | PriorSet | None = None) -> RelapseModel:
        """Load a saved fit; refuse it when it does not match.

        The file's content hash (every draw, sample statistic, log-likelihood value and
        attribute) must match, no posterior draw may be NaN or infinite, the package version
        must be this one, and a ``cohort`` or ``priors`` passed here must be the ones the fit
        was made with. A fit of the pathway model loads as a
        :class:`~relapse_model.models.pathway.model.PathwayModel`.
        """
        saved = fit_file.read_fit(path, cohort=cohort, priors=priors)
        if saved.spec.pathway:
            from relapse_model.models.pathway.model import PathwayModel
            return PathwayModel.from_saved(saved, path, cohort)
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


def recorded_cohort(tree: xr.DataTree) -> Cohort:
    """The cohort a saved fit records (``cohort_source``), read again; it must hold the fit's data."""
    from relapse_model.cohort.cohort import load_cohort

    source = str(tree.attrs.get("cohort_source", ""))
    if not source or not Path(source).is_file():
        where = f"its cohort file {source} is not there" if source else "the fit does not record a cohort file"
        raise NotFittedError(f"this needs the cohort the fit was made on and {where}: load the fit with "
                             "RelapseModel.load(path, cohort=...)")
    cohort = load_cohort(source)
    if fit_file.cohort_hash(cohort) != tree.attrs.get("data_hash"):
        raise NotFittedError(f"the fit's cohort file {source} has changed since the fit (or was read with other "
                             "column names or missing-value tokens): load the fit with RelapseModel.load(path, "
                             "cohort=...)")
    return cohort


def _event_counts(design: Design, competing: bool) -> dict[str, int]:
    if competing:
        return {"second relapse or refractory disease": int((design.cause == 1).sum()),
                "death without relapse": int((design.cause == 2).sum())}
    return {"event": int(np.asarray(design.event).sum())}


def _sample(model, sampler: SamplerSpec, progressbar: bool) -> xr.DataTree:
    """NUTS draws plus the pointwise log-likelihood (every row, for LOO), known noise silenced."""
    from relapse_model.models.sampling import sample_posterior
    return sample_posterior(model, draws=sampler.draws, tune=sampler.tune, chains=sampler.chains,
                            cores=sampler.cores, random_seed=sampler.random_seed, sampler=sampler.nuts,
                            target_accept=sampler.target_accept, progressbar=progressbar,
                            options=sampler.sampler_options())

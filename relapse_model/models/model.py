"""The hierarchical Bayesian relapse model: configure, fit, predict, check, save and load."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model import __version__
from relapse_model.checks.convergence import Thresholds, convergence_table
from relapse_model.cohort.cohort import Cohort
from relapse_model.errors import InputError
from relapse_model.models.baselines import DEFAULT_GRID_MONTHS
from relapse_model.models.design import Design, Standardisation, build_design, covariate_names
from relapse_model.models.parameters import ParameterDraws, from_posterior, from_priors
from relapse_model.models.predict import patient_curves, summarise
from relapse_model.priors.spec import PriorSet, load_priors

PRIORS_DIR = Path(__file__).resolve().parents[2] / "priors"
DEFAULT_PRIORS = PRIORS_DIR / "default.toml"

DEFAULT_CONFIG: dict[str, Any] = {
    "outcome": "competing",        # "competing" (relapse vs death without relapse) or "cure"
    "endpoint": "efs",             # endpoint of the single-event "cure" outcome: "efs" or "os"
    "cure": True,                  # mixture cure fraction (acts on relapse)
    "baseline": "weibull",         # "weibull" or "piecewise"
    "grid": list(DEFAULT_GRID_MONTHS),
    "stemness": "lsc17",           # "lsc17", "plsc6" or None
    "include_mrd": True,
    "include_cr2": False,          # response to re-induction (a landmark covariate)
    "relapse_covariates": "all",   # covariates on the relapse hazard of the non-cured
    "death_covariates": ["hsct_cr1", "age_per_10y"],
    "hierarchy": True,             # cytogenetic classes nested in risk groups, and study effects
}
_CHOICES = {"outcome": ("competing", "cure"), "endpoint": ("efs", "os"),
            "baseline": ("weibull", "piecewise"), "stemness": ("lsc17", "plsc6", None)}


class NotFittedError(RuntimeError):
    """A result was asked for before :meth:`RelapseModel.fit` (or :meth:`RelapseModel.load`)."""


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def cohort_hash(cohort: Cohort) -> str:
    """Hash of the validated data (independent of file format and column order of extras)."""
    frame = cohort.data.drop(columns=cohort.extra_columns)
    return _sha(frame.to_csv(index=False, lineterminator="\n"))


class RelapseModel:
    """Hierarchical Bayesian survival model of outcome after first relapse.

    Parameters
    ----------
    priors : str, Path or PriorSet, default ``priors/default.toml``
    **config
        Overrides of :data:`DEFAULT_CONFIG`: ``outcome`` ("competing" or "cure"), ``endpoint``
        ("efs" or "os", single-event model only), ``cure`` (bool), ``baseline`` ("weibull" or
        "piecewise"), ``grid`` (piecewise cuts in months), ``stemness`` ("lsc17", "plsc6" or
        None), ``include_mrd``, ``include_cr2``, ``relapse_covariates`` ("all" or a list),
        ``death_covariates`` (list).

    Examples
    --------
    >>> from relapse_model.cohort.bundled import load_bundled
    >>> model = RelapseModel(baseline="weibull").fit(load_bundled("bfm_like"), random_seed=1)
    >>> model.hazard_ratios()                                         # doctest: +SKIP
    >>> model.predict(load_bundled("bfm_like"), horizons=[12, 36, 60])  # doctest: +SKIP
    """

    def __init__(self, priors: str | Path | PriorSet = DEFAULT_PRIORS, **config: Any):
        unknown = sorted(set(config) - set(DEFAULT_CONFIG))
        if unknown:
            raise InputError.single("model config", f"unknown option(s) {', '.join(unknown)} "
                                    f"(known: {', '.join(DEFAULT_CONFIG)})")
        merged = {**DEFAULT_CONFIG, **config}
        for key, allowed in _CHOICES.items():
            if merged[key] not in allowed:
                raise InputError.single("model config", f"{key} = {merged[key]!r} is not one of "
                                        f"{', '.join(map(str, allowed))}")
        covs = covariate_names(merged["stemness"], merged["include_mrd"], merged["include_cr2"])
        self._all_relapse_covariates = merged["relapse_covariates"] == "all"
        if merged["relapse_covariates"] == "all":
            merged["relapse_covariates"] = list(covs)
        for key in ("relapse_covariates", "death_covariates"):
            merged[key] = list(merged[key])
        self._check_covariates(merged, covs)
        if merged["outcome"] == "cure":
            merged["death_covariates"] = []
        merged["grid"] = [float(g) for g in merged["grid"]]
        self.config: dict[str, Any] = merged
        self.priors: PriorSet = priors if isinstance(priors, PriorSet) else load_priors(priors)
        self._posterior: xr.DataTree | None = None
        self._design: Design | None = None
        self._data_hash: str | None = None
        self._cohort: Cohort | None = None

    @staticmethod
    def _check_covariates(config: dict[str, Any], available: tuple[str, ...] | list[str],
                          strict: bool = False) -> None:
        """Hazard covariates must be among the design's. Names outside the cohort schema are
        allowed at construction (``fit_arrays`` data have their own names) and checked by
        ``strict=True`` once the data are known."""
        from relapse_model.priors.spec import COVARIATES
        for key in ("relapse_covariates", "death_covariates"):
            bad = [c for c in config[key] if c not in available and (strict or c in COVARIATES)]
            if bad:
                raise InputError.single("model config", f"{key}: {', '.join(bad)} not among the "
                                        f"model's covariates ({', '.join(available)})")

    # --- fitting --------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return "competing" if self.config["outcome"] == "competing" else self.config["endpoint"]

    def design(self, cohort: Cohort, *, with_outcome: bool = True) -> Design:
        """Design of ``cohort`` (for prediction: with the fitted standardisation and studies)."""
        fitted = self._design
        self._check_covariates(self.config, covariate_names(self.config["stemness"], self.config["include_mrd"],
                                                            self.config["include_cr2"]), strict=True)
        return build_design(cohort.data, stemness=self.config["stemness"],
                            include_mrd=self.config["include_mrd"], include_cr2=self.config["include_cr2"],
                            endpoint=self.endpoint, with_outcome=with_outcome,
                            standardisation=fitted.standardisation if fitted else None,
                            studies=fitted.studies if fitted else None)

    def build(self, cohort: Cohort):
        """The PyMC model for ``cohort`` (without sampling)."""
        from relapse_model.models.build import build_pymc_model
        return build_pymc_model(self.design(cohort), self.priors, self.config)

    def fit(self, cohort: Cohort, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
            cores: int | None = None, random_seed: int = 0, sampler: str = "pymc",
            target_accept: float = 0.95, progressbar: bool = True) -> RelapseModel:
        """Sample the posterior with NUTS.

        The default sampler is PyMC's NUTS on PyTensor's C backend: measured on PyMC 6.4 it gives
        bit-identical draws for one seed in any process, with a cold or a warm compile cache,
        whereas the Numba backend (nutpie's default) did not. ``sampler="nutpie"`` is accepted if
        nutpie is installed, without that guarantee.

        Returns
        -------
        RelapseModel
            ``self``, fitted.
        """

        if sampler not in ("pymc", "nutpie"):
            raise InputError.single("fit", f"sampler {sampler!r} is not one of pymc, nutpie")
        self._design = None
        design = self.design(cohort)
        from relapse_model.models.build import build_pymc_model
        model = build_pymc_model(design, self.priors, self.config)
        idata = _sample(model, draws=draws, tune=tune, chains=chains, cores=cores, random_seed=random_seed,
                        sampler=sampler, target_accept=target_accept, progressbar=progressbar)
        self._posterior, self._design, self._cohort = idata, design, cohort
        self._data_hash = cohort_hash(cohort)
        self._stamp(idata, random_seed, sampler, draws, tune, chains)
        return self

    def fit_arrays(self, X: np.ndarray, names: list[str], time: np.ndarray, *, event: np.ndarray | None = None,
                   cause: np.ndarray | None = None, draws: int = 1000, tune: int = 1000, chains: int = 4,
                   random_seed: int = 0, target_accept: float = 0.95, progressbar: bool = True) -> RelapseModel:
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

        The class / study hierarchy is switched off (there are no classes or studies).
        """

        from relapse_model.models.build import build_pymc_model

        competing = self.config["outcome"] == "competing"
        if (cause is None) == (event is None) or (cause is None) == competing:
            raise InputError.single("fit_arrays", "give cause= for outcome 'competing' and event= for 'cure'")
        names = [str(n) for n in names]
        self.config["hierarchy"] = False
        if self._all_relapse_covariates:
            self.config["relapse_covariates"] = list(names)
        self._check_covariates(self.config, names, strict=True)
        n = len(time)
        cause_arr = np.asarray(cause, dtype=np.int64) if cause is not None else None
        event_arr = (cause_arr > 0).astype(np.int64) if cause_arr is not None else np.asarray(event, dtype=np.int64)
        design = Design(np.asarray(X, dtype=float), tuple(names), np.zeros(n, np.int64), np.zeros(n, np.int64),
                        ("all",), Standardisation(), np.maximum(np.asarray(time, float), 1e-3), event_arr, cause_arr)
        model = build_pymc_model(design, self.priors, self.config)
        idata = _sample(model, draws=draws, tune=tune, chains=chains, cores=None, random_seed=random_seed,
                        sampler="pymc", target_accept=target_accept, progressbar=progressbar)
        self._posterior, self._design, self._cohort = idata, design, None
        self._data_hash = _sha(np.column_stack([design.X, design.time, event_arr]).tobytes())
        self._stamp(idata, random_seed, "pymc", draws, tune, chains)
        return self

    def _stamp(self, idata: xr.DataTree, seed: int, sampler: str, draws: int, tune: int, chains: int) -> None:
        idata.attrs.update({
            "relapse_model_version": __version__,
            "config": json.dumps(self.config, sort_keys=True),
            "priors_text": self.priors.text,
            "priors_path": self.priors.path,
            "priors_hash": _sha(self.priors.text),
            "data_hash": self._data_hash or "",
            "standardisation": json.dumps(asdict(self._design.standardisation), sort_keys=True),
            "studies": json.dumps(list(self._design.studies)),
            "random_seed": int(seed), "sampler": sampler,
            "draws": int(draws), "tune": int(tune), "chains": int(chains),
        })
        idata.attrs["fit_hash"] = self._fit_hash(idata.attrs)

    @staticmethod
    def _fit_hash(attrs: dict[str, Any]) -> str:
        return _sha("\n".join(str(attrs[k]) for k in
                              ("relapse_model_version", "config", "priors_hash", "data_hash")))

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
        params = from_posterior(self.posterior["posterior"].to_dataset(), self.config)
        return params.thin(max_draws) if max_draws else params

    def prior_parameters(self, n_draws: int = 1000, seed: int = 0, cohort: Cohort | None = None) -> ParameterDraws:
        """Draws from the priors in the same layout (prior-predictive checks)."""
        design = self._design or (self.design(cohort) if cohort is not None else None)
        if design is None:
            raise NotFittedError("prior_parameters needs a cohort: pass cohort=... or call fit() first")
        return from_priors(self.priors, self.config, design.covariates, len(design.studies), n_draws, seed)

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
        from relapse_model.models.effects import effect_table
        return effect_table(self.posterior["posterior"].to_dataset(), self.priors, self.config, interval)

    def predict(self, patients: Cohort, horizons: list[float] | np.ndarray = (12, 36, 60), *,
                conditional_on_survival_to: float | None = None, interval: float = 0.95,
                max_draws: int = 1000) -> xr.Dataset:
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

        Returns
        -------
        xarray.Dataset
            Dims ``patient`` x ``horizon``: ``relapse_incidence``, ``death_without_relapse``,
            ``event_free_survival`` (competing-risk model) or ``survival`` (single endpoint), and
            ``cure_probability`` per patient; each with ``_lower`` and ``_upper`` bounds.
        """
        self.posterior  # noqa: B018 - raises NotFittedError naming fit() before any other work
        horizons = np.asarray(horizons, dtype=float)
        s = conditional_on_survival_to
        if s is not None and np.any(horizons <= s):
            raise InputError.single("predict", f"every horizon must be later than "
                                    f"conditional_on_survival_to = {s:g} months")
        design = self.design(patients, with_outcome=False)
        draws = patient_curves(self.parameters(max_draws), design, horizons, conditional_on=s)
        ds = summarise(draws, patients.data["patient_id"].astype(str).tolist(), horizons, interval)
        ds.attrs.update({"endpoint": self.endpoint, "conditional_on_survival_to": -1.0 if s is None else float(s),
                         "fit_hash": self.posterior.attrs.get("fit_hash", "")})
        return ds

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
            if self._cohort is None:
                raise NotFittedError("grouping by a column needs the fitted cohort: pass a dict of cohorts")
            column = self._cohort.data[groups].astype(str)
            groups = {g: self._cohort.subset(column == g) for g in sorted(column.unique())}
        params = self.parameters(max_draws)
        lo, hi = (1 - interval) / 2, 1 - (1 - interval) / 2
        per_group: dict[str, dict[str, np.ndarray]] = {}
        for name, cohort in groups.items():
            curves = patient_curves(params, self.design(cohort, with_outcome=False), times)
            per_group[name] = {k: v.mean(axis=1) for k, v in curves.items() if v.ndim == 3}
        names = list(per_group)
        data_vars = {}
        for key in per_group[names[0]]:
            arr = np.stack([per_group[g][key] for g in names], axis=1)      # (S, G, T)
            data_vars[key] = (("group", "time"), arr.mean(axis=0))
            data_vars[f"{key}_lower"] = (("group", "time"), np.quantile(arr, lo, axis=0))
            data_vars[f"{key}_upper"] = (("group", "time"), np.quantile(arr, hi, axis=0))
        ds = xr.Dataset(data_vars, coords={"group": names, "time": times})
        ds.attrs["credible_interval"] = interval
        return ds

    # --- persistence -----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the fit (posterior, diagnostics, config, priors, hashes) as NetCDF."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.posterior.to_netcdf(path, engine="h5netcdf")
        return path

    @classmethod
    def load(cls, path: str | Path, *, cohort: Cohort | None = None,
             priors: str | Path | PriorSet | None = None) -> RelapseModel:
        """Load a saved fit; refuse it when it does not match.

        The stored hash of (package version, config, priors, data) must match the stored
        content, the package version must be this one, and a ``cohort`` or ``priors`` passed
        here must be the ones the fit was made with.
        """
        path = Path(path)
        if not path.is_file():
            raise InputError.single(str(path), "fit file not found")
        try:
            tree = xr.open_datatree(path, engine="h5netcdf").load()
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file to the user
            raise InputError.single(str(path), f"not a readable fit file ({type(exc).__name__})") from None
        attrs = tree.attrs
        needed = ("fit_hash", "config", "priors_text", "relapse_model_version", "data_hash")
        if any(k not in attrs for k in needed):
            raise InputError.single(str(path), "not a relapse-model fit (provenance attributes missing)")
        if attrs["relapse_model_version"] != __version__:
            raise InputError.single(str(path), f"fit made with relapse-model {attrs['relapse_model_version']}, "
                                    f"this is {__version__}: refit the model")
        if cls._fit_hash(attrs) != attrs["fit_hash"] or _sha(attrs["priors_text"]) != attrs["priors_hash"]:
            raise InputError.single(str(path), "fit hash does not match its content (file altered?): refit the model")
        prior_set = _prior_set_from_text(attrs["priors_text"], attrs.get("priors_path", str(path)))
        if priors is not None:
            given = priors if isinstance(priors, PriorSet) else load_priors(priors)
            if _sha(given.text) != attrs["priors_hash"]:
                raise InputError.single(str(getattr(given, "path", priors)), "these priors differ from "
                                        "the ones the fit was made with: refit, or load without priors=")
        model = cls(prior_set, **json.loads(attrs["config"]))
        if cohort is not None and cohort_hash(cohort) != attrs["data_hash"]:
            raise InputError.single(cohort.source, "this cohort differs from the one the fit was made "
                                    "with: refit, or load without cohort=")
        std = json.loads(attrs["standardisation"])
        studies = tuple(json.loads(attrs["studies"]))
        model._design = Design(np.zeros((0, 0)), (), np.zeros(0, int), np.zeros(0, int), studies,
                               Standardisation(**std))
        model._posterior, model._data_hash, model._cohort = tree, attrs["data_hash"], cohort
        return model


def _prior_set_from_text(text: str, source: str) -> PriorSet:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "priors.toml"
        p.write_text(text, encoding="utf-8")
        loaded = load_priors(p)
    return PriorSet(source, loaded.name, loaded.description, loaded.entries, text)


def _sample(model, *, draws: int, tune: int, chains: int, cores: int | None, random_seed: int, sampler: str,
            target_accept: float, progressbar: bool) -> xr.DataTree:
    """NUTS draws plus the pointwise log-likelihood (every row, for LOO), known noise silenced."""
    from relapse_model.models.sampling import sample_posterior
    return sample_posterior(model, draws=draws, tune=tune, chains=chains, cores=cores, random_seed=random_seed,
                            sampler=sampler, target_accept=target_accept, progressbar=progressbar)


def _quiet_known_warnings() -> None:
    # pip-installed PyTensor has no BLAS; our dot products are tiny matrix-vector ones
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    warnings.filterwarnings("ignore", category=FutureWarning, module="pymc")
    # early warm-up trajectories can overflow; NUTS rejects them (counted as divergences if
    # they happen after tuning, and then reported by check())
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="overflow encountered")
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="invalid value encountered")

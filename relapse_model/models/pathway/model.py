"""PathwayModel: fit the multi-state pathway model to a cohort, predict and simulate paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.cohort.cohort import Cohort
from relapse_model.common.paths import PATHWAY_PRIORS
from relapse_model.models.convergence import Thresholds, convergence_table
from relapse_model.models.design import Design, build_design
from relapse_model.models.model import NotFittedError, _sample, _with_overrides
from relapse_model.models.pathway.build import PathwayData, build_pathway_model
from relapse_model.models.pathway.likelihood import sojourns
from relapse_model.models.pathway.parameters import PathwayParameters, from_posterior, patient_predictors
from relapse_model.models.pathway.paths import DEFAULT_ASSESSMENT_MONTHS, observed_paths
from relapse_model.models.pathway.predict import curves, summarise
from relapse_model.models.pathway.simulate import SimulatedPaths, simulate_paths
from relapse_model.models.spec import SamplerSpec, parse_sampler_spec
from relapse_model.priors.spec import PriorSet, load_priors

#: Default prediction grid (months from relapse).
DEFAULT_TIMES = tuple(float(t) for t in np.arange(0.0, 61.0, 3.0))


class PathwayModel:
    """Bayesian multi-state model of the course after first relapse (issue 11, step 1).

    Parameters
    ----------
    priors : str, Path or PriorSet, default ``priors/pathway.toml``
    stemness : {"lsc17", "plsc6", None}
        Stemness score among the baseline covariates.
    hierarchy : bool
        Cytogenetic classes nested in risk groups, and study effects, on the refractory logit.

    Examples
    --------
    >>> model = PathwayModel().fit(cohort, draws=500, chains=2)          # doctest: +SKIP
    >>> model.predict(new_patients, times=[0, 6, 12, 24, 60])            # doctest: +SKIP
    """

    def __init__(self, priors: str | Path | PriorSet = PATHWAY_PRIORS, *, stemness: str | None = "lsc17",
                 hierarchy: bool = True):
        self.priors = priors if isinstance(priors, PriorSet) else load_priors(priors)
        self.stemness, self.hierarchy = stemness, hierarchy
        self.sampler: SamplerSpec | None = None
        self._posterior: xr.DataTree | None = None
        self._design: Design | None = None

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
        """Sample the posterior with NUTS (PyMC on PyTensor's C backend: bit-identical per seed).

        ``overrides`` are fields of :class:`SamplerSpec` (``draws``, ``tune``, ``chains``,
        ``random_seed`` ...). Returns ``self``, fitted.
        """
        sampling = _with_overrides(sampler or SamplerSpec(), overrides, "sampler specification", parse_sampler_spec)
        self._design = None
        data = self.data(cohort)
        model = build_pathway_model(data, self.priors, hierarchy=self.hierarchy)
        self._posterior = _sample(model, sampling, progressbar)
        self._design, self.sampler = data.design, sampling
        return self

    @property
    def posterior(self) -> xr.DataTree:
        """The fitted DataTree (posterior, sample_stats, log_likelihood with one term per patient)."""
        if self._posterior is None:
            raise NotFittedError("this PathwayModel has no posterior yet: call fit(cohort) first")
        return self._posterior

    def check(self, thresholds: Thresholds | None = None) -> pd.DataFrame:
        """Convergence diagnostics with pass/fail (R-hat, bulk and tail ESS, divergences, E-BFMI)."""
        return convergence_table(self.posterior, thresholds)

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
        """Whole paths of ``patients`` (covariates only are used) under posterior draws, (S, n, K)."""
        self.posterior  # noqa: B018 - raises NotFittedError naming fit() first
        a = np.full(len(patients), DEFAULT_ASSESSMENT_MONTHS if assessment is None else assessment)
        return simulate_paths(self.parameters(max_draws), self.design(patients), a, replicates=replicates,
                              censor=censor, seed=seed)

    def predict(self, patients: Cohort, times: list[float] | np.ndarray = DEFAULT_TIMES, *, replicates: int = 200,
                max_draws: int = 200, interval: float = 0.95, seed: int = 0) -> xr.Dataset:
        """Predictions for patients at first relapse (their paths so far are not used).

        Returns
        -------
        xarray.Dataset
            ``state_occupation`` (patient x state x time), ``hsct_probability``,
            ``event_free_survival``, ``overall_survival`` (patient x time),
            ``response_probability`` (patient x response) and ``cure_probability`` (patient), each
            with an ``estimate`` dimension (mean, lower, upper).
        """
        self.posterior  # noqa: B018 - raises NotFittedError naming fit() first
        times = np.asarray(times, dtype=float)
        params = self.parameters(max_draws)
        design = self.design(patients)
        paths = simulate_paths(params, design, np.full(design.n, DEFAULT_ASSESSMENT_MONTHS), replicates=replicates,
                               seed=seed)
        draws = curves(paths, patient_predictors(params, design), times)
        return summarise(draws, patients.data["patient_id"].astype(str).tolist(), times, interval)

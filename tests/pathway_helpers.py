"""Shared fixtures of the pathway tests: true parameters and fake cohorts from the simulator."""

from __future__ import annotations

import numpy as np

from relapse_model.cohort.bundled import load_bundled
from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.schema import COLUMNS
from relapse_model.models.design import build_design
from relapse_model.models.pathway.build import WEIBULLS
from relapse_model.models.pathway.parameters import PathwayParameters
from relapse_model.models.pathway.simulate import simulate_cohort

RESPONSE_COVARIATES = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd", "lsc17_z", "stemness_missing")
CURE_COVARIATES = RESPONSE_COVARIATES + ("mrd_positive", "mrd_unknown")
#: True values of the fake-data tests (one draw): realistic, within the priors' ranges.
TRUE_WEIBULL = {"relapse": (0.0, 2.0), "death": (0.0, 5.0), "transplant": (0.7, 1.0),
                "transplant_death": (-0.4, 5.0), "rr_death": (0.0, 2.0), "rr_transplant": (0.3, 1.8)}


def true_parameters(**changes) -> PathwayParameters:
    """One draw of true parameters; ``changes`` replace fields (scalars become (1,) arrays)."""
    values = dict(
        refractory_intercept=-1.7, refractory_beta=[1.5, 0.1, 1.2, 0.3, 0.2, 0.0],
        refractory_class=np.zeros(12), refractory_study=np.zeros(0),
        early_death_intercept=-2.8, early_death_beta=[0.0, 0.2, 0.4, 0.0, 0.0, 0.0],
        mrd_positive_log_odds=-0.5, mrd_unknown_log_odds=-1.0,
        remission_cure_intercept=-0.3, remission_cure_beta=[-1.0, -0.2, -0.7, -0.4, -0.25, 0.0, -1.0, 0.0],
        remission_cure_class=np.zeros(12), remission_cure_study=np.zeros(0),
        transplant_cure_shift=2.0, transplant_cure_modifier=[0.3, 0.0, 0.0],
        transplant_relapse_log_hr=0.0, rr_death_second_relapse_log_hr=-0.5,
        weibull=TRUE_WEIBULL)
    values.update(changes)
    arrays = {k: np.atleast_1d(np.asarray(v, float))[None, ...] if k != "weibull" else v for k, v in values.items()}
    arrays["refractory_intercept"] = arrays["refractory_intercept"].reshape(1)
    for k in ("early_death_intercept", "mrd_positive_log_odds", "mrd_unknown_log_odds", "remission_cure_intercept",
              "transplant_cure_shift", "transplant_relapse_log_hr", "rr_death_second_relapse_log_hr"):
        arrays[k] = arrays[k].reshape(1)
    arrays["weibull"] = {k: (np.array([values["weibull"][k][0]]), np.array([values["weibull"][k][1]]))
                         for k in WEIBULLS}
    return PathwayParameters(RESPONSE_COVARIATES, CURE_COVARIATES, **arrays)


def fake_cohort(n: int, params: PathwayParameters | None = None, seed: int = 0) -> Cohort:
    """``n`` patients resampled from the bundled COG-like cohort's covariates, one study, with
    paths drawn from ``params`` (default :func:`true_parameters`)."""
    template = load_bundled("cog_like").data
    rows = np.random.default_rng([seed, 7]).choice(len(template), size=n, replace=True)
    full = template.iloc[rows].reset_index(drop=True).assign(study="fake")
    covariates = full[[c.name for c in COLUMNS]].assign(patient_id=[f"P{i:04d}" for i in range(n)])
    design = build_design(full, stemness="lsc17", include_mrd=True, with_outcome=False)
    frame = simulate_cohort(params or true_parameters(), covariates, design, seed=seed)
    return Cohort.from_frame(frame, "fake.csv")


def jittered_parameters(n_draws: int = 20, seed: int = 0, **changes) -> PathwayParameters:
    """:func:`true_parameters` (with ``changes``) jittered into ``n_draws`` draws: a stand-in posterior."""
    from dataclasses import fields, replace

    rng = np.random.default_rng(seed)
    truth = true_parameters(**changes)
    jitter = {f.name: getattr(truth, f.name).repeat(n_draws, axis=0) + rng.normal(0, 0.1, (n_draws,) + getattr(
        truth, f.name).shape[1:]) for f in fields(truth) if isinstance(getattr(truth, f.name), np.ndarray)}
    jitter["weibull"] = {k: (a.repeat(n_draws) + rng.normal(0, 0.05, n_draws), b.repeat(n_draws))
                         for k, (a, b) in truth.weibull.items()}
    return replace(truth, **jitter)


class HandBuiltPathwayModel:
    """What the trial engine needs of a fitted pathway model, with a hand-built posterior."""

    def __init__(self, params: PathwayParameters | None = None):
        from types import SimpleNamespace

        from relapse_model.models.spec import ModelSpec
        self.spec = ModelSpec(outcome="pathway")
        self.params = params if params is not None else jittered_parameters(40)
        self.posterior = SimpleNamespace(attrs={"fit_hash": "hand-built"})

    def parameters(self, max_draws: int | None = None) -> PathwayParameters:
        return self.params.thin(max_draws) if max_draws else self.params

    def design(self, cohort: Cohort):
        return build_design(cohort.data, stemness="lsc17", include_mrd=True, with_outcome=False)

"""Hand-built parameters and simulated cohorts shared by the model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.models.design import build_design
from relapse_model.models.outcomes import simulate_outcomes, with_simulated_outcomes
from relapse_model.models.parameters import CauseParameters, ParameterDraws


def weibull_cause(log_shape, log_scale, covariates=(), beta=None, S=1, **extra) -> CauseParameters:
    beta = np.zeros((S, len(covariates))) if beta is None else np.atleast_2d(np.asarray(beta, float))
    return CauseParameters({"log_shape": np.full(S, float(log_shape)), "log_scale": np.full(S, float(log_scale))},
                           tuple(covariates), beta, **extra)


def competing_params(covariates: tuple[str, ...], *, S: int = 1, cure_beta=None, relapse_beta=None,
                     cure_intercept: float = 0.0, relapse=(0.2, 2.0), death=(-0.4, 6.0),
                     n_studies: int = 1, class_effect=None) -> ParameterDraws:
    """Competing-risk cure parameters (Weibull) with every covariate on cure and relapse."""
    p = len(covariates)
    cls = np.zeros((S, len(CYTOGENETICS))) if class_effect is None else np.tile(class_effect, (S, 1))
    return ParameterDraws(
        "weibull", (0.0,),
        relapse=weibull_cause(*relapse, covariates, np.zeros((S, p)) if relapse_beta is None else np.tile(relapse_beta, (S, 1)), S),
        death=weibull_cause(*death, (), None, S),
        cure_intercept=np.full(S, cure_intercept), cure_covariates=covariates,
        cure_beta=np.zeros((S, p)) if cure_beta is None else np.tile(cure_beta, (S, 1)),
        cure_class=cls, cure_study=np.zeros((S, n_studies)))


def simulated_cohort(cohort: Cohort, params: ParameterDraws, seed: int, *, endpoint: str = "competing",
                     stemness=None, include_mrd=False, censor=(24.0, 96.0)) -> Cohort:
    """The cohort's covariates with outcomes drawn from ``params`` (uniform administrative censoring)."""
    design = build_design(cohort.data, stemness=stemness, include_mrd=include_mrd,
                          endpoint=endpoint, with_outcome=False)
    rng = np.random.default_rng(seed)
    sim = simulate_outcomes(params, design, rng, censor_months=rng.uniform(*censor, design.n))
    frame = with_simulated_outcomes(cohort.data.drop(columns=["early_relapse", "risk_group", "mrd_positive",
                                                              "mrd_reason"]), sim)
    return Cohort.from_frame(pd.DataFrame(frame), f"simulated from {cohort.source}")

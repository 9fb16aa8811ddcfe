"""Immortal time: transplant has no effect, but only patients alive and relapse-free reach it.

Truth: constant hazards of relapse (non-cured) and death in remission that transplant does not
change (delta = 0, gamma = 0, the same death hazard after transplant), so the transplanted are
simply those who survived long enough. The pathway model's transplant effects (delta: log odds
of cure after vs before transplant; gamma: log hazard ratio of relapse after vs before) must be
centred on no effect; a naive one-step Weibull model of EFS with "transplanted (ever)" as a
baseline covariate must show a spurious benefit.

The fast test profiles the path log-likelihood of a large simulated cohort over delta and gamma
(every other parameter at its true value): its maximum must sit at no effect. The slow tests fit
the model by MCMC (the transplant's cure effect with a prior centred on no effect). In the
simulated truth the cure before transplant is at its prior centre:
delta is identified only against the cure of responders followed untransplanted, so a truth far
from that prior would shift delta through the remission cure (prior-data conflict, not immortal
time).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pathway_helpers import TRUE_WEIBULL, fake_cohort, true_parameters

from relapse_model.cohort.endpoints import event_free_survival
from relapse_model.common.paths import PATHWAY_PRIORS
from relapse_model.models.design import build_design
from relapse_model.models.model import RelapseModel
from relapse_model.models.pathway.likelihood import path_loglik, sojourns
from relapse_model.models.pathway.model import PathwayModel
from relapse_model.models.pathway.parameters import (
    likelihood_predictors,
    patient_predictors,
)
from relapse_model.models.pathway.paths import observed_paths
from relapse_model.priors.spec import PriorSet, load_priors

# transplant slower than usual (scale 7 months), so that many responders relapse or die first (the
# immortal time is long) and many are followed untransplanted (the cure before transplant is seen)
NO_EFFECT_WEIBULL = {**TRUE_WEIBULL, "relapse": (0.0, 2.0), "death": (0.0, 3.5), "transplant_death": (0.0, 3.5),
                     "transplant": (0.3, 2.0)}


NO_EFFECT = dict(transplant_cure_shift=0.0, transplant_cure_modifier=[0.0, 0.0, 0.0], transplant_relapse_log_hr=0.0,
                 remission_cure_intercept=-1.4, weibull=NO_EFFECT_WEIBULL)


@pytest.fixture(scope="module")
def no_effect_cohort():
    return fake_cohort(400, true_parameters(**NO_EFFECT), seed=3)


def test_path_likelihood_peaks_at_no_transplant_effect():
    truth = true_parameters(**NO_EFFECT)
    cohort = fake_cohort(3000, truth, seed=4)
    design = build_design(cohort.data, include_mrd=True, with_outcome=False)
    so, pp = sojourns(observed_paths(cohort)), patient_predictors(truth, design)
    mrd = design.X[:, [design.covariates.index("mrd_positive"), design.covariates.index("mrd_unknown")]]
    eta_cure = pp.eta_cure_without_mrd + truth.remission_cure_beta[:, -2:] @ mrd.T
    grid = np.linspace(-0.6, 0.6, 13)

    def loglik(delta, gamma):
        p = likelihood_predictors(truth, pp.eta_refractory, pp.eta_early_death, eta_cure, np.full((1, design.n), delta))
        p = type(p)(**{**p.__dict__, "gamma": np.array([[gamma]])})
        return path_loglik(so, p).sum()

    surface = np.array([[loglik(d, g) for g in grid] for d in grid])
    best_delta, best_gamma = np.unravel_index(surface.argmax(), surface.shape)
    assert abs(grid[best_delta]) <= 0.3 and abs(grid[best_gamma]) <= 0.2, (grid[best_delta], grid[best_gamma])


def neutral_transplant_prior() -> PriorSet:
    """priors/pathway.toml with the transplant's cure effect centred on no effect: the published
    prior (normal(1.8, 1), a benefit) would pull a weakly identified delta toward benefit, which
    is the prior speaking, not immortal time."""
    priors = load_priors(PATHWAY_PRIORS)
    shift = priors["transplant_cure", "shift"]
    neutral = replace(shift, params={"mu": 0.0, "sigma": 1.0})
    return replace(priors, entries={**priors.entries, ("transplant_cure", "shift"): neutral})


@pytest.mark.slow
@pytest.mark.parametrize("draws", [100, pytest.param(200, marks=pytest.mark.extended)])
def test_pathway_model_finds_no_transplant_effect(no_effect_cohort, draws):
    """make test: 2 chains x 100 draws (100 tuning steps); make test-extended: 2 x 200."""
    model = PathwayModel(neutral_transplant_prior()).fit(no_effect_cohort, draws=draws, tune=draws, chains=2,
                                                         random_seed=5, progressbar=False)
    effects = model.transplant_effects()
    print(effects)
    for name in ("cure_shift", "relapse_log_hr"):
        assert effects.loc[name, "lower"] < 0.0 < effects.loc[name, "upper"], name


@pytest.mark.slow
def test_naive_transplanted_ever_covariate_shows_spurious_benefit(no_effect_cohort):
    data = no_effect_cohort.data
    responders = data["cr2"].fillna(False).to_numpy(dtype=bool)
    time, event = event_free_survival(data)
    ever = data["hsct_after_relapse"].fillna(False).to_numpy(dtype=float)[responders]
    naive = RelapseModel(outcome="cure", cure=False).fit_arrays(
        ever[:, None], ["hsct_ever"], time[responders], event=event[responders].astype(int),
        draws=200, tune=200, chains=2, random_seed=5, progressbar=False)
    log_hr = naive.posterior["posterior"]["relapse_beta"].to_numpy().ravel()
    print(np.quantile(log_hr, [0.025, 0.5, 0.975]))
    assert np.quantile(log_hr, 0.975) < 0.0          # "transplant protects": the immortal-time artefact

"""Immortal time: transplant has no effect, but only patients alive and relapse-free reach it.

Truth: constant hazards of relapse (non-cured) and death in remission that transplant does not
change (delta = 0, gamma = 0, the same death hazard after transplant), so the transplanted are
simply those who survived long enough. The pathway model's transplant effects (delta: log odds
of cure after vs before transplant; gamma: log hazard ratio of relapse after vs before) must be
centred on no effect; a naive one-step Weibull model of EFS with "transplanted (ever)" as a
baseline covariate must show a spurious benefit.
"""

from __future__ import annotations

import numpy as np
import pytest
from pathway_helpers import TRUE_WEIBULL, fake_cohort, true_parameters

from relapse_model.cohort.endpoints import event_free_survival
from relapse_model.models.model import RelapseModel
from relapse_model.models.pathway.model import PathwayModel

# transplant slower than usual (scale 7 months), so that many responders relapse or die first (the
# immortal time is long) and many are followed untransplanted (the cure before transplant is seen)
NO_EFFECT_WEIBULL = {**TRUE_WEIBULL, "relapse": (0.0, 2.0), "death": (0.0, 3.5), "transplant_death": (0.0, 3.5),
                     "transplant": (0.3, 2.0)}


@pytest.fixture(scope="module")
def no_effect_cohort():
    truth = true_parameters(transplant_cure_shift=0.0, transplant_cure_modifier=[0.0, 0.0, 0.0],
                            transplant_relapse_log_hr=0.0, weibull=NO_EFFECT_WEIBULL)
    return fake_cohort(400, truth, seed=3)


@pytest.mark.slow
def test_pathway_model_finds_no_transplant_effect(no_effect_cohort):
    model = PathwayModel().fit(no_effect_cohort, draws=200, tune=200, chains=2, random_seed=5, progressbar=False)
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

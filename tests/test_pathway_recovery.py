"""Parameter recovery: fit the pathway model to a cohort drawn from its own simulator."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pathway_helpers import (
    CURE_COVARIATES,
    RESPONSE_COVARIATES,
    fake_cohort,
    true_parameters,
)

from relapse_model.models.pathway.build import WEIBULLS
from relapse_model.models.pathway.model import PathwayModel


def _truth_and_draws(model: PathwayModel) -> dict[str, tuple[float, np.ndarray]]:
    truth, post = true_parameters(), model.parameters()
    out = {}
    for name in ("refractory_intercept", "early_death_intercept", "mrd_positive_log_odds", "mrd_unknown_log_odds",
                 "remission_cure_intercept", "transplant_cure_shift", "transplant_relapse_log_hr",
                 "rr_death_second_relapse_log_hr"):
        out[name] = (float(getattr(truth, name)[0]), getattr(post, name))
    out["refractory_beta[early_relapse]"] = (float(truth.refractory_beta[0, 0]),
                                              post.refractory_beta[:, RESPONSE_COVARIATES.index("early_relapse")])
    out["remission_cure_beta[mrd_positive]"] = (float(truth.remission_cure_beta[0, CURE_COVARIATES.index(
        "mrd_positive")]), post.remission_cure_beta[:, CURE_COVARIATES.index("mrd_positive")])
    for key in WEIBULLS:
        for k, part in enumerate(("log_shape", "log_scale")):
            out[f"{key}_{part}"] = (float(truth.weibull[key][k][0]), post.weibull[key][k])
    return out


@pytest.mark.slow
@pytest.mark.extended          # about 1.5 minutes: make test-extended
def test_parameters_are_recovered():
    cohort = fake_cohort(800, seed=21)
    start = time.time()
    model = PathwayModel().fit(cohort, draws=400, tune=400, chains=2, random_seed=3, progressbar=False)
    print(f"fit of 800 patients: {time.time() - start:.0f} s")
    print(model.check().to_string())
    results = _truth_and_draws(model)
    inside95, inside99 = [], []
    for name, (true, draws) in results.items():
        lo95, hi95, lo99, hi99 = np.quantile(draws, [0.025, 0.975, 0.005, 0.995])
        print(f"{name:40s} true {true:6.2f}  95% [{lo95:6.2f}, {hi95:6.2f}]")
        inside95.append(lo95 <= true <= hi95)
        inside99.append(lo99 <= true <= hi99)
    # 20 intervals: with exact 95% coverage about one may miss by chance; none may miss at 99%
    assert all(inside99), [n for n, ok in zip(results, inside99) if not ok]
    assert sum(inside95) >= len(inside95) - 2, [n for n, ok in zip(results, inside95) if not ok]

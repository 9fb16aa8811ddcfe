"""Predictions given the path so far: states at a landmark, and conditioning checked against
brute force (paths simulated from relapse, kept when they match the state at the landmark)."""

from __future__ import annotations

import numpy as np
import pytest
from pathway_helpers import TRUE_WEIBULL, fake_cohort, true_parameters
from test_pathway_paths import cohort

from relapse_model.models.design import build_design
from relapse_model.models.pathway.landmark import (
    CENSORED,
    DEAD,
    REINDUCTION,
    RELAPSED_REFRACTORY,
    REMISSION,
    TRANSPLANTED,
    LandmarkStates,
    landmark_states,
    simulate_from_landmark,
)
from relapse_model.models.pathway.paths import (
    MRD_NEGATIVE,
    REFRACTORY,
    RESPONSE,
    observed_paths,
)
from relapse_model.models.pathway.predict import curves
from relapse_model.models.pathway.simulate import simulate_paths

A = 1.5          # the response assessment of the test patient
TIMES = np.array([12.0, 24.0, 60.0])
#: Transplant rare (scale e^3.5 = 33 months): most responders' outcome then rests on the remission
#: cure, whose update by relapse-free survival the remission test must see.
SLOW_TRANSPLANT = {**TRUE_WEIBULL, "transplant": (0.7, 3.5)}


def test_states_at_a_landmark_follow_the_observed_path():
    paths = observed_paths(cohort(
        dict(hsct_after_relapse="yes", hsct_after_relapse_months=4),           # transplanted at 4, followed to 40
        dict(),                                                               # in remission, followed to 40
        dict(died="yes", death_months=8, followup_months=""),                  # died in remission at 8
        dict(followup_months=10),                                             # lost at 10
        dict(cr2="no", second_relapse="yes", second_relapse_months=1.5, died="yes", death_months=20,
             followup_months=""),                                            # refractory, died at 20
        dict(second_relapse="yes", second_relapse_months=9, mrd_status="positive"),   # relapsed at 9
        dict(hsct_after_relapse="yes", hsct_after_relapse_months=11, second_relapse="yes",
             second_relapse_months=9),                                        # salvage transplant after relapse
    ))
    at_12 = landmark_states(paths, 12.0)
    assert at_12.state.tolist() == [TRANSPLANTED, REMISSION, DEAD, CENSORED, RELAPSED_REFRACTORY,
                                    RELAPSED_REFRACTORY, RELAPSED_REFRACTORY]
    assert at_12.labels[:2] == ["transplanted", "remission"]
    assert at_12.predicted.tolist() == [True, True, False, False, True, True, True]
    np.testing.assert_allclose(at_12.entry[4:], [1.5, 9.0, 9.0])
    assert at_12.by_relapse[4:].tolist() == [False, True, True]
    assert np.isnan(at_12.transplant[5]) and at_12.transplant[6] == 11.0
    at_3 = landmark_states(paths, 3.0)
    assert at_3.state.tolist() == [REMISSION, REMISSION, REMISSION, REMISSION, RELAPSED_REFRACTORY, REMISSION,
                                   REMISSION]
    assert landmark_states(paths, 1.0).state.tolist() == [REINDUCTION] * 7


def _one_patient(params):
    """The first patient of a fake cohort, ``params``, and 400,000 paths simulated from relapse."""
    design = build_design(fake_cohort(3, seed=4).data.iloc[:1], stemness="lsc17", include_mrd=True,
                          with_outcome=False)
    return design, params, simulate_paths(params, design, np.array([A]), replicates=400_000, seed=11)


@pytest.fixture(scope="module")
def one_patient():
    return _one_patient(true_parameters())


@pytest.fixture(scope="module")
def rarely_transplanted():
    return _one_patient(true_parameters(weibull=SLOW_TRANSPLANT))


def _brute(paths, keep):
    """EFS, OS, relapse incidence and P(HSCT) at TIMES among the paths in ``keep`` (with SEs)."""
    def share(x):
        p = np.array([x(t)[0, 0][keep].mean() for t in TIMES])
        return p, np.sqrt(p * (1 - p) / keep.sum())

    refractory = np.where(paths.response == REFRACTORY, paths.assessment, np.nan)
    progression = np.fmin(paths.relapse, refractory)
    event = np.fmin(paths.death, progression)
    return {"efs": share(lambda t: ~(event <= t)), "os": share(lambda t: ~(paths.death <= t)),
            "relapse": share(lambda t: progression <= t), "hsct": share(lambda t: paths.transplant <= t)}


def _landmark(design, params, state: LandmarkStates):
    paths = simulate_from_landmark(params, design, state, replicates=200_000, seed=5)
    c = curves(paths, None, TIMES)
    return {"efs": c.efs[0, 0], "os": c.os[0, 0], "relapse": c.relapse[0, 0], "hsct": c.hsct[0, 0]}


def _state(code, landmark, mrd=-1, transplant=np.nan, entry=np.nan, by_relapse=False):
    return LandmarkStates(landmark, np.array([code]), np.array([A]), np.array([mrd]), np.array([transplant]),
                          np.array([entry]), np.array([by_relapse]))


def _agree(brute, predicted, what):
    for key, (p, se) in brute.items():
        np.testing.assert_array_less(np.abs(predicted[key] - p), 4.5 * np.hypot(se, 0.002) + 0.004,
                                     err_msg=f"{what}: {key} {predicted[key]} vs brute force {p}")


def test_in_remission_at_the_landmark_matches_brute_force(rarely_transplanted):
    design, params, paths = rarely_transplanted
    m = 6.0
    keep = ((paths.response == RESPONSE) & (paths.mrd == MRD_NEGATIVE) & ~(paths.relapse <= m)
            & ~(paths.death <= m) & ~(paths.transplant <= m))[0, 0]
    brute = _brute(paths, keep)
    predicted = _landmark(design, params, _state(REMISSION, m, mrd=MRD_NEGATIVE))
    _agree(brute, predicted, "remission")
    # conditioning matters: the unconditional prediction differs clearly
    everyone = _brute(paths, np.ones_like(keep))
    assert abs(everyone["os"][0][2] - predicted["os"][2]) > 0.05


def test_transplanted_before_the_landmark_matches_brute_force(one_patient):
    design, params, paths = one_patient
    m, window = 12.0, (3.0, 3.2)
    s = paths.transplant
    keep = ((paths.response == RESPONSE) & (paths.mrd == MRD_NEGATIVE) & (s >= window[0]) & (s < window[1])
            & ~(paths.relapse <= s) & ~(paths.relapse <= m) & ~(paths.death <= m))[0, 0]
    assert keep.sum() > 3000
    predicted = _landmark(design, params, _state(TRANSPLANTED, m, mrd=MRD_NEGATIVE, transplant=float(np.mean(s[0, 0][keep]))))
    _agree(_brute(paths, keep), predicted, "transplanted")


def test_refractory_and_reinduction_at_the_landmark_match_brute_force(one_patient):
    design, params, paths = one_patient
    m = 4.0
    keep = ((paths.response == REFRACTORY) & ~(paths.death <= m) & ~(paths.transplant <= m))[0, 0]
    predicted = _landmark(design, params, _state(RELAPSED_REFRACTORY, m, entry=A))
    _agree(_brute(paths, keep), predicted, "refractory")
    alive = ~(paths.death <= 1.0)[0, 0]
    _agree(_brute(paths, alive), _landmark(design, params, _state(REINDUCTION, 1.0)), "reinduction")


def test_dead_and_censored_patients_get_no_prediction_and_same_seed_same_numbers():
    from relapse_model.models.pathway.predict import predict_draws

    c = cohort(dict(), dict(died="yes", death_months=8, followup_months=""), dict(followup_months=10))
    design = build_design(c.data, stemness="lsc17", include_mrd=True, with_outcome=False)
    states = landmark_states(observed_paths(c), 12.0)
    run = [predict_draws(true_parameters(), design, states.assessment, TIMES[1:], replicates=500, seed=1,
                         states=states) for _ in range(2)]
    assert np.isfinite(run[0].os[:, 0]).all() and np.isnan(run[0].os[:, 1:]).all()
    np.testing.assert_array_equal(run[0].efs, run[1].efs)


def test_transplant_counterfactual_is_null_when_transplant_changes_nothing_and_positive_with_a_cure_effect():
    from dataclasses import replace

    from relapse_model.models.pathway.landmark import counterfactual_states

    # exponential hazards, the same death hazard before and after transplant, no cure shift, no
    # relapse hazard ratio: transplant changes nothing, so the two scenarios agree
    weibull = {**TRUE_WEIBULL, "relapse": (0.0, 2.0), "death": (0.0, 5.0), "transplant_death": (0.0, 5.0)}
    null = true_parameters(weibull=weibull, transplant_cure_shift=0.0, transplant_relapse_log_hr=0.0,
                           transplant_cure_modifier=[0.0, 0.0, 0.0])
    design = build_design(fake_cohort(3, seed=4).data.iloc[:1], stemness="lsc17", include_mrd=True,
                          with_outcome=False)
    with_tx, without = counterfactual_states(np.array([A]), np.array([MRD_NEGATIVE]), 4.0)

    def os_and_efs(params, states, allowed, seed):
        c = curves(simulate_from_landmark(params, design, states, replicates=200_000, seed=seed,
                                          transplant_from_remission=allowed), None, TIMES)
        return c.os[0, 0], c.efs[0, 0]

    for got, want in zip(os_and_efs(null, with_tx, True, 1), os_and_efs(null, without, False, 2)):
        np.testing.assert_allclose(got, want, atol=0.008)
    effect = replace(null, transplant_cure_shift=np.array([2.0]))
    os_tx, _ = os_and_efs(effect, with_tx, True, 1)
    os_none, _ = os_and_efs(effect, without, False, 2)
    assert (os_tx[1:] - os_none[1:] > 0.1).all()

"""The observed side of the pathway model's state-occupation check: observed paths read as moves
between the five states exactly as ``occupation_at`` reads simulated paths, the Aalen-Johansen
occupation of fake cohorts against the true parameters' occupation, and the comparison's
intervals (calibrated under the true parameters, flagging wrong ones). No MCMC."""

from __future__ import annotations

import numpy as np
import pytest
from pathway_helpers import fake_cohort, true_parameters

from relapse_model.checks.state_occupation import (
    compare_occupation,
    observed_occupation,
    occupation_check,
    pathway_transitions,
    simulated_occupation,
)
from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.schema import COLUMNS
from relapse_model.models.design import build_design
from relapse_model.models.pathway.paths import (
    CENSORED_BEFORE_ASSESSMENT,
    EARLY_DEATH,
    REFRACTORY,
    RESPONSE,
    ObservedPaths,
)
from relapse_model.models.pathway.predict import STATES, occupation_at
from relapse_model.models.pathway.simulate import (
    SimulatedPaths,
    as_cohort_frame,
    simulate_paths,
)

A = 1.5                                                    # assessment of fake_cohort's patients
#: fake_cohort's administrative censoring: uniform on (24, 96) months.
FOLLOWUP = (24.0, 96.0)
TIMES = np.array([0.0, 1.0, 1.5, 3.0, 6.0, 12.0, 24.0, 36.0, 48.0])
nan = np.nan


def _design(cohort: Cohort):
    return build_design(cohort.data, stemness="lsc17", include_mrd=True, with_outcome=False)


def _as_draws(paths: SimulatedPaths) -> SimulatedPaths:
    """(1, n, K) paths of one parameter draw as (K, n, 1): each replicate a draw (a replicated cohort)."""
    return SimulatedPaths(*(np.swapaxes(getattr(paths, f), 0, 2) for f in SimulatedPaths.__dataclass_fields__))


def _replicate(paths: SimulatedPaths, k: int) -> ObservedPaths:
    """Replicate ``k`` of one draw's censored paths as observed paths (what observed_paths reads from
    the cohort written by as_cohort_frame)."""
    pick = [getattr(paths, f)[0, :, k] for f in ("assessment", "response", "mrd", "transplant", "relapse", "death",
                                                  "end")]
    return ObservedPaths(*pick, rows=np.arange(paths.response.shape[1]))


# --------------------------------------------------------------------------- reading the paths

#: (response, transplant, relapse, death, censor) and the expected moves (time, from, to); a = 1.5.
HAND_PATHS = [
    ((RESPONSE, 1.5, 10.0, 20.0, 20.0), [(1.5, 0, 2), (10.0, 2, 3), (20.0, 3, 4)]),   # HSCT at a
    ((RESPONSE, 5.0, nan, 5.0, 5.0), [(1.5, 0, 1), (5.0, 1, 4)]),                     # HSCT on the day of death
    ((RESPONSE, 6.0, 4.0, nan, 30.0), [(1.5, 0, 1), (4.0, 1, 3)]),                    # salvage HSCT after relapse
    ((RESPONSE, 7.0, 7.0, nan, 30.0), [(1.5, 0, 1), (7.0, 1, 3)]),                    # HSCT on the day of relapse
    ((RESPONSE, nan, 8.0, 8.0, 8.0), [(1.5, 0, 1), (8.0, 1, 4)]),                     # relapse on the day of death
    ((REFRACTORY, 3.0, 1.5, 12.0, 12.0), [(1.5, 0, 3), (12.0, 3, 4)]),                # refractory, salvage HSCT
    ((EARLY_DEATH, nan, nan, 1.0, 1.0), [(1.0, 0, 4)]),
    ((RESPONSE, nan, nan, nan, 40.0), [(1.5, 0, 1)]),
    ((CENSORED_BEFORE_ASSESSMENT, nan, nan, nan, 1.0), []),
]


def _hand_paths() -> ObservedPaths:
    cols = np.array([row for row, _ in HAND_PATHS], dtype=float).T
    n = len(HAND_PATHS)
    return ObservedPaths(np.full(n, A), cols[0].astype(int), np.full(n, -1), cols[1], cols[2], cols[3], cols[4],
                         np.arange(n) + 2)


def test_moves_of_hand_made_paths():
    data = pathway_transitions(_hand_paths())
    tr = data.transitions
    got = [[(t, a, b) for p, t, a, b in zip(tr.patient, tr.time, tr.from_state, tr.to_state) if p == i]
           for i in range(len(HAND_PATHS))]
    assert got == [moves for _, moves in HAND_PATHS]
    np.testing.assert_array_equal(data.entry_state, 0)
    np.testing.assert_array_equal(data.censor, [row[4] for row, _ in HAND_PATHS])


def test_moves_enter_the_states_occupation_at_gives():
    """The state after the last move by t is occupation_at's state of the same (uncensored) path."""
    observed = _hand_paths()
    keep = observed.response != CENSORED_BEFORE_ASSESSMENT
    sim = SimulatedPaths(*(np.asarray(x, float)[keep][None, :, None] for x in
                           (observed.assessment, observed.response, observed.mrd, observed.transplant,
                            np.where(observed.response == RESPONSE, observed.relapse, nan), observed.death,
                            observed.censor, np.zeros(observed.n))))
    tr = pathway_transitions(observed).transitions
    for t in np.arange(0.0, 41.0, 0.25):
        state = np.zeros(observed.n, int)
        for p, time, to in zip(tr.patient, tr.time, tr.to_state):
            state[p] = to if time <= t else state[p]
        expected = occupation_at(sim, t)[0, :, 0].argmax(axis=-1)
        np.testing.assert_array_equal(state[keep], expected, err_msg=f"t = {t}")


def test_without_censoring_the_occupation_is_the_simulated_one_exactly():
    """Paths through the cohort file and observed_paths: followed to 1000 months, nobody is censored
    at the times asked, and the estimate is the proportion of paths in each state."""
    template = fake_cohort(600, seed=4)
    design = _design(template)
    paths = simulate_paths(true_parameters(), design, np.full(design.n, A), censor=np.full((1, design.n, 1), 1e3),
                           seed=9)
    cohort = Cohort.from_frame(as_cohort_frame(paths, template.data[[c.name for c in COLUMNS]]), "fake.csv")
    times = np.r_[TIMES, 60.0, 120.0, 240.0]
    got = observed_occupation(cohort, times)
    assert got.dims == ("state", "time") and list(got["state"].values) == list(STATES)
    np.testing.assert_allclose(got.values, simulated_occupation(paths, times)[0], rtol=0, atol=1e-12)
    assert (got.sel(time=12.0).values > 0.05).sum() >= 3                # several states occupied at once


# --------------------------------------------------------------------------- consistency under censoring


def _tolerance(p: np.ndarray, n: int, n_reference: int, times: np.ndarray) -> np.ndarray:
    """Four standard errors of (Aalen-Johansen from n censored patients) - (mean of n_reference
    simulated paths).

    Until 24 months nobody is censored and the estimate is a proportion of n patients: SD at most
    sqrt(p(1-p)/n). Later about n G(t) patients remain under observation, G(t) = P(C > t) of the
    uniform censoring; sqrt(p(1-p)/(n G(t))) bounds the Kaplan-Meier SD (Greenwood) and was at
    least 0.95 times the SD of this estimate, state by state and time by time, over 100 replicated
    4000-patient cohorts. Four SDs: a chance failure of one cell has probability below 1e-4.
    """
    g = np.clip((FOLLOWUP[1] - times) / (FOLLOWUP[1] - FOLLOWUP[0]), 0.0, 1.0)
    return 4.0 * np.sqrt(p * (1 - p) / (n * g) + p * (1 - p) / n_reference)


def test_large_cohort_matches_the_true_occupation():
    n, replicates = 4000, 25
    cohort = fake_cohort(n, seed=1)
    times = np.array([3.0, 6.0, 12.0, 24.0, 36.0, 48.0, 60.0, 72.0])
    observed = observed_occupation(cohort, times).values
    design = _design(cohort)
    truth = simulated_occupation(simulate_paths(true_parameters(), design, np.full(n, A), replicates=replicates,
                                                seed=2), times)[0]
    tol = _tolerance(truth, n, n * replicates, times)
    assert np.all(np.abs(observed - truth) <= tol), np.round((observed - truth) / np.maximum(tol, 1e-12), 2)
    assert (tol[truth > 0.05] < 0.05).all()
    # the tolerance has power: no transplant benefit on cure is told apart
    wrong = simulated_occupation(simulate_paths(true_parameters(transplant_cure_shift=0.0), design, np.full(n, A),
                                                replicates=replicates, seed=2), times)[0]
    assert (np.abs(observed - wrong) > tol).sum() >= 10


# --------------------------------------------------------------------------- the comparison


@pytest.fixture(scope="module")
def modest():
    """A 300-patient fake cohort and its design."""
    cohort = fake_cohort(300, seed=0)
    return cohort, _design(cohort)


def _draws(params, design, n_draws: int, seed: int) -> np.ndarray:
    """Per-draw occupation, each draw one replicated uncensored cohort of the same patients."""
    paths = simulate_paths(params, design, np.full(design.n, A), replicates=n_draws, seed=seed)
    return simulated_occupation(_as_draws(paths), TIMES)


def test_comparison_is_labelled(modest):
    cohort, design = modest
    ds = compare_occupation(observed_occupation(cohort, TIMES), _draws(true_parameters(), design, 200, 3))
    assert ds["predicted"].dims == ("state", "time", "estimate") and ds["inside"].dtype == bool
    assert list(ds["estimate"].values) == ["mean", "lower", "upper"] and ds.attrs["credible_interval"] == 0.95
    predicted = ds["predicted"]
    assert (predicted.sel(estimate="lower") <= predicted.sel(estimate="mean")).all()
    assert (predicted.sel(estimate="mean") <= predicted.sel(estimate="upper")).all()
    np.testing.assert_allclose(predicted.sel(estimate="mean").sum("state"), 1.0)
    with pytest.raises(ValueError, match=r"must be \(draws, 5 states, 9 times\); got shape \(200, 5, 8\)"):
        compare_occupation(observed_occupation(cohort, TIMES), np.zeros((200, 5, 8)))


def test_true_draws_put_the_modest_cohort_inside_and_wrong_ones_outside(modest):
    """Under the true parameters a cohort falls inside all its 99.9% intervals (measured: 99% of
    replicated 300-patient cohorts do, every cell together); with no transplant benefit on cure
    (shift 0 instead of 2) the transplanted occupation from 12 months on is outside."""
    cohort, design = modest
    observed = observed_occupation(cohort, TIMES)
    right = compare_occupation(observed, _draws(true_parameters(), design, 2000, 3), interval=0.999)
    assert bool(right["inside"].all()), right["inside"].to_pandas()
    wrong = compare_occupation(observed, _draws(true_parameters(transplant_cure_shift=0.0), design, 2000, 3),
                               interval=0.999)
    assert not wrong["inside"].sel(state="transplanted", time=[12.0, 24.0, 36.0, 48.0]).any()
    assert wrong["inside"].sel(state=["reinduction", "remission"]).all()     # the early course is unchanged


def test_intervals_are_calibrated_over_replicated_cohorts(modest):
    """95% intervals of true-parameter draws hold the estimate of replicated censored cohorts (same
    patients) 95% of the time, cell by cell where the interval is not a point (measured 0.95; the
    later estimates' extra variance from censoring costs about a point); wrong draws far less."""
    _, design = modest
    n, n_cohorts = design.n, 150
    censor = np.random.default_rng(5).uniform(*FOLLOWUP, size=(1, n, n_cohorts))
    cohorts = simulate_paths(true_parameters(), design, np.full(n, A), censor=censor, replicates=n_cohorts, seed=11)
    estimates = [observed_occupation(_replicate(cohorts, k), TIMES) for k in range(n_cohorts)]
    coverage = {}
    for label, params in (("true", true_parameters()), ("wrong", true_parameters(transplant_cure_shift=0.0))):
        draws = _draws(params, design, 400, 3)
        spread = np.quantile(draws, 0.975, axis=0) > np.quantile(draws, 0.025, axis=0)
        coverage[label] = np.mean([compare_occupation(e, draws)["inside"].values[spread] for e in estimates])
    assert 0.92 <= coverage["true"] <= 0.98, coverage
    assert coverage["wrong"] < 0.75, coverage


class _TrueModel:
    """Stands in for a fitted PathwayModel: the two methods occupation_check uses, with the true parameters."""

    def __init__(self, params):
        self.params = params

    def parameters(self, max_draws=None):
        return self.params

    def design(self, cohort):
        return _design(cohort)


def test_occupation_check_simulates_the_cohorts_patients(modest):
    cohort, design = modest
    ds = occupation_check(_TrueModel(true_parameters()), cohort, TIMES, replicates=50, seed=7)
    expected = simulated_occupation(simulate_paths(true_parameters(), design, np.full(design.n, A), replicates=50,
                                                   seed=7), TIMES)[0]
    np.testing.assert_array_equal(ds["predicted"].sel(estimate="mean").values, expected)
    np.testing.assert_array_equal(ds["observed"].values, observed_occupation(cohort, TIMES).values)
    assert ds.attrs["n_draws"] == 1

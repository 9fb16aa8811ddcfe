"""Posterior-predictive checks on hand-built parameters (no MCMC).

The check must pass data simulated from the parameters that replicate it, and must flag data
with a cure plateau replicated by a model without one. Thresholds come from the null
distribution measured over 200 data seeds (same cohort, parameters and settings as here):
pointwise bands over a cumulative curve are strongly correlated in time, so under a correct
model a single curve is either inside almost everywhere or outside for a stretch (overall EFS
was outside at more than 60% of times in 4.5% of seeds). Averaged over the 9 group x curve
cells, the fraction outside had mean 0.06 and exceeded 0.4 in 1 of 200 seeds; the overall
60-month EFS p-value was uniform (two-sided p < 0.01 in 2 of 200 seeds, as expected).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from sksurv.nonparametric import (
    cumulative_incidence_competing_risks,
    kaplan_meier_estimator,
)

from relapse_model.checks.ppc import (
    CURVES,
    censoring_times,
    ppc_curves,
    replicate_outcomes,
)
from relapse_model.cohort.bundled import load_bundled
from relapse_model.models.design import build_design
from relapse_model.models.outcomes import simulate_outcomes
from relapse_model.models.parameters import ParameterDraws
from relapse_model.report.figures import ppc_figure
from tests.model_helpers import competing_params, weibull_cause

COVS = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd")
# about 45% cured overall, fewer after an early relapse
TRUTH = competing_params(COVS, cure_intercept=-0.2, cure_beta=[-1.0, -0.2, 0.5, -0.6],
                         relapse_beta=[0.3, 0.0, 0.0, 0.3], n_studies=2)
DEATH = (-0.4, 6.0)  # competing_params' default death hazard
TIMES = np.arange(0.0, 97.0, 3.0)
N_REP = 200
DATA_SEED = 2025


@pytest.fixture(scope="module")
def design():
    return build_design(load_bundled("cog_like").data, stemness=None, include_mrd=False, with_outcome=False)


@pytest.fixture(scope="module")
def observed(design):
    """Outcomes drawn from TRUTH with uniform administrative censoring at 24-96 months."""
    rng = np.random.default_rng(DATA_SEED)
    sim = simulate_outcomes(TRUTH, design, rng, censor_months=rng.uniform(24, 96, design.n))
    return sim["time"], sim["cause"]


def _groups(design) -> np.ndarray:
    return np.where(design.column("early_relapse") > 0, "early", "late")


def _two_sided(p: float) -> float:
    return 2.0 * min(p, 1.0 - p)


def test_replicates_from_the_true_parameters_cover_the_data(design, observed):
    time, cause = observed
    rep = replicate_outcomes(TRUTH, design, time, cause, N_REP, seed=1)
    ds = ppc_curves(time, cause, rep["time"], rep["cause"], TIMES, groups=_groups(design))
    assert list(ds["group"].to_numpy()) == ["all", "early", "late"]
    assert ds["efs_observed"].dims == ("group", "time")
    outside = np.array([ds[f"{c}_fraction_outside"].to_numpy() for c in CURVES])     # (curve, group)
    assert outside.mean() <= 0.4, outside
    p60 = float(ds["efs_p_value_horizon"].sel(group="all"))
    assert _two_sided(p60) >= 0.01, p60
    # the replicate mean tracks the observed curve (largest gap 0.043 over 21 data seeds)
    gap = np.abs(ds["efs"].sel(estimate="mean") - ds["efs_observed"]).sel(group="all").max()
    assert float(gap) < 0.08


def _no_cure_fit(time: np.ndarray, cause: np.ndarray) -> ParameterDraws:
    """The no-cure model's relapse Weibull fitted by maximum likelihood (deaths censored, which
    is the cause-specific likelihood), the death hazard kept at its true value."""
    relapse = cause == 1

    def nll(p: np.ndarray) -> float:
        k, lam = np.exp(p)
        return -float(np.sum(relapse * (np.log(k / lam) + (k - 1) * np.log(time / lam)) - (time / lam) ** k))

    log_shape, log_scale = optimize.minimize(nll, [0.0, np.log(np.median(time))], method="Nelder-Mead").x
    return ParameterDraws("weibull", (0.0,), relapse=weibull_cause(log_shape, log_scale), death=weibull_cause(*DEATH))


def test_a_model_without_cure_misses_the_plateau(design, observed):
    time, cause = observed
    no_cure = _no_cure_fit(time, cause)
    assert np.exp(no_cure.relapse.baseline["log_shape"][0]) < 0.8   # it bends its hazard down, not enough
    rep = replicate_outcomes(no_cure, design, time, cause, N_REP, seed=1)
    ds = ppc_curves(time, cause, rep["time"], rep["cause"], TIMES, groups=_groups(design)).sel(group="all")
    # over 29 data seeds overall EFS and relapse incidence were outside at >= 69% of times
    assert float(ds["efs_fraction_outside"]) >= 0.5
    assert float(ds["cif_relapse_fraction_outside"]) >= 0.5
    # observed 60-month EFS above (nearly) every replicate (p >= 0.995 in those seeds)
    assert float(ds["efs_p_value_horizon"]) >= 0.99
    # the plateau the model cannot make: at 90 months the observed EFS was 0.05-0.10 above the
    # band's upper end and 0.08-0.13 above the replicate mean (21 of those seeds)
    at90 = ds.sel(time=90.0)
    assert float(at90["efs_observed"]) > float(at90["efs"].sel(estimate="upper")) + 0.02
    assert float(at90["efs_observed"]) > float(at90["efs"].sel(estimate="mean")) + 0.05


def test_same_seed_gives_identical_replicates(design, observed):
    time, cause = observed
    a = replicate_outcomes(TRUTH, design, time, cause, 5, seed=7)
    b = replicate_outcomes(TRUTH, design, time, cause, 5, seed=7)
    c = replicate_outcomes(TRUTH, design, time, cause, 5, seed=8)
    for key in ("time", "cause", "draw"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["time"].shape == a["cause"].shape == (5, design.n)
    assert not np.array_equal(a["time"], c["time"])


def test_replicates_use_evenly_spaced_draws(design, observed):
    """Seven draws, three replicates: draws 0, 3 and 6; draw 0 cures nobody, draw 6 everybody."""
    time, cause = observed
    params = competing_params(COVS, S=7, n_studies=2)
    params = ParameterDraws(params.baseline_kind, params.grid, params.relapse, params.death,
                            cure_intercept=np.linspace(-30.0, 30.0, 7), cure_covariates=params.cure_covariates,
                            cure_beta=params.cure_beta, cure_class=params.cure_class, cure_study=params.cure_study)
    rep = replicate_outcomes(params, design, time, cause, 3, seed=0)
    np.testing.assert_array_equal(rep["draw"], [0, 3, 6])
    relapses = (rep["cause"] == 1).mean(axis=1)
    assert relapses[0] > 0.5 and relapses[2] == 0.0


def test_replicates_are_censored_like_the_data(design, observed):
    time, cause = observed
    rep = replicate_outcomes(TRUTH, design, time, cause, 20, seed=3)
    censored = cause == 0
    # a censored patient is followed to their own censoring time at most, and exactly there if event-free
    assert np.all(rep["time"][:, censored] <= time[censored] + 1e-12)
    still = rep["cause"][:, censored] == 0
    np.testing.assert_array_equal(rep["time"][:, censored][still], np.broadcast_to(time[censored], still.shape)[still])
    assert np.all(np.isfinite(rep["time"]))   # everyone has a competing death hazard


def test_censoring_of_event_patients_follows_the_reverse_kaplan_meier():
    rng = np.random.default_rng(0)
    n = 400
    event_time = rng.exponential(30.0, n)
    censor = rng.uniform(5.0, 80.0, n)
    time = np.minimum(event_time, censor)
    cause = (event_time <= censor).astype(int)
    drawn = censoring_times(time, cause, 4000, np.random.default_rng(1))
    np.testing.assert_array_equal(drawn[:, cause == 0], np.broadcast_to(time[cause == 0], (4000, (cause == 0).sum())))
    ev = np.flatnonzero(cause == 1)
    finite = np.isfinite(drawn[:, ev])
    assert np.all(drawn[:, ev][finite] > time[ev][np.nonzero(finite)[1]])
    assert set(np.unique(drawn[:, ev][finite])) <= set(time[cause == 0])
    # one early event: P(C > c | C > t_i) = G(c) / G(t_i), to Monte-Carlo error (4000 draws)
    i = ev[np.argmin(time[ev])]
    cut, g = kaplan_meier_estimator(cause > 0, time, reverse=True)
    g_ti = g[np.searchsorted(cut, time[i], side="right") - 1]
    for c in (20.0, 40.0, 60.0):
        expected = g[np.searchsorted(cut, c, side="right") - 1] / g_ti
        assert abs((drawn[:, i] > c).mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / 4000) + 1e-3


def test_curves_are_the_scikit_survival_estimates(design, observed):
    time, cause = observed
    rep = replicate_outcomes(TRUTH, design, time, cause, 3, seed=0)
    groups = _groups(design)
    ds = ppc_curves(time, cause, rep["time"], rep["cause"], TIMES, groups=groups)
    for name, mask in (("all", np.ones(design.n, bool)), ("early", groups == "early")):
        x, s = kaplan_meier_estimator(cause[mask] > 0, time[mask])
        at = np.searchsorted(x, TIMES, side="right") - 1
        km = np.where(at >= 0, s[np.maximum(at, 0)], 1.0)
        defined = TIMES <= time[mask].max()
        np.testing.assert_allclose(ds["efs_observed"].sel(group=name).to_numpy()[defined], km[defined], atol=1e-12)
        x, cif = cumulative_incidence_competing_risks(cause[mask], time[mask])
        at = np.searchsorted(x, TIMES, side="right") - 1
        for k, curve in ((1, "cif_relapse"), (2, "cif_death")):
            aj = np.where(at >= 0, cif[k][np.maximum(at, 0)], 0.0)
            np.testing.assert_allclose(ds[f"{curve}_observed"].sel(group=name).to_numpy()[defined], aj[defined], atol=1e-12)
    # at time 0 every curve ties, which the mid-p value scores 0.5
    assert np.all(ds["efs_p_value"].sel(time=0.0) == 0.5)


def test_single_endpoint_cure_model_and_one_cause_samples():
    """Without a competing death a cured, uncensored patient never has an event: time inf,
    cause 0, and the curves treat them as at risk throughout. With one cause present the
    incidence is 1 - Kaplan-Meier (scikit-survival's Aalen-Johansen needs both causes)."""
    design = build_design(load_bundled("bfm_like").data, stemness=None, include_mrd=False, with_outcome=False)
    params = ParameterDraws("weibull", (0.0,), relapse=weibull_cause(0.2, 2.0), cure_intercept=np.zeros(1),
                            cure_covariates=(), cure_beta=np.zeros((1, 0)), cure_class=TRUTH.cure_class[:1],
                            cure_study=np.zeros((1, 2)))
    rng = np.random.default_rng(0)
    sim = simulate_outcomes(params, design, rng, censor_months=rng.uniform(10, 60, design.n))
    time, cause = sim["time"].copy(), sim["cause"].copy()
    time[0], cause[0] = 500.0, 1     # last time an event: the censoring distribution keeps mass beyond it
    rep = replicate_outcomes(params, design, time, cause, 30, seed=0)
    never = ~np.isfinite(rep["time"])
    assert never.any() and np.all(rep["cause"][never] == 0)
    ds = ppc_curves(time, cause, rep["time"], rep["cause"], TIMES[:21])
    np.testing.assert_allclose(ds["cif_relapse_observed"] + ds["efs_observed"], 1.0, atol=1e-12)
    assert np.all(ds["cif_death_observed"] == 0) and ds.attrs["competing"] == 0
    assert np.all(np.isfinite(ds["efs"].sel(estimate="mean"))) and np.all(np.isfinite(ds["efs_fraction_outside"]))


def test_ppc_figure_is_reproducible(design, observed, tmp_path):
    time, cause = observed
    rep = replicate_outcomes(TRUTH, design, time, cause, 20, seed=0)
    ds = ppc_curves(time, cause, rep["time"], rep["cause"], TIMES, groups=_groups(design))
    a = ppc_figure(ds, tmp_path / "a.png").read_bytes()
    b = ppc_figure(ds, tmp_path / "b.png").read_bytes()
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and a == b

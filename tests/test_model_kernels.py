"""Hazard kernels, likelihoods and predictions, checked without MCMC."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
from scipy import stats
from sksurv.nonparametric import cumulative_incidence_competing_risks

from relapse_model.cohort.bundled import load_bundled
from relapse_model.models import baselines as bl
from relapse_model.models.design import build_design
from relapse_model.models.likelihood import competing_risks_loglik, cure_survival_loglik
from relapse_model.models.outcomes import inverse_cumulative_hazard, simulate_outcomes
from relapse_model.models.parameters import CauseParameters, ParameterDraws
from relapse_model.models.predict import patient_curves
from tests.model_helpers import competing_params

RNG = np.random.default_rng(42)


def _eval(expr):
    return pytensor.function([], expr, mode="FAST_COMPILE")()


def test_weibull_kernels_match_scipy():
    t = np.array([0.1, 1.0, 5.0, 30.0, 120.0])
    log_shape, log_scale = np.log(1.4), np.log(9.0)
    dist = stats.weibull_min(1.4, scale=9.0)
    np.testing.assert_allclose(bl.weibull_cumulative_hazard(np.log(t), log_shape, log_scale), -dist.logsf(t), rtol=1e-12)
    np.testing.assert_allclose(bl.weibull_log_hazard(np.log(t), log_shape, log_scale),
                               dist.logpdf(t) - dist.logsf(t), rtol=1e-12)
    # the PyTensor forms used by the sampler are the same functions
    np.testing.assert_allclose(_eval(bl.weibull_cumulative_hazard(pt.as_tensor(np.log(t)), log_shape, log_scale, xp=pt)),
                               -dist.logsf(t), rtol=1e-12)


def test_piecewise_kernels_and_inverse():
    grid = bl.PiecewiseGrid((0.0, 2.0, 6.0, 12.0))
    log_rates = np.log([0.2, 0.1, 0.05, 0.01])
    t = np.array([1.0, 2.0, 3.0, 12.0, 20.0])
    H = bl.piecewise_cumulative_hazard(grid.exposure(t), log_rates[None, :])[0]
    np.testing.assert_allclose(H, [0.2, 0.4, 0.5, 0.4 + 0.4 + 0.3, 1.1 + 0.08])
    assert grid.interval(t).tolist() == [0, 0, 1, 2, 3]
    cause = CauseParameters({"log_rate": log_rates[None, :]}, (), np.zeros((1, 0)))
    back = inverse_cumulative_hazard(cause, "piecewise", grid.cuts, H, np.zeros(len(t), int))
    np.testing.assert_allclose(back, t, rtol=1e-12)
    np.testing.assert_allclose(_eval(bl.piecewise_cumulative_hazard(pt.as_tensor(grid.exposure(t)),
                                                                    pt.as_tensor(log_rates), xp=pt)), H)


def test_plain_survival_loglik_is_the_weibull_density_and_survival():
    t = RNG.uniform(0.1, 50, 40)
    event = RNG.random(40) < 0.6
    dist = stats.weibull_min(0.8, scale=12.0)
    ll = cure_survival_loglik(event.astype(float), dist.logpdf(t) - dist.logsf(t), -dist.logsf(t))
    np.testing.assert_allclose(ll, np.where(event, dist.logpdf(t), dist.logsf(t)), rtol=1e-10)


def test_cure_loglik_is_the_mixture():
    t = RNG.uniform(0.1, 50, 40)
    event = (RNG.random(40) < 0.5).astype(float)
    eta = RNG.normal(0, 2, 40)
    pi = 1 / (1 + np.exp(-eta))
    dist = stats.expon(scale=10.0)
    ll = cure_survival_loglik(event, np.full(40, -np.log(10.0)), t / 10.0, eta)
    expected = np.where(event == 1, np.log((1 - pi) * dist.pdf(t)), np.log(pi + (1 - pi) * dist.sf(t)))
    np.testing.assert_allclose(ll, expected, rtol=1e-10)
    np.testing.assert_allclose(_eval(cure_survival_loglik(pt.as_tensor(event), pt.as_tensor(np.full(40, -np.log(10.0))),
                                                          pt.as_tensor(t / 10.0), pt.as_tensor(eta), xp=pt)), ll, rtol=1e-10)


def test_competing_loglik_matches_direct_formula():
    n = 60
    t = RNG.uniform(0.1, 60, n)
    cause = RNG.integers(0, 3, n)
    eta = RNG.normal(0, 1.5, n)
    pi = 1 / (1 + np.exp(-eta))
    fr, fd = stats.weibull_min(1.3, scale=9.0), stats.weibull_min(0.6, scale=400.0)
    lh_r, ch_r = fr.logpdf(t) - fr.logsf(t), -fr.logsf(t)
    lh_d, ch_d = fd.logpdf(t) - fd.logsf(t), -fd.logsf(t)
    ll = competing_risks_loglik(cause, lh_r, ch_r, lh_d, ch_d, eta)
    relapse_free = pi + (1 - pi) * fr.sf(t)
    expected = np.select([cause == 1, cause == 2, cause == 0],
                         [np.log((1 - pi) * fr.pdf(t) * fd.sf(t)), np.log(relapse_free * fd.pdf(t)),
                          np.log(relapse_free * fd.sf(t))])
    np.testing.assert_allclose(ll, expected, rtol=1e-10)
    tensors = [pt.as_tensor(a) for a in (cause, lh_r, ch_r, lh_d, ch_d, eta)]
    np.testing.assert_allclose(_eval(competing_risks_loglik(*tensors, xp=pt)), ll, rtol=1e-10)


def test_pymc_model_keeps_every_row_in_the_pointwise_loglik():
    from relapse_model.models import RelapseModel
    cohort = load_bundled("bfm_like")
    model = RelapseModel()
    pm_model = model.build(cohort)
    pointwise = pm_model.compile_logp(vars=[pm_model["outcome"]], sum=False)(pm_model.initial_point())[0]
    assert pointwise.shape == (len(cohort),)
    assert np.all(np.isfinite(pointwise))
    time, cause = cohort.competing_risks()
    assert (cause == 0).sum() > 0 and (cause == 1).sum() > 0 and (cause == 2).sum() > 0


def _exponential_params(pi_logit: float, rate_r: float, rate_d: float) -> ParameterDraws:
    from relapse_model.cohort.vocabulary import CYTOGENETICS
    from tests.model_helpers import weibull_cause
    return ParameterDraws("weibull", (0.0,), relapse=weibull_cause(0.0, -np.log(rate_r)),
                          death=weibull_cause(0.0, -np.log(rate_d)), cure_intercept=np.array([pi_logit]),
                          cure_covariates=(), cure_beta=np.zeros((1, 0)),
                          cure_class=np.zeros((1, len(CYTOGENETICS))), cure_study=np.zeros((1, 2)))


def _design(n: int = 3):
    data = load_bundled("bfm_like").data.iloc[:n]
    return build_design(data, stemness=None, include_mrd=False, with_outcome=False)


def test_incidence_integration_matches_closed_form_for_constant_hazards():
    pi, lr, ld = 0.3, 0.08, 0.01
    params = _exponential_params(np.log(pi / (1 - pi)), lr, ld)
    h = np.array([1.0, 6.0, 12.0, 60.0, 120.0])
    curves = patient_curves(params, _design(), h)
    total = lr + ld
    f_r = (1 - pi) * lr / total * (1 - np.exp(-total * h))
    efs = (pi + (1 - pi) * np.exp(-lr * h)) * np.exp(-ld * h)
    np.testing.assert_allclose(curves["relapse_incidence"][0, 0], f_r, atol=2e-4)
    np.testing.assert_allclose(curves["event_free_survival"][0, 0], efs, rtol=1e-12)
    np.testing.assert_allclose(curves["cure_probability"][0, 0], pi)


def test_predictions_are_probabilities_that_behave():
    covs = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd")
    params = competing_params(covs, S=5, n_studies=2, cure_beta=[-1.0, -0.2, -0.7, -0.4], relapse_beta=[0.3, 0, 0.2, 0.4])
    design = build_design(load_bundled("bfm_like").data, stemness=None, include_mrd=False, with_outcome=False)
    h = np.linspace(0.5, 120, 60)
    c = patient_curves(params, design, h)
    for key in ("relapse_incidence", "death_without_relapse", "event_free_survival"):
        assert np.all((c[key] >= 0) & (c[key] <= 1)), key
    assert np.all(np.diff(c["event_free_survival"], axis=2) <= 1e-12)
    assert np.all(np.diff(c["relapse_incidence"], axis=2) >= -1e-12)
    assert np.all(np.diff(c["death_without_relapse"], axis=2) >= -1e-9)
    np.testing.assert_allclose(c["relapse_incidence"] + c["death_without_relapse"] + c["event_free_survival"], 1.0, atol=1e-9)
    cond = patient_curves(params, design, h[h > 12], conditional_on=12.0)
    at12 = patient_curves(params, design, np.array([12.0]))["event_free_survival"]
    np.testing.assert_allclose(cond["event_free_survival"], c["event_free_survival"][:, :, h > 12] / at12, rtol=1e-9)
    assert np.all(cond["cure_probability"] >= c["cure_probability"] - 1e-12)  # surviving raises P(cured)


def test_simulator_agrees_with_predicted_incidence():
    """The model's generative code and its prediction code describe the same distribution."""
    params = _exponential_params(-0.5, 0.1, 0.02)
    design = _design(1)
    n = 40_000
    big = build_design(load_bundled("bfm_like").data.iloc[[0] * n].reset_index(drop=True), stemness=None,
                       include_mrd=False, with_outcome=False)
    sim = simulate_outcomes(params, big, np.random.default_rng(7), censor_months=60.0)
    t, cif = cumulative_incidence_competing_risks(sim["cause"], sim["time"])
    h = np.array([6.0, 24.0, 59.0])
    pred = patient_curves(params, design, h)
    at = np.searchsorted(t, h, side="right") - 1
    np.testing.assert_allclose(cif[1][at], pred["relapse_incidence"][0, 0], atol=0.01)
    np.testing.assert_allclose(cif[2][at], pred["death_without_relapse"][0, 0], atol=0.01)


def test_prediction_reports_progress_per_block_of_patients_without_changing_a_number(monkeypatch):
    """predict(progressbar=True) follows patient_curves' blocks: progress(done, n) rises to n, and the
    curves are those computed in one block."""
    import relapse_model.models.predict as predict_module

    covs = ("early_relapse", "age_per_10y")
    params = competing_params(covs, S=4, n_studies=2, cure_beta=[-1.0, -0.2], relapse_beta=[0.3, 0.1])
    design = build_design(load_bundled("bfm_like").data, stemness=None, include_mrd=False, with_outcome=False)
    h = np.array([12.0, 36.0, 60.0])
    whole = patient_curves(params, design, h)
    monkeypatch.setattr(predict_module, "_BLOCK_ELEMENTS", 4 * 2 * 60)    # a few patients per block
    calls = []
    blocked = patient_curves(params, design, h, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > 5 and calls[-1] == (design.n, design.n)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and {t for _, t in calls} == {design.n}
    for key in whole:
        np.testing.assert_array_equal(blocked[key], whole[key])

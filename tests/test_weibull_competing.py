"""The default model's compiled likelihood Op against the PyTensor graph of the formula it
replaces, against NumPy's definition and finite differences, and inside the whole model."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from relapse_model.cohort.bundled import load_bundled
from relapse_model.models import RelapseModel
from relapse_model.models import baselines as bl
from relapse_model.models import build
from relapse_model.models.likelihood import competing_risks_loglik
from relapse_model.models.weibull_competing import (_weibull_competing_jit, weibull_competing_arrays,
                                                    weibull_competing_loglik, weibull_competing_op)

# log-odds of cure -30..30, linear predictors -8..8, times e^-4..e^5 months, every cause
_GRID = np.meshgrid(np.linspace(-30, 30, 13), np.linspace(-8, 8, 9), np.linspace(-4, 5, 7), indexing="ij")
ETA_CURE, ETA_RELAPSE, LOG_T = (a.ravel() for a in _GRID)
ETA_DEATH = np.resize(np.linspace(-6, 6, 11), ETA_CURE.size)
CAUSE = np.resize(np.array([0, 1, 2, 1, 0], dtype=np.int64), ETA_CURE.size)
#: (relapse log shape, log scale, death log shape, log scale): shapes below and above 1
WEIBULL = [(-0.3, 2.5, 0.2, 4.0), (0.5, 0.0, -0.6, 1.0)]


def _formula(cause, log_t, eta_cure, eta_relapse, eta_death, shape_r, scale_r, shape_d, scale_d):
    """The likelihood as the general path of the model writes it (PyTensor operations)."""
    log_h_r = bl.weibull_log_hazard(log_t, shape_r, scale_r, xp=pt) + eta_relapse
    log_h_d = bl.weibull_log_hazard(log_t, shape_d, scale_d, xp=pt) + eta_death
    cum_r = pt.exp(pt.exp(shape_r) * (log_t - scale_r) + eta_relapse)
    cum_d = pt.exp(pt.exp(shape_d) * (log_t - scale_d) + eta_death)
    return competing_risks_loglik(cause, log_h_r, cum_r, log_h_d, cum_d, eta_cure, xp=pt)


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_RUN"])
@pytest.mark.parametrize("weibull", WEIBULL)
def test_values_and_gradients_match_the_formula_on_a_wide_grid(mode, weibull):
    etas = pt.dvectors("eta_cure", "eta_relapse", "eta_death")
    scalars = pt.dscalars("log_shape_r", "log_scale_r", "log_shape_d", "log_scale_d")
    inputs = [*etas, *scalars]
    ref = _formula(CAUSE, LOG_T, *inputs)
    new = weibull_competing_loglik(CAUSE, LOG_T, *inputs)
    outputs = [ref, new, *pytensor.grad(ref.sum(), inputs), *pytensor.grad(new.sum(), inputs)]
    values = pytensor.function(inputs, outputs, mode=mode)(ETA_CURE, ETA_RELAPSE, ETA_DEATH, *weibull)
    ref_v, new_v, grads = values[0], values[1], values[2:]
    assert np.max(np.abs(new_v - ref_v) / (1.0 + np.abs(ref_v))) < 1e-13
    for ref_g, new_g, name in zip(grads[:7], grads[7:], [v.name for v in inputs]):
        np.testing.assert_allclose(new_g, ref_g, rtol=1e-9, atol=1e-12, err_msg=name)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    n = 15
    cause = rng.integers(0, 3, n)
    log_t = rng.normal(1.5, 1.0, n)

    def loglik(eta_cure, eta_relapse, eta_death, *weibull):
        return weibull_competing_loglik(cause, log_t, eta_cure, eta_relapse, eta_death, *weibull)

    point = [rng.normal(0, 1.5, n), rng.normal(0, 0.7, n), rng.normal(-1, 0.7, n),
             *(np.asarray(v) for v in (0.1, 1.8, -0.2, 3.0))]
    pytensor.gradient.verify_grad(loglik, point, rng=rng, mode="NUMBA")


@pytest.mark.parametrize("weibull", WEIBULL)
def test_the_three_implementations_agree(weibull):
    # the loop (Numba and perform), the array form (JAX) and the NumPy definition of the likelihood
    args = (CAUSE, LOG_T, ETA_CURE, ETA_RELAPSE, ETA_DEATH, *(np.asarray(w) for w in weibull))
    loop = _weibull_competing_jit(*args)
    arrays = weibull_competing_arrays(*args)
    assert len(loop) == len(arrays) == 8
    for a, b in zip(loop, arrays):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    shape_r, scale_r, shape_d, scale_d = weibull
    definition = competing_risks_loglik(
        CAUSE, bl.weibull_log_hazard(LOG_T, shape_r, scale_r) + ETA_RELAPSE,
        bl.weibull_cumulative_hazard(LOG_T, shape_r, scale_r) * np.exp(ETA_RELAPSE),
        bl.weibull_log_hazard(LOG_T, shape_d, scale_d) + ETA_DEATH,
        bl.weibull_cumulative_hazard(LOG_T, shape_d, scale_d) * np.exp(ETA_DEATH), ETA_CURE)
    finite = np.isfinite(definition)       # exp(eta) * H0 overflows where exp(log H0 + eta) does not
    assert finite.mean() > 0.9
    np.testing.assert_allclose(loop[0][finite], definition[finite], rtol=1e-11, atol=1e-11)


def _ops(model) -> set[str]:
    return {type(node.op).__name__ for node in pytensor.graph.traversal.applys_between(
        model.value_vars, [model.logp()])}


def test_the_default_model_uses_the_op_and_has_the_general_paths_log_density():
    cohort = load_bundled("bfm_like")
    rm = RelapseModel()
    fused = rm.build(cohort)
    graph = build._graph_model(rm.design(cohort), rm.priors, rm.spec)
    assert "WeibullCompetingTerm" in _ops(fused) and "WeibullCompetingTerm" not in _ops(graph)
    # the same variables in the same order: the sampler's parameter vector is the same
    assert [v.name for v in fused.free_RVs] == [v.name for v in graph.free_RVs]
    assert [v.name for v in fused.deterministics] == [v.name for v in graph.deterministics]
    # Python's implementations: a C or Numba compile of two whole models would cost a minute cold
    logps = [m.compile_logp(mode="FAST_COMPILE") for m in (fused, graph)]
    dlogps = [m.compile_dlogp(mode="FAST_COMPILE") for m in (fused, graph)]
    rng = np.random.default_rng(2)
    start = fused.initial_point()
    for _ in range(4):
        point = {k: v + rng.normal(0.0, 0.5, np.shape(v)) for k, v in start.items()}
        assert np.isclose(logps[0](point), logps[1](point), rtol=1e-13, atol=1e-9)
        np.testing.assert_allclose(dlogps[0](point), dlogps[1](point), rtol=1e-10, atol=1e-9)


def test_other_models_keep_the_general_path():
    cohort = load_bundled("bfm_like")
    for kwargs in ({"baseline": "piecewise"}, {"cure": False}):
        assert "WeibullCompetingTerm" not in _ops(RelapseModel(**kwargs).build(cohort))


def test_misuse_is_refused():
    eta = pt.dvector("eta")
    w = [np.asarray(0.0)] * 4
    with pytest.raises(TypeError, match="integer"):
        weibull_competing_op(np.zeros(2), np.zeros(2), eta, eta, eta, *w)
    with pytest.raises(ValueError, match="vectors"):
        weibull_competing_op(np.zeros((1, 1), dtype=int), np.zeros((1, 1)), eta, eta, eta, *w)
    with pytest.raises(ValueError, match="4 scalar Weibull parameters"):
        weibull_competing_op(np.zeros(2, dtype=int), np.zeros(2), eta, eta, eta, *w[:3])
    derivative = weibull_competing_op(np.zeros(2, dtype=int), np.zeros(2), eta, eta, eta, *w)[2]
    with pytest.raises(NotImplementedError, match="not differentiable"):
        pytensor.grad(derivative.sum(), eta)
    term = weibull_competing_op(np.array([0, 1]), np.zeros(2), eta, eta, eta, *w)[0]
    f = pytensor.function([eta], term, mode="FAST_COMPILE")
    with pytest.raises(ValueError, match="lengths differ"):
        f(np.zeros(3))

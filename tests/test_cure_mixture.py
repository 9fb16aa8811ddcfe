"""The compiled cure-mixture Op against the PyTensor graph of the formula it replaces."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from relapse_model.models.cure_mixture import _cure_mixture_jit, cure_mixture_arrays, cure_mixture_op, cure_mixture_term
from relapse_model.models.likelihood import cure_mixture, log_cure_and_not, log_relapse_free

# log-odds of cure from -60 to 60 and cumulative hazards from e^-40 to e^40, both kinds of row
ETA, LOG_H = (a.ravel() for a in np.meshgrid(np.linspace(-60, 60, 61), np.linspace(-40, 40, 41)))
RELAPSED = np.resize([True, False, False], ETA.size)


def _formula(relapsed, eta, cum_hazard):
    """The term written with PyTensor's elementwise operations (the graph before the Op)."""
    return pt.where(relapsed, log_cure_and_not(eta, pt)[1] - cum_hazard, log_relapse_free(eta, cum_hazard, pt))


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_RUN"])
def test_values_and_gradients_match_the_formula_on_a_wide_grid(mode):
    # gradients taken through H = exp(log H), as in the model, so tiny and huge hazards both count
    eta, log_h = pt.dvectors("eta", "log_h")
    cum_hazard = pt.exp(log_h)
    ref = _formula(RELAPSED, eta, cum_hazard)
    new = cure_mixture_term(RELAPSED, eta, cum_hazard)
    outputs = [ref, new, *pytensor.grad(ref.sum(), [eta, log_h]), *pytensor.grad(new.sum(), [eta, log_h])]
    ref_v, new_v, ref_de, ref_dh, new_de, new_dh = pytensor.function([eta, log_h], outputs, mode=mode)(ETA, LOG_H)
    scale = 1.0 + np.abs(ref_v)
    assert np.max(np.abs(new_v - ref_v) / scale) < 1e-13
    np.testing.assert_allclose(new_de, ref_de, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(new_dh, ref_dh, rtol=1e-6, atol=1e-14)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    relapsed = rng.random(12) < 0.4

    def term(eta, cum_hazard):
        return cure_mixture_term(relapsed, eta, cum_hazard)

    pytensor.gradient.verify_grad(term, [rng.normal(0, 2, 12), rng.exponential(1.0, 12)], rng=rng,
                                  mode="NUMBA")


def test_the_three_implementations_agree():
    # the loop (Numba and perform), the array form (JAX) and the NumPy definition
    h = np.exp(LOG_H)
    loop = _cure_mixture_jit(RELAPSED, ETA, h)
    arrays = cure_mixture_arrays(RELAPSED, ETA, h)
    for a, b in zip(loop, arrays):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cure_mixture(RELAPSED, ETA, h), loop[0], rtol=1e-12, atol=1e-13)


def test_scalars_broadcast_and_their_gradient_is_summed():
    eta = pt.dscalar("eta")
    h = np.array([0.1, 1.0, 3.0])
    relapsed = np.array([True, False, False])
    term = cure_mixture_term(relapsed, eta, h)
    value, grad = pytensor.function([eta], [term, pytensor.grad(term.sum(), eta)], mode="NUMBA")(0.4)
    pi = 1 / (1 + np.exp(-0.4))
    np.testing.assert_allclose(value, np.where(relapsed, np.log(1 - pi) - h, np.log(pi + (1 - pi) * np.exp(-h))))
    cured_share = pi / (pi + (1 - pi) * np.exp(-h))
    np.testing.assert_allclose(grad, np.sum(np.where(relapsed, -pi, cured_share - pi)))


def test_misuse_is_refused():
    with pytest.raises(ValueError, match="vectors"):
        cure_mixture_op(np.array([[True]]), np.zeros((1, 1)), np.zeros((1, 1)))
    eta, h = pt.dvectors("eta", "h")
    derivative = cure_mixture_op(np.array([True, False]), eta, h)[1]
    with pytest.raises(NotImplementedError, match="not differentiable"):
        pytensor.grad(derivative.sum(), eta)
    f = pytensor.function([eta, h], cure_mixture_op(np.array([True, False]), eta, h)[0], mode="FAST_COMPILE")
    with pytest.raises(ValueError, match="lengths differ"):
        f(np.zeros(3), np.zeros(3))

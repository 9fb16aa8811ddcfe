"""The cure-mixture relapse term as one compiled PyTensor Op, with its derivatives.

Row i of every cure model's log-likelihood has the term

- relapsed:      log(1 - pi) - H
- not relapsed:  log(pi + (1 - pi) exp(-H))

for pi = logistic(eta) and the relapse cumulative hazard H of the non-cured. Written as
PyTensor elementwise operations (:func:`relapse_model.models.likelihood.log_relapse_free`), the
log density and its gradient take about 120 us for 800 patients, most of a leapfrog step:
two softplus and a logaddexp, each an ``exp`` and a ``log1p``, and their gradients computed
again from the fused graph. This Op evaluates the term and its two derivatives in one loop from
two ``exp`` and two ``log1p`` per row, which the gradient reuses (about 45 us for the whole
likelihood; ``benchmarks/bench_model.py`` measures the fit).

The NumPy formula in :mod:`relapse_model.models.likelihood` stays the definition; the tests
check this Op's values and gradients against the PyTensor graph of that formula.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

#: Bumped whenever the kernel changes, so PyTensor's Numba cache does not load a stale one.
_KERNEL_VERSION = 2


@numba.njit(cache=True, fastmath=False)
def cure_mixture_row(relapsed, e, h):
    """(term, d term / d eta, d term / d H) of one row with log-odds ``e`` and hazard ``h``."""
    a = math.exp(-abs(e))
    log_not = -(max(e, 0.0) + math.log1p(a))     # log(1 - pi) = -softplus(eta)
    pi = 1.0 / (1.0 + a) if e >= 0.0 else a / (1.0 + a)
    if relapsed:
        return log_not - h, -pi, -1.0
    # log(pi + (1 - pi) e^-H) = log(1 - pi) + logaddexp(eta, -H)
    y = -h
    if e > y:
        b = math.exp(y - e)
        term = log_not + e + math.log1p(b)
        cured_share = 1.0 / (1.0 + b)
    else:
        b = math.exp(e - y)
        term = log_not + y + math.log1p(b)
        cured_share = b / (1.0 + b)
    # cured_share = pi / (pi + (1 - pi) e^-H), the probability of cure given no relapse
    return term, cured_share - pi, cured_share - 1.0


def _cure_mixture_loop(relapsed, eta, cum_hazard):
    """(term, d term / d eta, d term / d H) of every row; see the module docstring."""
    n = eta.shape[0]
    term = np.empty(n)
    d_eta = np.empty(n)
    d_cum = np.empty(n)
    for i in range(n):
        term[i], d_eta[i], d_cum[i] = cure_mixture_row(relapsed[i], eta[i], cum_hazard[i])
    return term, d_eta, d_cum


#: Called by ``perform`` (the C and Python backends); PyTensor's Numba backend compiles its own.
_cure_mixture_jit = numba.njit(cache=True, fastmath=False)(_cure_mixture_loop)


def cure_mixture_arrays(relapsed, eta, cum_hazard, xp=np):
    """The same three arrays written with array operations of ``xp`` (NumPy or ``jax.numpy``)."""
    a = xp.exp(-xp.abs(eta))
    log_not = -(xp.maximum(eta, 0.0) + xp.log1p(a))
    pi = xp.where(eta >= 0.0, 1.0 / (1.0 + a), a / (1.0 + a))
    y = -cum_hazard
    first = eta > y
    b = xp.exp(xp.where(first, y - eta, eta - y))
    cured_share = xp.where(first, 1.0, b) / (1.0 + b)
    free = log_not + xp.maximum(eta, y) + xp.log1p(b)
    term = xp.where(relapsed, log_not - cum_hazard, free)
    d_eta = xp.where(relapsed, -pi, cured_share - pi)
    d_cum = xp.where(relapsed, -1.0, cured_share - 1.0)
    return term, d_eta, d_cum


class CureMixtureTerm(Op):
    """Inputs ``(relapsed, eta, cum_hazard)``, vectors of one length; outputs the term and its
    derivatives in eta and in H. Only the first output is differentiable."""

    __props__ = ()

    def make_node(self, relapsed, eta, cum_hazard):
        relapsed = pt.as_tensor(relapsed)
        eta = pt.as_tensor(eta, dtype="float64")
        cum_hazard = pt.as_tensor(cum_hazard, dtype="float64")
        if relapsed.ndim != 1 or eta.ndim != 1 or cum_hazard.ndim != 1:
            raise ValueError("CureMixtureTerm takes vectors (broadcast them first)")
        if relapsed.dtype != "bool":
            relapsed = pt.neq(relapsed, 0)
        outputs = [pt.dvector() for _ in range(3)]
        return Apply(self, [relapsed, eta, cum_hazard], outputs)

    def perform(self, node, inputs, output_storage):
        relapsed, eta, cum_hazard = inputs
        if not (len(relapsed) == len(eta) == len(cum_hazard)):
            raise ValueError(f"CureMixtureTerm: lengths differ ({len(relapsed)}, {len(eta)}, {len(cum_hazard)})")
        for storage, value in zip(output_storage, _cure_mixture_jit(relapsed, eta, cum_hazard)):
            storage[0] = value

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]] * 3

    def connection_pattern(self, node):
        return [[False, False, False], [True, True, True], [True, True, True]]

    def pullback(self, inputs, outputs, cotangents):
        if any(not isinstance(g.type, DisconnectedType) for g in cotangents[1:]):
            raise NotImplementedError("CureMixtureTerm: the derivative outputs are not differentiable")
        g = cotangents[0]
        return [disconnected_type(), g * outputs[1], g * outputs[2]]


cure_mixture_op = CureMixtureTerm()


def cure_mixture_term(relapsed, eta, cum_hazard):
    """The cure-mixture relapse term of every row, as a PyTensor vector (see the module)."""
    relapsed, eta, cum_hazard = pt.broadcast_arrays(pt.as_tensor(relapsed), pt.as_tensor(eta),
                                                    pt.as_tensor(cum_hazard))
    return cure_mixture_op(relapsed, eta, cum_hazard)[0]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(CureMixtureTerm)
    def numba_funcify_cure_mixture(op, node=None, **kwargs):
        return numba_njit(_cure_mixture_loop), _KERNEL_VERSION


def register_jax() -> None:
    """Give the Op a JAX implementation (called by the JAX samplers, which import JAX anyway)."""
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(CureMixtureTerm)
    def jax_funcify_cure_mixture(op, **kwargs):
        def cure_mixture(relapsed, eta, cum_hazard):
            return cure_mixture_arrays(relapsed, eta, cum_hazard, xp=jnp)
        return cure_mixture


_register_numba()

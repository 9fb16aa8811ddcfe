"""The default model's likelihood as one compiled PyTensor Op, with its derivatives.

The default one-step model has Weibull cause-specific hazards of relapse and of death without
relapse, and a cure fraction acting on relapse. Row i (cause c, time t, log-odds of cure
eta_C, linear predictors eta_R and eta_D, Weibull shape k = exp(log_shape) and scale
lambda = exp(log_scale) of each cause) contributes

    cure_mixture(c == 1, eta_C, H_R) + [c == 1] log h_R + [c == 2] log h_D - H_D

with log h = log k - log lambda + (k - 1)(log t - log lambda) + eta and
H = exp(k (log t - log lambda) + eta): :func:`relapse_model.models.likelihood.competing_risks_loglik`
of :mod:`relapse_model.models.baselines`' Weibull hazards, which stays the definition (the tests
check this Op's values and gradients against the PyTensor graph of that formula).

Written as PyTensor operations (fused by PyTensor into a few loops), the Weibull hazards, the
mixture term and their gradients in three linear predictors and four Weibull parameters are
most of the log density's cost: 67-69 us with gradient for 800 patients, of which the rest of
the model is about 20 us. This Op computes each row's term and its seven derivatives in one
loop from the row's two Weibull exponentials and the mixture term's own
(:func:`~relapse_model.models.cure_mixture.cure_mixture_row`): 62 us, and Numba's first
compilation of the model 42 s instead of 45 s (measured 2026-12-02; the README's Benchmarks).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from relapse_model.models.cure_mixture import cure_mixture_arrays, cure_mixture_row

#: Bumped whenever the kernel changes, so PyTensor's Numba cache does not load a stale one.
_KERNEL_VERSION = 1
#: The Op's four scalar Weibull inputs (and its derivative outputs 4-7), in order.
WEIBULL_PARAMETERS = ("relapse_log_shape", "relapse_log_scale", "death_log_shape", "death_log_scale")


def _weibull_competing_loop(cause, log_t, eta_cure, eta_relapse, eta_death, log_shape_r, log_scale_r,
                            log_shape_d, log_scale_d):
    """(term, d/d eta_cure, d/d eta_relapse, d/d eta_death, d/d each Weibull parameter) of every
    row; the Weibull parameters are 0-d arrays."""
    n = log_t.shape[0]
    term = np.empty(n)
    d_cure = np.empty(n)
    d_relapse = np.empty(n)
    d_death = np.empty(n)
    d_shape_r, d_scale_r, d_shape_d, d_scale_d = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    log_shape_r, log_scale_r = log_shape_r.item(), log_scale_r.item()
    log_shape_d, log_scale_d = log_shape_d.item(), log_scale_d.item()
    shape_r = math.exp(log_shape_r)
    shape_d = math.exp(log_shape_d)
    for i in range(n):
        c = cause[i]
        u_r = log_t[i] - log_scale_r
        u_d = log_t[i] - log_scale_d
        cum_r = math.exp(shape_r * u_r + eta_relapse[i])
        cum_d = math.exp(shape_d * u_d + eta_death[i])
        mixture, d_mix_eta, d_mix_cum = cure_mixture_row(c == 1, eta_cure[i], cum_r)
        # through H_R: d H_R / d eta_R = H_R, d / d log_shape = H_R k u, d / d log_scale = -H_R k
        via_cum_r = d_mix_cum * cum_r
        d_cure[i] = d_mix_eta
        if c == 1:
            term[i] = mixture + (log_shape_r - log_scale_r + (shape_r - 1.0) * u_r + eta_relapse[i]) - cum_d
            d_relapse[i] = via_cum_r + 1.0
            d_death[i] = -cum_d
            d_shape_r[i] = via_cum_r * shape_r * u_r + 1.0 + shape_r * u_r
            d_scale_r[i] = -(via_cum_r + 1.0) * shape_r
            d_shape_d[i] = -cum_d * shape_d * u_d
            d_scale_d[i] = cum_d * shape_d
        elif c == 2:
            term[i] = mixture + (log_shape_d - log_scale_d + (shape_d - 1.0) * u_d + eta_death[i]) - cum_d
            d_relapse[i] = via_cum_r
            d_death[i] = 1.0 - cum_d
            d_shape_r[i] = via_cum_r * shape_r * u_r
            d_scale_r[i] = -via_cum_r * shape_r
            d_shape_d[i] = 1.0 + shape_d * u_d - cum_d * shape_d * u_d
            d_scale_d[i] = (cum_d - 1.0) * shape_d
        else:
            term[i] = mixture - cum_d
            d_relapse[i] = via_cum_r
            d_death[i] = -cum_d
            d_shape_r[i] = via_cum_r * shape_r * u_r
            d_scale_r[i] = -via_cum_r * shape_r
            d_shape_d[i] = -cum_d * shape_d * u_d
            d_scale_d[i] = cum_d * shape_d
    return term, d_cure, d_relapse, d_death, d_shape_r, d_scale_r, d_shape_d, d_scale_d


#: Called by ``perform`` (the C and Python backends); PyTensor's Numba backend compiles its own.
_weibull_competing_jit = numba.njit(cache=True, fastmath=False)(_weibull_competing_loop)


def weibull_competing_arrays(cause, log_t, eta_cure, eta_relapse, eta_death, log_shape_r, log_scale_r,
                             log_shape_d, log_scale_d, xp=np):
    """The same eight arrays written with array operations of ``xp`` (NumPy or ``jax.numpy``)."""
    shape_r, shape_d = xp.exp(log_shape_r), xp.exp(log_shape_d)
    u_r, u_d = log_t - log_scale_r, log_t - log_scale_d
    cum_r = xp.exp(shape_r * u_r + eta_relapse)
    cum_d = xp.exp(shape_d * u_d + eta_death)
    relapse, death = cause == 1, cause == 2
    mixture, d_mix_eta, d_mix_cum = cure_mixture_arrays(relapse, eta_cure, cum_r, xp=xp)
    via_cum_r = d_mix_cum * cum_r
    log_h_r = log_shape_r - log_scale_r + (shape_r - 1.0) * u_r + eta_relapse
    log_h_d = log_shape_d - log_scale_d + (shape_d - 1.0) * u_d + eta_death
    term = mixture + xp.where(relapse, log_h_r, xp.where(death, log_h_d, 0.0)) - cum_d
    is_r, is_d = xp.where(relapse, 1.0, 0.0), xp.where(death, 1.0, 0.0)
    return (term, d_mix_eta, via_cum_r + is_r, is_d - cum_d,
            via_cum_r * shape_r * u_r + is_r * (1.0 + shape_r * u_r), -(via_cum_r + is_r) * shape_r,
            is_d * (1.0 + shape_d * u_d) - cum_d * shape_d * u_d, (cum_d - is_d) * shape_d)


class WeibullCompetingTerm(Op):
    """Inputs ``(cause, log_t, eta_cure, eta_relapse, eta_death, *weibull)``: vectors of one
    length n (cause 0 censored, 1 relapse, 2 death without relapse; log time; the three linear
    predictors) and the four scalar Weibull parameters of :data:`WEIBULL_PARAMETERS`. Outputs
    the pointwise log-likelihood and its derivatives in the three linear predictors and the
    four Weibull parameters, each a vector of n. Only the first output is differentiable; the
    data inputs (cause, log time) are not differentiated."""

    __props__ = ()

    def make_node(self, cause, log_t, eta_cure, eta_relapse, eta_death, *weibull):
        cause = pt.as_tensor(cause)
        if not cause.dtype.startswith(("int", "uint")):
            raise TypeError(f"WeibullCompetingTerm: cause must be integer (0, 1, 2), got {cause.dtype}")
        vectors = [pt.as_tensor(v, dtype="float64") for v in (log_t, eta_cure, eta_relapse, eta_death)]
        scalars = [pt.as_tensor(v, dtype="float64") for v in weibull]
        if cause.ndim != 1 or any(v.ndim != 1 for v in vectors):
            raise ValueError("WeibullCompetingTerm takes vectors (broadcast them first)")
        if len(scalars) != len(WEIBULL_PARAMETERS) or any(v.ndim != 0 for v in scalars):
            raise ValueError(f"WeibullCompetingTerm: {len(WEIBULL_PARAMETERS)} scalar Weibull parameters "
                             f"({', '.join(WEIBULL_PARAMETERS)}), got {len(scalars)}")
        return Apply(self, [cause, *vectors, *scalars], [pt.dvector() for _ in range(8)])

    def perform(self, node, inputs, output_storage):
        cause, *vectors = inputs[:5]
        lengths = {len(cause), *(len(v) for v in vectors)}
        if len(lengths) > 1:
            raise ValueError(f"WeibullCompetingTerm: lengths differ ({len(cause)}, "
                             f"{', '.join(str(len(v)) for v in vectors)})")
        for storage, value in zip(output_storage, _weibull_competing_jit(*inputs)):
            storage[0] = value

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]] * 8

    def connection_pattern(self, node):
        return [[False] * 8, [False] * 8] + [[True] * 8 for _ in range(7)]

    def pullback(self, inputs, outputs, cotangents):
        if any(not isinstance(g.type, DisconnectedType) for g in cotangents[1:]):
            raise NotImplementedError("WeibullCompetingTerm: the derivative outputs are not differentiable")
        g = cotangents[0]
        return ([disconnected_type(), disconnected_type()] + [g * d for d in outputs[1:4]]
                + [(g * d).sum() for d in outputs[4:]])


weibull_competing_op = WeibullCompetingTerm()


def weibull_competing_loglik(cause, log_t, eta_cure, eta_relapse, eta_death, log_shape_relapse,
                             log_scale_relapse, log_shape_death, log_scale_death):
    """Pointwise log-likelihood of the Weibull competing-risk cure model, as a PyTensor vector.

    Parameters
    ----------
    cause : integer array (n,)
        0 censored, 1 relapse / refractory, 2 death without relapse.
    log_t : array (n,)
        Log of each row's time.
    eta_cure, eta_relapse, eta_death : tensors (n,) or scalars
        Log-odds of cure and the linear predictors of the two cause-specific hazards.
    log_shape_relapse, log_scale_relapse, log_shape_death, log_scale_death : scalar tensors
        Weibull parameters of the baseline hazards.

    Returns
    -------
    pytensor vector (n,)
        Equal to :func:`relapse_model.models.likelihood.competing_risks_loglik` of the Weibull
        hazards, evaluated with its derivatives by :class:`WeibullCompetingTerm`.
    """
    vectors = [pt.as_tensor(v) for v in (cause, log_t, eta_cure, eta_relapse, eta_death)]
    if len({v.type.shape for v in vectors}) > 1 or any(v.ndim != 1 for v in vectors):
        vectors = pt.broadcast_arrays(*vectors)
    # PyMC hands a CustomDist's scalar parameters over with a batch dimension of length 1
    weibull = [pt.as_tensor(p).reshape(()) for p in (log_shape_relapse, log_scale_relapse,
                                                      log_shape_death, log_scale_death)]
    return weibull_competing_op(*vectors, *weibull)[0]


def _register_numba() -> None:
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

    @register_funcify_default_op_cache_key(WeibullCompetingTerm)
    def numba_funcify_weibull_competing(op, node=None, **kwargs):
        return numba_njit(_weibull_competing_loop), _KERNEL_VERSION


def register_jax() -> None:
    """Give the Op a JAX implementation (called by the JAX samplers, which import JAX anyway)."""
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(WeibullCompetingTerm)
    def jax_funcify_weibull_competing(op, **kwargs):
        def weibull_competing(*inputs):
            return weibull_competing_arrays(*inputs, xp=jnp)
        return weibull_competing


_register_numba()

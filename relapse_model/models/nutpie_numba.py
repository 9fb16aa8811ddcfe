"""A PyMC model compiled for nutpie, with C callbacks that load from the compile cache.

``nutpie.compile_pymc_model(model, backend="numba")`` wraps PyTensor's Numba functions for the
log density (with gradient) and for the stored variables in two ``numba.cfunc`` callbacks. It
defines them as closures, which Numba cannot cache, so every process compiled them again:
about 7 of the default fit's 27 s with a warm cache (measured with nutpie 0.16.11, Numba 0.68).

:func:`compile_for_nutpie` builds the same :class:`nutpie.compile_pymc.CompiledPyMCModel`, but
generates the callbacks from source registered with PyTensor's Numba cache under a key derived
from PyTensor's own key for the wrapped function, so Numba stores them beside PyTensor's
functions and the next process loads them (0.4 s). The callbacks only copy the wrapped
function's results, with the return codes nutpie expects, so the draws are the same as with
``nutpie.compile_pymc_model`` (``tests/test_nutpie_numba.py``).

This uses nutpie's private helpers (``_make_functions``, ``_wrap_with_lock``,
``make_user_data``, ``_prepare_dims_and_coords``), which is why nutpie is pinned; a model with shared variables,
or a PyTensor without its Numba cache, goes through ``nutpie.compile_pymc_model`` unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numba
import numpy as np

#: Bumped whenever the callback sources below change, so stale cache entries are not loaded.
_WRAPPER_VERSION = "relapse-model-nutpie-callbacks-1"

# nutpie returns codes: 0 ok, 3 non-finite gradient, 4 non-finite log density, 1 error.
_LOGP_SOURCE = '''
def logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != n_dim:
        return -1
    try:
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_dim,))
        logp_val, grad = inner(x)
        logp_[0] = logp_val
        finite = True
        for i in range(n_dim):
            out[i] = grad[i]
            finite = finite and np.isfinite(grad[i])
        if not finite:
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
'''

_EXPAND_SOURCE = '''
def expand_callback(dim, expanded, x_, out_, user_data_):
    if dim != n_dim:
        return -1
    if expanded != n_expanded:
        return -1
    try:
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_expanded,))
        (values,) = inner(x)
        for i in range(n_expanded):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
'''

_LOGP_SIGNATURE = numba.types.int64(
    numba.types.uint64, numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double), numba.types.CPointer(numba.types.double),
    numba.types.voidptr)
_EXPAND_SIGNATURE = numba.types.int64(
    numba.types.uint64, numba.types.uint64, numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double), numba.types.voidptr)


def compile_for_nutpie(model: Any) -> Any:
    """Compile a PyMC model for ``nutpie.sample`` with the Numba backend.

    Equivalent to ``nutpie.compile_pymc_model(model, backend="numba")`` with its defaults
    (support-point initial values jittered on every free variable), with the C callbacks
    cached on disk. PyTensor's ``numba__fastmath`` flag in effect when this is called applies.

    Parameters
    ----------
    model : pymc.Model
        The model.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        What ``nutpie.sample`` takes.
    """
    import nutpie
    from nutpie import compile_pymc as nutpie_pymc
    from pymc.initial_point import make_initial_point_fn

    initial_point = make_initial_point_fn(model=model, default_strategy="support_point",
                                          jitter_rvs=set(model.free_RVs), return_transformed=True)
    n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info, reparameterized = (
        nutpie_pymc._make_functions(model, mode="NUMBA", compute_grad=True, join_expanded=True,
                                    pymc_initial_point_fn=nutpie_pymc._wrap_with_lock(initial_point)))
    logp_key, expand_key = _pytensor_key(logp_pt.vm.jit_fn), _pytensor_key(expand_pt.vm.jit_fn)
    if logp_pt.get_shared() or expand_pt.get_shared() or logp_key is None or expand_key is None:
        return nutpie.compile_pymc_model(model, backend="numba")
    sizes = {"n_dim": n_dim, "n_expanded": n_expanded}
    logp_callback = _cached_cfunc(_LOGP_SOURCE, "logp_callback", _LOGP_SIGNATURE,
                                  logp_pt.vm.jit_fn, logp_key, sizes)
    expand_callback = _cached_cfunc(_EXPAND_SOURCE, "expand_callback", _EXPAND_SIGNATURE,
                                    expand_pt.vm.jit_fn, expand_key, sizes)
    dims, coords = nutpie_pymc._prepare_dims_and_coords(model, shape_info, reparameterized)
    return nutpie_pymc.CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp_callback, compiled_expand_func=expand_callback,
        initial_point_func=initial_point_fn, shared_data={}, shared_var_keys={},
        user_data=nutpie_pymc.make_user_data({}, {}), n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_pt, expand_func=expand_pt,
        reparameterized_names=reparameterized)


def _pytensor_key(jit_fn: Any) -> str | None:
    """PyTensor's cache key of a Numba function it compiled (None when it is not cached)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    return CACHED_SRC_FUNCTIONS.get(getattr(jit_fn, "py_func", None))


def _cached_cfunc(source: str, name: str, signature: Any, inner: Any, inner_key: str,
                  sizes: dict[str, int]) -> Any:
    """A ``numba.cfunc`` of ``source`` calling ``inner``, cached under a key naming both."""
    from pytensor.link.numba.cache import compile_numba_function_src

    text = "\n".join([_WRAPPER_VERSION, source, inner_key, repr(sorted(sizes.items()))])
    key = hashlib.sha256(text.encode()).hexdigest()
    # this module's globals (with __name__) let Numba rebuild the callback's environment on load
    env = globals() | {"numba": numba, "np": np, "inner": inner, **sizes}
    function = compile_numba_function_src(source, name, global_env=env, cache_key=key)
    return numba.cfunc(signature, cache=True)(function)

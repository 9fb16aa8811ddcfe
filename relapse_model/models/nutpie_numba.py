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

It also skips the graph rewrites of a model compiled before (about 2 s of a warm default fit):
the log density with gradient and the stored variables are kept after rewriting in
:mod:`relapse_model.models.graph_cache`, under a hash of the model's graph, and a later process
builds the functions from them; they are the same graphs, so Numba loads the same code and
the draws are the same (``tests/test_graph_cache.py``).

The data are not compiled in: every array constant of the two rewritten functions becomes an
input, which the callbacks read through the ``user_data`` pointer nutpie passes them
(:mod:`relapse_model.models.lifted_data`), so other data of the same shape and structure (a
cross-validation fold, an SBC replication) load the compiled code from the cache.

This uses nutpie's private helpers (``_make_functions``, ``_wrap_with_lock``,
``_prepare_dims_and_coords``, ``_rv_dict_to_flat_array_wrapper``), which is
why nutpie is pinned; a model with shared variables, or a PyTensor without its Numba cache, goes
through ``nutpie.compile_pymc_model`` unchanged.
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import numba
import numpy as np

from relapse_model.models import compile_worker, graph_cache
from relapse_model.models.lifted_data import (EXPAND_TABLE, LOGP_TABLE, LiftedFunction, compiled, lift_graph,
                                              pointer_at, user_data)

#: Prefix of the stored pointwise log densities' names (removed from the posterior by the caller).
_LOG_LIKELIHOOD_PREFIX = "__log_likelihood__"
#: Bumped whenever the callback sources below change, so stale cache entries are not loaded.
_WRAPPER_VERSION = "relapse-model-nutpie-callbacks-3"

# nutpie returns codes: 0 ok, 3 non-finite gradient, 4 non-finite log density, 1 error.
_LOGP_SOURCE = '''
def logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != n_dim:
        return -1
    try:
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_dim,))
{read}        logp_val, grad = inner(x{args})
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
{read}        (values,) = inner(x{args})
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


def compile_for_nutpie(model: Any, log_likelihood: bool = False) -> Any:
    """Compile a PyMC model for ``nutpie.sample`` with the Numba backend.

    Equivalent to ``nutpie.compile_pymc_model(model, backend="numba")`` with its defaults
    (support-point initial values jittered on every free variable), with the C callbacks
    cached on disk. PyTensor's ``numba__fastmath`` flag in effect when this is called applies.

    Parameters
    ----------
    model : pymc.Model
        The model.
    log_likelihood : bool, default False
        Also store, with every draw, each observed variable's pointwise log density, as the
        variable :func:`log_likelihood_name` of it: computed by the same compiled function that
        stores the other variables, so it needs no compilation and no pass over the draws of
        its own afterwards (``pm.compute_log_likelihood`` needs both).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        What ``nutpie.sample`` takes.
    """
    import nutpie
    from nutpie import compile_pymc as nutpie_pymc
    from pymc.initial_point import make_initial_point_fn

    initial_point = nutpie_pymc._wrap_with_lock(make_initial_point_fn(
        model=model, default_strategy="support_point", jitter_rvs=set(model.free_RVs),
        return_transformed=True))
    graphs_key = _graphs_key(model, log_likelihood)
    stored = graph_cache.load(graphs_key) if graphs_key else None
    if stored is not None:
        n_dim, n_expanded, shape_info, reparameterized, free = (
            stored["n_dim"], stored["n_expanded"], stored["shape_info"], stored["reparameterized"],
            len(model.free_RVs))
        logp_graph, expand_graph = stored["logp"], stored["expand"]
        initial_point_fn = nutpie_pymc._rv_dict_to_flat_array_wrapper(
            initial_point, names=shape_info[0][:free], shapes=shape_info[2][:free])
    else:
        n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info, reparameterized = (
            nutpie_pymc._make_functions(model, mode="NUMBA", compute_grad=True, join_expanded=True,
                                        pymc_initial_point_fn=initial_point))
        if log_likelihood:
            expand_pt, shape_info = _expand_with_log_likelihood(model, n_dim, shape_info)
            n_expanded = sum(math.prod(shape) for shape in shape_info[2])
        if logp_pt.get_shared() or expand_pt.get_shared():
            return nutpie.compile_pymc_model(model, backend="numba")
        logp_graph = lift_graph(*graph_cache.rewritten_graph(logp_pt))
        expand_graph = lift_graph(*graph_cache.rewritten_graph(expand_pt))
    logp_lifted, expand_lifted = compiled(*logp_graph), compiled(*expand_graph)
    logp_key, expand_key = _pytensor_key(logp_lifted), _pytensor_key(expand_lifted)
    if logp_key is None or expand_key is None:
        return nutpie.compile_pymc_model(model, backend="numba")
    if stored is None and graphs_key:
        graph_cache.store(graphs_key, {
            "n_dim": n_dim, "n_expanded": n_expanded, "shape_info": shape_info,
            "reparameterized": reparameterized, "logp": logp_graph, "expand": expand_graph})
    sizes = {"n_dim": n_dim, "n_expanded": n_expanded}
    logp_callback, expand_callback = _callbacks(graphs_key, logp_lifted, logp_key, expand_lifted, expand_key, sizes)
    dims, coords = nutpie_pymc._prepare_dims_and_coords(model, shape_info, reparameterized)
    if log_likelihood:
        dims |= {log_likelihood_name(rv.name): model.named_vars_to_dims[rv.name]
                 for rv in model.observed_RVs if model.named_vars_to_dims.get(rv.name)}
    return nutpie_pymc.CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp_callback, compiled_expand_func=expand_callback,
        initial_point_func=initial_point_fn, shared_data={}, shared_var_keys={},
        user_data=user_data(logp_lifted, expand_lifted), n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_lifted, expand_func=expand_lifted,
        reparameterized_names=reparameterized)


def _callbacks(graphs_key: str | None, logp: LiftedFunction, logp_key: str, expand: LiftedFunction,
               expand_key: str, sizes: dict[str, int]) -> tuple[Any, Any]:
    """The log density's and the stored variables' C callbacks, from the cache or compiled.

    When the stored-variable callback is not compiled yet, a side process compiles it from the
    graphs stored under ``graphs_key`` while this one compiles the log density's (3-12 s off
    the default fit's cold start, about 28 s off the pathway model's); both write equivalent
    entries to Numba's cache (same graph, same key), and this process then loads it.
    """
    expand_source = _callback_function(_EXPAND_SOURCE, "expand_callback", expand, EXPAND_TABLE, expand_key, sizes)
    side = compile_worker.start(graphs_key) if graphs_key and not _in_numba_cache(expand_source) else None
    try:
        logp_callback = _cached_cfunc(_LOGP_SOURCE, "logp_callback", _LOGP_SIGNATURE, logp, LOGP_TABLE,
                                      logp_key, sizes)
    except BaseException:
        compile_worker.stop(side)
        raise
    compile_worker.finish(side)
    return logp_callback, numba.cfunc(_EXPAND_SIGNATURE, cache=True)(expand_source)


def compile_stored_variables(graphs_key: str) -> bool:
    """Compile, into the on-disk cache, the stored-variable callback of the graphs under
    ``graphs_key`` (what :func:`compile_for_nutpie` stored): the side process's job.

    Returns False, compiling nothing, when no graphs are stored under the key or PyTensor does
    not cache their function.
    """
    stored = graph_cache.load(graphs_key)
    if stored is None:
        return False
    expand = compiled(*stored["expand"])
    expand_key = _pytensor_key(expand)
    if expand_key is None:
        return False
    _cached_cfunc(_EXPAND_SOURCE, "expand_callback", _EXPAND_SIGNATURE, expand, EXPAND_TABLE, expand_key,
                  {"n_dim": stored["n_dim"], "n_expanded": stored["n_expanded"]})
    return True


def log_likelihood_name(observed: str) -> str:
    """The name under which :func:`compile_for_nutpie` stores ``observed``'s pointwise log density."""
    return f"{_LOG_LIKELIHOOD_PREFIX}{observed}"


def _expand_with_log_likelihood(model: Any, n_dim: int, shape_info: Any) -> tuple[Any, Any]:
    """nutpie's function of the stored variables with each observed variable's pointwise log
    density appended: the same graph as ``_make_functions`` builds, plus those outputs."""
    import pytensor.tensor as pt
    from pymc.pytensorf import compile as compile_pymc

    names, slices, shapes = (list(part) for part in shape_info)
    free = len(model.free_RVs)
    joined = pt.TensorType("float64", shape=(n_dim,))(name="_unconstrained_point")
    variables = [joined[slices[i]] for i in range(free)]
    replacements = {model.rvs_to_values[rv]: value.reshape(shapes[i]).astype(rv.dtype)
                    for i, (rv, value) in enumerate(zip(model.free_RVs, variables))}
    remaining = [var for var in model.unobserved_value_vars if var.name not in names[:free]]
    pointwise = _frozen(model.logp(vars=model.observed_RVs, sum=False))
    stored = pt.concatenate([*[v.ravel() for v in variables],
                             *[pt.as_tensor(v, allow_xtensor_conversion=True).ravel() for v in remaining],
                             *[term.ravel() for term in pointwise]])
    with model:
        expand = compile_pymc((joined,), [stored], givens=list(replacements.items()), mode="NUMBA")
    start = slices[-1].stop
    for rv in model.observed_RVs:
        shape = observed_values(model, rv).shape
        names.append(log_likelihood_name(rv.name))
        shapes.append(shape)
        slices.append(slice(start, start + math.prod(shape)))
        start += math.prod(shape)
    return expand, (names, slices, shapes)


def observed_values(model: Any, rv: Any) -> np.ndarray:
    """The data of ``model``'s observed variable ``rv`` (a constant or a shared variable)."""
    value = model.rvs_to_values[rv]
    return np.asarray(value.data if hasattr(value, "data") else value.eval())


def _frozen(outputs: list[Any]) -> list[Any]:
    """``outputs`` with every shared variable they read replaced by a constant of its value.

    A dimension's length is a shared variable (the pointwise log density of an observed
    variable with dims reads it) that nutpie's log density does not read; left shared, it
    would send the whole model down nutpie's slower shared-data path. Freezing is safe here:
    the function is built for one fit, and the graph cache's key holds shared values by bytes.
    """
    from pytensor.compile import SharedVariable
    from pytensor.graph.replace import clone_replace
    from pytensor.graph.traversal import ancestors

    shared = {var for var in ancestors(outputs) if isinstance(var, SharedVariable)}
    if not shared:
        return outputs
    constants = {var: var.type.constant_type(type=var.type, data=var.get_value(), name=var.name)
                 for var in shared}
    return clone_replace(outputs, replace=constants)


def _graphs_key(model: Any, log_likelihood: bool = False) -> str | None:
    """The graph cache's key of everything ``nutpie``'s ``_make_functions`` builds from ``model``:
    the log density (its gradient follows from it), the stored variables, and the free variables
    themselves, whose sizes set the flat vector's layout."""
    inputs = [model.rvs_to_values[rv] for rv in model.free_RVs]
    outputs = [model.logp(), *model.unobserved_value_vars, *model.free_RVs]
    return graph_cache.graph_key(inputs, outputs, context=(
        _WRAPPER_VERSION, "nutpie _make_functions NUMBA grad joined",
        f"check_bounds={model.check_bounds}", f"log_likelihood={log_likelihood}"))


def _pytensor_key(lifted: LiftedFunction) -> str | None:
    """PyTensor's cache key of the Numba function it compiled (None when it is not cached)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    return CACHED_SRC_FUNCTIONS.get(getattr(lifted.function.vm.jit_fn, "py_func", None))


def _cached_cfunc(template: str, name: str, signature: Any, inner: LiftedFunction, table_index: int,
                  inner_key: str, sizes: dict[str, int]) -> Any:
    """A ``numba.cfunc`` of ``template`` calling ``inner``, cached under a key naming both."""
    function = _callback_function(template, name, inner, table_index, inner_key, sizes)
    return numba.cfunc(signature, cache=True)(function)


def _callback_function(template: str, name: str, inner: LiftedFunction, table_index: int, inner_key: str,
                       sizes: dict[str, int]) -> Any:
    """The Python function of a callback's source (``template`` reading ``inner``'s arrays from
    table ``table_index`` of ``user_data``), registered with PyTensor's Numba cache."""
    from pytensor.link.numba.cache import compile_numba_function_src

    read, args = inner.reading_source(table_index)
    source = template.format(read=read, args=args)
    text = "\n".join([_WRAPPER_VERSION, source, inner_key, repr(sorted(sizes.items()))])
    key = hashlib.sha256(text.encode()).hexdigest()
    # this module's globals (with __name__) let Numba rebuild the callback's environment on load
    env = globals() | {"numba": numba, "np": np, "pointer_at": pointer_at, "inner": inner.function.vm.jit_fn, **sizes}
    return compile_numba_function_src(source, name, global_env=env, cache_key=key)


def _in_numba_cache(function: Any) -> bool:
    """Whether Numba's cache holds compiled code of ``function`` (True when it cannot tell)."""
    try:
        from numba.core.caching import FunctionCache
        return os.path.exists(FunctionCache(function)._cache_file._index_path)
    except Exception:  # noqa: BLE001 - a Numba without this layout: start no side process
        return True

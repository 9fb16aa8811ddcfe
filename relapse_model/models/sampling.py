"""NUTS sampling of a PyMC model, with the pointwise log-likelihood, on one of several backends.

One entry point, :func:`sample_posterior`, so that the model code does not depend on which NUTS
implementation draws the posterior. The default is ``"nutpie"``: nutpie's NUTS in Rust on the
log density compiled by PyTensor's Numba backend (a dependency of the package). On the default
model it fits 2.5 times faster in wall time than PyMC's Python NUTS, with 3.2 times the ESS per
second of sampling, and the pathway model 3 times faster (README, Benchmarks); ``"pymc"`` stays
available.

**Reproducibility.** For one ``random_seed`` (and the same model, data, ``draws``, ``tune``,
``chains`` and package versions) every sampler here gives bit-identical draws within a
process. Across fresh processes, one starting from empty compile caches and one reusing
them, measured with PyMC 6.4, PyTensor 3.3.7, Numba 0.68, nutpie 0.16.11 and JAX 0.12 on the
default model (``benchmarks/bench_samplers.py``, ``tests/test_sampling.py``):

- ``"pymc"`` (C backend): bit-identical. ``cores`` does not change the draws.
- ``"nutpie"`` / ``"nutpie-numba"``: bit-identical, because the logp is compiled here with
  ``numba__fastmath=False`` (through :func:`relapse_model.models.nutpie_numba.compile_for_nutpie`,
  whose C callbacks load from the compile cache instead of being compiled in every process). With PyTensor's default fastmath flags (``reassoc``,
  ``contract``, ``afn``, ``arcp``, ``nsz``; ``options={"fastmath": True}``, and what
  ``pm.sample(nuts_sampler="nutpie")`` does) they are not: the machine code Numba loads
  from its on-disk cache rounds differently from the code it compiles fresh for the same
  graph (measured: the same logp 1 ulp apart, -2110.256013103978 vs
  -2110.2560131039786), and NUTS amplifies one ulp into different draws. Without fastmath
  LLVM may only make value-preserving rewrites, so fresh and cached code agree.
- ``"nutpie-jax"``, ``"numpyro"``: bit-identical (XLA on CPU; JAX's persistent
  compilation cache empty, then warm).
- ``"blackjax"``: PyMC 6.4's ``pm.sample(nuts_sampler="blackjax")`` fails with BlackJAX
  1.7.1 (``kernel() got an unexpected keyword argument 'progress_bar'``), so unmeasured.

The draws are not the same *between* samplers (different NUTS implementations and random
streams), only their posterior summaries (means within ~0.1 posterior SD). A change of any
of the packages above, of the CPU's instruction set or of the operating system's libm may
change the draws; ``tests/test_sampling.py`` guards the cold-versus-warm guarantee.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from typing import Any

import numpy as np
import xarray as xr

#: Accepted values of ``sampler``. ``"nutpie"`` means ``"nutpie-numba"``.
SAMPLERS = ("pymc", "nutpie", "nutpie-numba", "nutpie-jax", "numpyro", "blackjax")
#: Samplers whose log density PyTensor's Numba backend compiles.
_NUMBA_SAMPLERS = ("nutpie", "nutpie-numba")
#: The sampler used when none is named.
DEFAULT_SAMPLER = "nutpie"
#: Samplers needing an optional package, and the package.
_OPTIONAL = {"nutpie": "nutpie", "nutpie-numba": "nutpie", "nutpie-jax": "nutpie",
             "numpyro": "numpyro", "blackjax": "blackjax"}


class SamplerNotInstalledError(ImportError):
    """The requested sampler needs a package that is not installed."""


def sample_posterior(pymc_model, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
                     random_seed: int = 0, sampler: str = DEFAULT_SAMPLER, target_accept: float = 0.95,
                     progressbar: bool = False, cores: int | None = None,
                     log_likelihood: bool = True, options: dict[str, Any] | None = None) -> xr.DataTree:
    """Draw the posterior of ``pymc_model`` with NUTS, plus the pointwise log-likelihood.

    Parameters
    ----------
    pymc_model : pymc.Model
    draws, tune, chains : int
        Draws kept and warm-up iterations per chain, and number of chains.
    random_seed : int
        Seed of everything random in the run (initial points, momenta, trajectory directions).
    sampler : {"pymc", "nutpie", "nutpie-numba", "nutpie-jax", "numpyro", "blackjax"}
        ``"pymc"``: PyMC's NUTS with the logp compiled by PyTensor's C backend.
        ``"nutpie"`` / ``"nutpie-numba"``: nutpie's NUTS (Rust) with the logp compiled by
        PyTensor's Numba backend; ``"nutpie-jax"``: the same sampler with a JAX logp.
        ``"numpyro"`` / ``"blackjax"``: ``pm.sample(nuts_sampler=...)`` on JAX (CPU).
    target_accept : float
        Target mean acceptance probability of the step-size adaptation.
    progressbar : bool
        Show progress on stderr: for ``"pymc"`` and nutpie the package's own bar (iterations of
        all chains, warm-up or drawing, divergences), for the JAX samplers theirs.
    cores : int, optional
        Chains run in parallel (default: ``min(chains, os.cpu_count())``). For ``"pymc"`` the
        chains are processes, for nutpie threads; the draws do not depend on it.
    log_likelihood : bool, default True
        Add the ``log_likelihood`` group (every observed row, for LOO). On nutpie's Numba path
        the function that stores each draw's variables computes it too (the same values as
        ``pm.compute_log_likelihood``, see :func:`_log_likelihood_from_posterior`); otherwise
        ``pm.compute_log_likelihood`` computes it from the draws (PyTensor's C backend).
    options : dict, optional
        Extra keyword arguments of the underlying sampler (``pm.sample`` for ``"pymc"``, e.g.
        ``{"init": "jitter+adapt_diag_grad"}``; ``nutpie.sample`` for nutpie, e.g.
        ``{"adaptation": "low_rank"}``, plus ``"gradient_backend"`` for
        ``nutpie.compile_pymc_model`` and ``"fastmath"`` (default False, see the module docstring);
        ``nuts_sampler_kwargs`` for the JAX samplers, default ``{"chain_method": "vectorized"}``).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``observed_data`` and (with ``log_likelihood``)
        ``log_likelihood``, as ``pm.sample`` gives them. The root's attrs get ``sampler``,
        ``compile_seconds`` (where it can be separated from sampling) and ``sampling_seconds``.

    Raises
    ------
    ValueError
        Unknown ``sampler``.
    SamplerNotInstalledError
        The sampler's package (nutpie, numpyro or blackjax) is not installed.

    Which samplers are bit-reproducible, and why: see the module docstring.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler {sampler!r} is not one of {', '.join(SAMPLERS)}")
    _require(sampler)
    options = dict(options or {})
    cores = cores or min(chains, os.cpu_count() or 1)
    if sampler not in _NUMBA_SAMPLERS and sampler != "pymc":
        # JAX compiles these samplers' log density: give the likelihood's compiled Ops their JAX form
        from relapse_model.models import cure_mixture, weibull_competing
        cure_mixture.register_jax()
        weibull_competing.register_jax()
    with warnings.catch_warnings(), _quiet_pymc_info():
        _quiet_known_warnings()
        if sampler == "pymc":
            tree = _sample_pymc(pymc_model, draws, tune, chains, cores, random_seed, target_accept,
                                progressbar, options)
        elif sampler.startswith("nutpie"):
            tree = _sample_nutpie(pymc_model, draws, tune, chains, cores, random_seed, target_accept,
                                  progressbar, options, backend="numba" if sampler in _NUMBA_SAMPLERS else "jax",
                                  log_likelihood=log_likelihood)
        else:
            tree = _sample_jax(pymc_model, draws, tune, chains, random_seed, target_accept, progressbar,
                               options, sampler)
        if log_likelihood and "log_likelihood" not in tree.children:
            _add_log_likelihood(tree, pymc_model, backend="numba" if sampler in _NUMBA_SAMPLERS else "c")
    tree.attrs["sampler"] = sampler
    return tree


def _add_log_likelihood(tree: xr.DataTree, pymc_model, backend: str) -> None:
    """Add the pointwise ``log_likelihood`` group (and its time) to ``tree`` from its draws.

    Used where the sampler did not store it with the draws (nutpie's Numba path does, see
    :func:`_log_likelihood_from_posterior`): PyMC's NUTS, JAX samplers and nutpie with custom
    compile options. Numba where the sampler compiles with it anyway: with empty caches it
    compiles the pointwise log-likelihood in 3.6 s where C takes 14.7 s (0.8 vs 1.3 s warm);
    with fastmath off for the same reason as the log density.
    """
    import pymc as pm
    import pytensor

    t0 = time.perf_counter()
    with pytensor.config.change_flags(numba__fastmath=False):
        pm.compute_log_likelihood(tree, model=pymc_model, progressbar=False, backend=backend)
    tree.attrs["log_likelihood_seconds"] = time.perf_counter() - t0


def _require(sampler: str) -> None:
    package = _OPTIONAL.get(sampler)
    if package is None:
        return
    import importlib.util
    missing = [p for p in ([package] + (["jax"] if sampler in ("nutpie-jax", "numpyro", "blackjax") else []))
               if importlib.util.find_spec(p) is None]
    if missing:
        raise SamplerNotInstalledError(
            f"sampler {sampler!r} needs {' and '.join(missing)}, which is not installed "
            f"(pip install {' '.join(missing)}); sampler='pymc' needs nothing extra")


@contextlib.contextmanager
def _quiet_pymc_info():
    """PyMC's informational lines (\"Initializing NUTS...\", \"NUTS: [relapse_beta_z, ...]\",
    \"Multiprocess sampling ...\") are internals to a user of this package: hidden while sampling
    (its warnings still show); the package's own progress bar says what is happening."""
    import pymc  # noqa: F401 - importing pymc sets its logger's level, so import it first

    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _sampling_callback(update, chains: int, tune: int, draws: int):
    """A ``pm.sample`` callback driving our bar: iterations of every chain, the phase and the
    divergences after tuning. It only reads each draw's statistics, so the draws are unchanged."""
    total = chains * (tune + draws)
    state = {"done": 0, "divergences": 0}

    def callback(trace, draw) -> None:
        state["done"] += 1
        stats = draw.stats if isinstance(draw.stats, list) else [draw.stats]
        if not draw.tuning:
            state["divergences"] += int(sum(bool(s.get("diverging", False)) for s in stats))
        done = state["done"]
        if done % 20 == 0 or done == total:
            phase = "warming up" if draw.tuning else "drawing"
            note = f", {state['divergences']} divergence(s)" if state["divergences"] else ""
            update(done, total, f"sampling {chains} chain(s): {phase}{note}")
    return callback


def _sample_pymc(model, draws, tune, chains, cores, seed, target_accept, progressbar, options) -> xr.DataTree:
    import pymc as pm

    from relapse_model.common.progress import progress_bar
    t0 = time.perf_counter()
    with model, progress_bar(f"sampling {chains} chain(s): compiling", chains * (tune + draws),
                             enabled=progressbar) as update:
        callback = _sampling_callback(update, chains, tune, draws) if progressbar else None
        tree = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, random_seed=seed,
                         progressbar=False, target_accept=target_accept, callback=callback,
                         compute_convergence_checks=False, backend="c", **options)
    wall = time.perf_counter() - t0
    sampling = float(tree["posterior"].attrs.get("sampling_time", np.nan))
    tree.attrs.update({"sampling_seconds": sampling, "compile_seconds": wall - sampling})
    return tree


def _sample_nutpie(model, draws, tune, chains, cores, seed, target_accept, progressbar, options,
                   backend: str, log_likelihood: bool = False) -> xr.DataTree:
    import nutpie
    import pytensor

    compile_kwargs = {k: options.pop(k) for k in ("gradient_backend",) if k in options}
    # Numba: PyTensor's default fastmath flags (reassoc, contract, afn, arcp, nsz) let LLVM
    # rewrite the logp differently when its code comes from the on-disk cache than when it is
    # freshly compiled, so the draws would depend on the cache's state; without them every
    # rewrite is value-preserving. ``options={"fastmath": True}`` restores PyTensor's default.
    fastmath = bool(options.pop("fastmath", False))
    from relapse_model.common.progress import progress_bar
    from relapse_model.models.nutpie_numba import compile_for_nutpie
    with progress_bar(f"sampling {chains} chain(s): compiling", chains * (tune + draws),
                      enabled=progressbar) as update:
        t0 = time.perf_counter()
        with pytensor.config.change_flags(numba__fastmath=fastmath):
            stores_log_likelihood = log_likelihood and backend == "numba" and not compile_kwargs
            if backend == "numba" and not compile_kwargs:
                compiled = compile_for_nutpie(model, log_likelihood=stores_log_likelihood)
            else:
                compiled = nutpie.compile_pymc_model(model, backend=backend, **compile_kwargs)
        t1 = time.perf_counter()
        # nutpie's own bar is an indicatif line in a terminal and HTML in a notebook; ours is
        # the same everywhere, and reading the progress does not touch the draws
        tree = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                             target_accept=target_accept, progress_bar=False, save_warmup=False,
                             progress_callback=_nutpie_callback(update, chains) if progressbar else None,
                             progress_rate=250, **options)
    t2 = time.perf_counter()
    tree = _with_observed_data(_strings_for_objects(tree), model)
    if stores_log_likelihood:
        tree = _log_likelihood_from_posterior(tree, model)
        tree.attrs["log_likelihood_seconds"] = time.perf_counter() - t2
    tree.attrs.update({"compile_seconds": t1 - t0, "sampling_seconds": t2 - t1})
    return tree


def _log_likelihood_from_posterior(tree: xr.DataTree, model) -> xr.DataTree:
    """Move the pointwise log densities that :func:`compile_for_nutpie` stored with every draw
    from ``posterior`` into a ``log_likelihood`` group laid out as ``pm.compute_log_likelihood``
    lays it out (one variable per observed variable, named after it). The values equal
    ``pm.compute_log_likelihood``'s with Numba bit for bit on the default model, and to rounding
    (1e-15 relative) where a term reads a transformed variable."""
    from relapse_model.models.nutpie_numba import log_likelihood_name

    posterior = tree["posterior"].to_dataset()
    group, stored = {}, []
    for rv in model.observed_RVs:
        name = log_likelihood_name(rv.name)
        values = posterior[name]
        dims = model.named_vars_to_dims.get(rv.name) or tuple(
            f"{rv.name}_dim_{i}" for i in range(values.ndim - 2))
        coords = {d: np.asarray(model.coords[d]) if model.coords.get(d) is not None else np.arange(n)
                  for d, n in zip(dims, values.shape[2:])}
        group[rv.name] = xr.DataArray(values.to_numpy(), dims=("chain", "draw", *dims),
                                      coords={"chain": values["chain"].to_numpy(),
                                              "draw": values["draw"].to_numpy(), **coords})
        stored.append(name)
    posterior = posterior.drop_vars(stored)
    unused = [d for d in posterior.dims if not any(d in v.dims for v in posterior.data_vars.values())]
    posterior = posterior.drop_dims(unused)
    tree["posterior"] = xr.DataTree(posterior)
    tree["log_likelihood"] = xr.DataTree(xr.Dataset(group))
    return tree


def _strings_for_objects(tree: xr.DataTree) -> xr.DataTree:
    """nutpie's ``divergence_message`` holds Python objects (None when no divergence), which
    NetCDF stores as NaN floats; as strings ("" for none) the fit reads back as it was saved."""
    stats = tree["sample_stats"].to_dataset()
    objects = [name for name, var in stats.data_vars.items() if var.dtype == object]
    if not objects:
        return tree
    for name in objects:
        values = np.vectorize(lambda v: "" if v is None else str(v), otypes=[str])(stats[name].values)
        stats[name] = stats[name].copy(data=values)
    tree["sample_stats"] = xr.DataTree(stats)
    return tree


def _nutpie_callback(update, chains: int):
    """A nutpie ``progress_callback`` (a list of per-chain progress objects) driving our bar."""
    def callback(progress) -> None:
        done = sum(int(p.finished_draws) for p in progress)
        total = sum(int(p.total_draws) for p in progress)
        phase = "warming up" if any(p.tuning for p in progress) else "drawing"
        divergences = sum(int(p.divergences) for p in progress)
        note = f", {divergences} divergence(s)" if divergences else ""
        update(done, total, f"sampling {chains} chain(s): {phase}{note}")
    return callback


def _sample_jax(model, draws, tune, chains, seed, target_accept, progressbar, options, sampler) -> xr.DataTree:
    import pymc as pm
    kwargs = {"chain_method": "vectorized"} | options
    t0 = time.perf_counter()
    with model:
        tree = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, nuts_sampler=sampler,
                         progressbar=progressbar, target_accept=target_accept,
                         compute_convergence_checks=False, nuts_sampler_kwargs=kwargs,
                         idata_kwargs={"log_likelihood": False})
    wall = time.perf_counter() - t0
    sampling = float(tree["posterior"].attrs.get("sampling_time", np.nan))
    tree.attrs.update({"sampling_seconds": sampling, "compile_seconds": wall - sampling})
    return tree


def _with_observed_data(tree: xr.DataTree, model) -> xr.DataTree:
    """Add ``observed_data`` as ``pm.sample`` does (nutpie gives posterior and sample_stats only)."""
    if "observed_data" in tree.children:
        return tree
    from relapse_model.models.nutpie_numba import observed_values

    data = {}
    for rv in model.observed_RVs:
        arr = observed_values(model, rv)
        dims = model.named_vars_to_dims.get(rv.name) or tuple(f"{rv.name}_dim_{i}" for i in range(arr.ndim))
        # PyMC keeps coordinates as tuples, which xarray would read as (dims, data)
        coords = {d: np.asarray(model.coords[d]) for d in dims
                  if d in model.coords and model.coords[d] is not None}
        data[rv.name] = xr.DataArray(arr, dims=dims, coords=coords)
    tree["observed_data"] = xr.DataTree(xr.Dataset(data))
    return tree


def _quiet_known_warnings() -> None:
    # pip-installed PyTensor has no BLAS; our dot products are tiny matrix-vector ones
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")
    warnings.filterwarnings("ignore", category=FutureWarning, module="pymc")
    # early warm-up trajectories can overflow; NUTS rejects them (counted as divergences if
    # they happen after tuning, and then reported by check())
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="overflow encountered")
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="invalid value encountered")

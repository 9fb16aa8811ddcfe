"""compile_for_nutpie: the same draws as nutpie's own compile, callbacks that compute the model's
log density, and callbacks loaded from the compile cache by the next process."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pymc as pm
import pytensor
import pytest

nutpie = pytest.importorskip("nutpie")

from relapse_model.models.nutpie_numba import compile_for_nutpie  # noqa: E402
from tests.test_sampling import _digest, _tiny_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _model(shared: bool = False) -> pm.Model:
    if not shared:
        return _tiny_model()
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        pm.Normal("obs", mu, 1.0, observed=pm.Data("y", np.linspace(-1.0, 2.0, 7)))
    return model


def _draws(compiled) -> str:
    return _digest(nutpie.sample(compiled, draws=80, tune=80, chains=2, seed=7, progress_bar=False))


def test_same_draws_as_nutpies_own_compile():
    model = _model()
    with pytensor.config.change_flags(numba__fastmath=False):
        ours, theirs = compile_for_nutpie(model), nutpie.compile_pymc_model(model, backend="numba")
    assert (ours.n_dim, ours.n_expanded, ours.shapes) == (theirs.n_dim, theirs.n_expanded, theirs.shapes)
    assert _draws(ours) == _draws(theirs)


def _call_logp(compiled, x: np.ndarray, dim: int | None = None) -> tuple[int, float, np.ndarray]:
    grad, logp = np.zeros(compiled.n_dim), np.zeros(1)
    pointer = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_logp_func.ctypes(
        compiled.n_dim if dim is None else dim, x.ctypes.data_as(pointer),
        grad.ctypes.data_as(pointer), logp.ctypes.data_as(pointer), compiled.user_data.ctypes.data)
    return code, float(logp[0]), grad


def test_logp_callback_computes_the_models_log_density_and_gradient():
    model = _model()
    compiled = compile_for_nutpie(model)
    point = model.initial_point()
    # the callback's vector is the free variables in model order, each raveled
    x = np.concatenate([np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs])
    x = x + np.linspace(-0.3, 0.4, x.size)
    code, logp, grad = _call_logp(compiled, x)
    reference = model.logp_dlogp_function(ravel_inputs=True)
    expected_logp, expected_grad = reference(x)
    assert code == 0
    np.testing.assert_allclose(logp, expected_logp, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-12)
    assert _call_logp(compiled, x, dim=compiled.n_dim + 1)[0] == -1       # wrong size: refused
    x[1] = np.inf                                                        # log(tau) = inf
    assert _call_logp(compiled, x)[0] in (3, 4)                          # non-finite: reported


def _observed_model(seed: int) -> pm.Model:
    y = np.random.default_rng(seed).normal(1.0, 2.0, size=(3, 12))
    with pm.Model(coords={"group": ["a", "b", "c"]}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfNormal("tau", 2.0)
        z = pm.Normal("z", 0.0, 1.0, dims="group")
        pm.Normal("y", mu + tau * z[:, None], 1.5, observed=y)
    return model


def _reference_logp(model: pm.Model, x: np.ndarray) -> float:
    return float(model.logp_dlogp_function(ravel_inputs=True)(x)[0])


def test_other_data_of_the_same_shape_reuse_the_compiled_callbacks_and_are_read_at_run_time():
    """The data are inputs of the compiled code (models/lifted_data.py): a second data set of
    the same shape loads both callbacks from the cache, and each model computes with its own."""
    first_model, second_model = _observed_model(11), _observed_model(12)
    first = compile_for_nutpie(first_model)
    second = compile_for_nutpie(second_model)
    assert second.compiled_logp_func.cache_hits == 1 and second.compiled_expand_func.cache_hits == 1
    x = np.linspace(-0.5, 0.5, first.n_dim)
    first_logp, second_logp = _call_logp(first, x)[1], _call_logp(second, x)[1]
    assert first_logp != second_logp
    np.testing.assert_allclose(first_logp, _reference_logp(first_model, x), rtol=1e-12)
    np.testing.assert_allclose(second_logp, _reference_logp(second_model, x), rtol=1e-12)


def test_a_model_with_shared_data_goes_through_nutpie_unchanged():
    compiled = compile_for_nutpie(_model(shared=True))
    assert compiled.shared_data, "nutpie's compile keeps the shared variable as data"
    tree = nutpie.sample(compiled, draws=20, tune=20, chains=1, seed=1, progress_bar=False)
    assert tree["posterior"]["mu"].shape == (1, 20)


_SCRIPT = """
import pytensor
from tests.test_nutpie_numba import _model, _draws
from relapse_model.models import graph_cache
from relapse_model.models.nutpie_numba import _graphs_key, compile_for_nutpie
with pytensor.config.change_flags(numba__fastmath=False):
    model = _model()
    stored = (graph_cache.cache_dir() / f"{_graphs_key(model)}.pkl").exists()
    compiled = compile_for_nutpie(model)
print("HITS", compiled.compiled_logp_func.cache_hits, compiled.compiled_expand_func.cache_hits, int(stored))
print("DIGEST", _draws(compiled))
"""


def _processes(cache: Path, worker: str, runs: int) -> list[dict[str, list[str]]]:
    """HITS and DIGEST of _SCRIPT run ``runs`` times, from empty compile caches under ``cache``."""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={cache / 'pytensor'}",
           "NUMBA_CACHE_DIR": str(cache / "numba"), "PYTHONPATH": str(ROOT),
           "RELAPSE_MODEL_COMPILE_WORKER": worker}
    env.pop("PYTENSOR_COMPILEDIR", None)
    outputs = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                              text=True, timeout=600, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append({ln.split()[0]: ln.split()[1:] for ln in done.stdout.splitlines()
                        if ln.startswith(("HITS", "DIGEST"))})
    return outputs


@pytest.mark.slow
def test_the_next_process_loads_the_callbacks_and_graphs_from_the_cache(tmp_path):
    with_worker = _processes(tmp_path, "1", 2)
    # empty caches, but the side process compiled the stored-variable callback meanwhile
    assert with_worker[0]["HITS"] == ["0", "1", "0"], "the side process did not fill the cache"
    assert with_worker[1]["HITS"] == ["1", "1", "1"], \
        "the second process compiled the callbacks or rewrote the graphs again"
    with pytensor.config.change_flags(numba__fastmath=False):
        here = _draws(compile_for_nutpie(_model()))       # this process, without a side process
    digests = {here, *(run["DIGEST"][0] for run in with_worker)}
    assert len(digests) == 1, "the draws depend on the cache's state or on which process compiled"


def _two_observed_model() -> pm.Model:
    rng = np.random.default_rng(11)
    with pm.Model(coords={"patient": np.arange(9)}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 3.0)
        pm.Normal("y", mu, sigma, observed=rng.normal(1.0, 2.0, size=9), dims="patient")
        pm.Poisson("count", pm.math.exp(mu / 4.0), observed=rng.poisson(1.5, size=(2, 3)))
    return model


def test_log_likelihood_stored_with_the_draws_equals_pymcs_and_leaves_the_draws_unchanged():
    from relapse_model.models.sampling import sample_posterior

    model = _two_observed_model()
    kw = dict(draws=60, tune=60, chains=2, random_seed=5, sampler="nutpie", progressbar=False)
    stored = sample_posterior(model, log_likelihood=True, **kw)
    without = sample_posterior(model, log_likelihood=False, **kw)
    assert _digest(stored) == _digest(without)
    assert set(stored["posterior"].data_vars) == {"mu", "sigma"}
    assert "log_likelihood" not in without.children

    with pytensor.config.change_flags(numba__fastmath=False):
        reference = pm.compute_log_likelihood(without, model=model, progressbar=False,
                                              extend_inferencedata=False, backend="numba")
    ours = stored["log_likelihood"].to_dataset()
    assert set(ours.data_vars) == {"y", "count"} == set(reference.data_vars)
    for name in ("y", "count"):
        assert ours[name].dims == reference[name].dims
        # ours works from the unconstrained point, where log(exp(sigma_log__)) simplifies to
        # sigma_log__; PyMC's from the stored sigma: they may differ in the last bit only
        np.testing.assert_allclose(ours[name].to_numpy(), reference[name].to_numpy(),
                                   rtol=1e-13, atol=0)
    assert ours["y"].dims == ("chain", "draw", "patient")
    assert ours["count"].shape == (2, 60, 2, 3)
    assert np.isfinite(ours["count"].to_numpy()).all()


def test_a_failed_log_density_compile_stops_the_side_process(monkeypatch):
    from relapse_model.models import compile_worker, nutpie_numba
    side = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(compile_worker, "start", lambda key: side)
    monkeypatch.setattr(nutpie_numba, "_in_numba_cache", lambda function: False)

    def failing(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nutpie_numba, "_cached_cfunc", failing)
    with pytensor.config.change_flags(numba__fastmath=False), pytest.raises(KeyboardInterrupt):
        compile_for_nutpie(_model())
    assert side.poll() is not None, "the side process outlived the failed compile"


def test_the_compiled_models_python_functions_take_the_parameter_vector_alone():
    model = _observed_model(11)
    compiled = compile_for_nutpie(model)
    x = np.linspace(-0.5, 0.5, compiled.n_dim)
    logp, grad = compiled.logp_func(x)
    reference_logp, reference_grad = model.logp_dlogp_function(ravel_inputs=True)(x)
    np.testing.assert_allclose(logp, reference_logp, rtol=1e-12)
    np.testing.assert_allclose(grad, reference_grad, rtol=1e-10, atol=1e-12)
    assert compiled.expand_func(x)[0].shape == (compiled.n_expanded,)

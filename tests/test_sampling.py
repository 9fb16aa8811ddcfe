"""sample_posterior: groups, errors, and the same draws for the same seed (in-process and across
fresh processes with a cold and a warm compile cache)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pymc as pm
import pytest

from relapse_model.models.sampling import (
    SAMPLERS,
    SamplerNotInstalledError,
    sample_posterior,
)

ROOT = Path(__file__).resolve().parents[1]


def _tiny_model() -> pm.Model:
    rng = np.random.default_rng(3)
    y = rng.normal(1.0, 2.0, size=(3, 12))
    with pm.Model(coords={"group": ["a", "b", "c"]}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfNormal("tau", 2.0)
        z = pm.Normal("z", 0.0, 1.0, dims="group")
        sigma = pm.HalfNormal("sigma", 3.0)
        pm.Normal("y", mu + tau * z[:, None], sigma, observed=y)
    return model


def _digest(tree) -> str:
    post = tree["posterior"].to_dataset()
    h = hashlib.sha256()
    for name in sorted(post.data_vars):
        h.update(np.ascontiguousarray(post[name].to_numpy(), dtype=np.float64).tobytes())
    return h.hexdigest()


def _samplers() -> list:
    return ["pymc", "nutpie"]


@pytest.mark.parametrize("sampler", _samplers())
def test_same_seed_same_draws_in_process(sampler):
    model = _tiny_model()
    kw = dict(draws=40, tune=40, chains=2, cores=1, sampler=sampler, target_accept=0.9, progressbar=False)
    first = sample_posterior(model, random_seed=7, **kw)
    again = sample_posterior(model, random_seed=7, **kw)
    other = sample_posterior(model, random_seed=8, **kw)
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)
    assert {"posterior", "sample_stats", "observed_data", "log_likelihood"} <= set(first.children)
    assert first["log_likelihood"]["y"].shape == (2, 40, 3, 12)
    assert first["posterior"]["z"].dims == ("chain", "draw", "group")
    assert first.attrs["sampler"] == sampler


def test_unknown_sampler_is_a_clear_error():
    with pytest.raises(ValueError, match="not one of"):
        sample_posterior(_tiny_model(), sampler="stan")


def test_missing_optional_sampler_is_a_clear_error(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("nutpie", "numpyro") else real_find_spec(name, *a))
    with pytest.raises(SamplerNotInstalledError, match="pip install nutpie"):
        sample_posterior(_tiny_model(), sampler="nutpie")
    with pytest.raises(SamplerNotInstalledError, match="pip install numpyro"):
        sample_posterior(_tiny_model(), sampler="numpyro")
    assert "pymc" in SAMPLERS


def test_the_default_sampler_is_nutpie_and_is_recorded():
    from relapse_model.models.sampling import DEFAULT_SAMPLER
    from relapse_model.models.spec import SamplerSpec
    assert DEFAULT_SAMPLER == SamplerSpec().nuts == "nutpie"
    tree = sample_posterior(_tiny_model(), draws=20, tune=20, chains=2, random_seed=1)
    assert tree.attrs["sampler"] == "nutpie"
    # the object-valued divergence messages are strings, so a saved fit reads back identically
    assert tree["sample_stats"]["divergence_message"].dtype.kind in "OU"
    assert all(isinstance(v, str) for v in tree["sample_stats"]["divergence_message"].values.ravel())


_SCRIPT = """
import hashlib, numpy as np
from relapse_model.cohort.bundled import load_bundled
from relapse_model.models.model import RelapseModel
from relapse_model.models.sampling import sample_posterior
model = RelapseModel().build(load_bundled("bfm_like"))
tree = sample_posterior(model, draws=60, tune=60, chains=2, cores=2, random_seed=5, sampler={sampler!r},
                        target_accept=0.95, progressbar=False, log_likelihood=False)
post = tree["posterior"].to_dataset()
h = hashlib.sha256()
for name in sorted(post.data_vars):
    h.update(np.ascontiguousarray(post[name].to_numpy(), dtype=np.float64).tobytes())
print("DIGEST", h.hexdigest())
"""


@pytest.mark.slow
@pytest.mark.parametrize("sampler", _samplers()[1:])      # pymc: tests/test_model_slow.py
def test_same_seed_same_draws_across_fresh_processes_cold_and_warm_cache(sampler, tmp_path):
    """Every compile cache (PyTensor's C and Numba caches, numba's own) starts empty in the first
    process, which fills it; the second process reuses it. The draws must be bit-identical."""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'pytensor'}",
           "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(ROOT)}
    env.pop("PYTENSOR_COMPILEDIR", None)
    digests = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _SCRIPT.format(sampler=sampler)], env=env,
                              capture_output=True, text=True, timeout=900, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(next(ln.split()[1] for ln in done.stdout.splitlines() if ln.startswith("DIGEST")))
    assert any((tmp_path / "pytensor").rglob("*")), "the first process compiled nothing into the cache"
    assert digests[0] == digests[1]

"""The cache of rewritten graphs: keys that name exactly one graph, and a stored graph that
gives the same log density and the same draws as rewriting it again."""

from __future__ import annotations

import sys

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest

nutpie = pytest.importorskip("nutpie")

from nutpie import compile_pymc as nutpie_pymc  # noqa: E402

from relapse_model.models import graph_cache  # noqa: E402
from relapse_model.models.nutpie_numba import _graphs_key, compile_for_nutpie  # noqa: E402
from tests.test_nutpie_numba import _call_logp, _draws  # noqa: E402


def _model(y_shift: float = 0.0, prior_sd: float = 5.0, groups: int = 3) -> pm.Model:
    y = np.linspace(-1.0, 2.0, 3 * groups).reshape(groups, 3) + y_shift
    with pm.Model(coords={"group": [f"g{i}" for i in range(groups)]}) as model:
        mu = pm.Normal("mu", 0.0, prior_sd)
        tau = pm.HalfNormal("tau", 2.0)
        z = pm.Normal("z", 0.0, 1.0, dims="group")
        pm.Deterministic("effect", tau * z, dims="group")
        pm.Normal("y", mu + tau * z[:, None], 1.5, observed=y)
    return model


def test_the_same_model_built_twice_has_one_key():
    assert _graphs_key(_model()) == _graphs_key(_model())


@pytest.mark.parametrize("other", [
    {"y_shift": 1e-12},          # one bit of the data
    {"prior_sd": 5.000001},      # a prior's parameter
    {"groups": 4},               # a dimension's length (and the data with it)
])
def test_a_different_model_has_another_key(other):
    assert _graphs_key(_model(**other)) != _graphs_key(_model())


def test_the_rewriting_flags_are_in_the_key():
    model = _model()
    with pytensor.config.change_flags(numba__fastmath=False):
        plain = _graphs_key(model)
    with pytensor.config.change_flags(numba__fastmath=True):
        assert _graphs_key(model) != plain


_OP_SOURCE = """
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from graph_key_demo.kernel import SCALE


class Scaled(Op):
    __props__ = ()

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = SCALE * inputs[0]
"""


def test_an_ops_module_and_what_it_imports_are_in_the_key_and_the_rest_of_its_package_is_not(
        tmp_path, monkeypatch):
    package = tmp_path / "graph_key_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "kernel.py").write_text("SCALE = 2.0\n")
    (package / "unrelated.py").write_text("LABEL = 'a'\n")
    (package / "op.py").write_text(_OP_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    from graph_key_demo.op import Scaled

    x = pt.dvector("x")

    def key() -> str:
        graph_cache._module_source_digest.cache_clear()
        graph_cache._source_file.cache_clear()
        return graph_cache.graph_key([x], [Scaled()(x)])

    try:
        first = key()
        (package / "unrelated.py").write_text("LABEL = 'b'\n")
        assert key() == first
        (package / "kernel.py").write_text("SCALE = 3.0\n")
        changed_kernel = key()
        assert changed_kernel != first
        (package / "op.py").write_text(_OP_SOURCE + "\n# edited\n")
        assert key() not in (first, changed_kernel)
    finally:
        for name in [name for name in sys.modules if name.startswith("graph_key_demo")]:
            del sys.modules[name]
        graph_cache._module_source_digest.cache_clear()
        graph_cache._source_file.cache_clear()


def test_a_graph_with_an_unnamed_root_variable_is_not_cached():
    x, free = pt.dscalar("x"), pt.dscalar("free")
    assert graph_cache.graph_key([x], [x * free]) is None
    assert graph_cache.graph_key([x, free], [x * free]) is not None


def test_a_stored_graph_gives_the_same_log_density_and_draws(monkeypatch):
    model = _model(y_shift=0.25)
    with pytensor.config.change_flags(numba__fastmath=False):
        key = _graphs_key(model)
        (graph_cache.cache_dir() / f"{key}.pkl").unlink(missing_ok=True)
        rewritten = compile_for_nutpie(model)
        assert (graph_cache.cache_dir() / f"{key}.pkl").exists()

        def no_rewriting(*args, **kwargs):
            raise AssertionError("the stored graphs were not used")
        monkeypatch.setattr(nutpie_pymc, "_make_functions", no_rewriting)
        stored = compile_for_nutpie(model)
    assert (stored.n_dim, stored.n_expanded, stored.shapes) == (rewritten.n_dim, rewritten.n_expanded,
                                                               rewritten.shapes)
    x = np.linspace(-0.4, 0.6, stored.n_dim)
    assert _call_logp(stored, x)[:2] == _call_logp(rewritten, x)[:2]
    np.testing.assert_array_equal(_call_logp(stored, x)[2], _call_logp(rewritten, x)[2])
    assert _draws(stored) == _draws(rewritten)


def test_an_unreadable_entry_is_recomputed_and_replaced():
    model = _model(y_shift=0.5)
    with pytensor.config.change_flags(numba__fastmath=False):
        key = _graphs_key(model)
    path = graph_cache.cache_dir() / f"{key}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a pickle")
    assert graph_cache.load(key) is None
    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = compile_for_nutpie(model)
    assert graph_cache.load(key)["n_dim"] == compiled.n_dim == 5

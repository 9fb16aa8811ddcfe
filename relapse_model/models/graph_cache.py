"""A disk cache of PyTensor graphs after rewriting, so a warm fit skips the rewrites.

PyTensor's compile caches (C and Numba) hold the *compiled code* of a graph, but every process
still rewrites the model's log density, its gradient and the stored variables before it can look
that code up: about 2.5 of the 3 s that ``nutpie``'s ``_make_functions`` takes for the default
model with warm caches (measured with PyTensor 3.3.7). The rewritten graphs pickle, and a
function built from an unpickled graph without rewriting it again (``no_fgraph_prep``) is the
same graph, so Numba finds the same cached code and the draws are bit-identical
(``tests/test_graph_cache.py``).

The key is a hash of the graph *before* rewriting: every node's Op (pickled, as PyTensor keys
its own Numba cache), how the nodes connect, the inputs' names and types, constants and shared
values byte for byte, plus the versions of PyTensor, PyMC, nutpie, Numba and NumPy, the PyTensor
flags that change rewriting, and the source of any module outside those packages that defines
an Op in the graph, with every module of its own package it imports, directly or through
another (the gradient of such an Op is built from its code, not from the graph; the rest of
this package can change without emptying the cache). A graph the key cannot describe (a
variable that is neither an input, a constant nor a shared value) is not cached. Entries live
in PyTensor's ``compiledir``, so emptying PyTensor's caches empties this one too.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import pickle
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Bumped whenever what is stored, or how the key is made, changes.
CACHE_VERSION = "relapse-model-graph-cache-2"
_VERSIONED = ("pytensor", "pymc", "nutpie", "numba", "numpy")
#: Top-level packages whose versions are in the key, so their sources need not be hashed.
_COVERED_BY_VERSION = ("pytensor", "pymc", "nutpie", "numba", "numpy", "scipy")


def cache_dir() -> Path:
    """Where the rewritten graphs are stored (inside PyTensor's ``compiledir``)."""
    import pytensor
    return Path(pytensor.config.compiledir) / "relapse-model-graphs"


def graph_key(inputs: Sequence[Any], outputs: Sequence[Any], context: Sequence[str] = ()) -> str | None:
    """A hash naming the graph from ``inputs`` to ``outputs`` before rewriting, or None.

    Parameters
    ----------
    inputs : sequence of pytensor Variable
        The graph's free inputs, in order.
    outputs : sequence of pytensor Variable
    context : sequence of str
        Anything else the rewritten graph depends on (e.g. the caller's options).

    Returns
    -------
    str or None
        The key, or None when the graph holds a root variable that is none of an input, a
        constant or a shared variable (then it is not cached).
    """
    import pytensor
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import toposort
    from pytensor.tensor.random.type import RandomType

    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            digest.update(part if isinstance(part, bytes) else repr(part).encode())
            digest.update(b"\x00")

    flags = pytensor.config
    add(CACHE_VERSION, *(f"{p}={_version(p)}" for p in _VERSIONED), *context,
        flags.floatX, flags.optimizer, flags.optimizer_excluding, flags.optimizer_including,
        flags.optimizer_requiring, flags.numba__fastmath)
    names: dict[Any, str] = {}
    for i, var in enumerate(inputs):
        names[var] = f"in{i}"
        add("input", var.name, str(var.type))
    op_modules: set[str] = set()
    for k, node in enumerate(toposort(outputs)):
        tokens = []
        for var in node.inputs:
            if var in names:
                tokens.append(names[var])
            elif isinstance(var, Constant):
                tokens.append(("constant", str(var.type), _array_digest(var.data)))
            elif isinstance(var, SharedVariable) and isinstance(var.type, RandomType):
                tokens.append(("generator", str(var.type)))    # its state does not shape the graph
            elif isinstance(var, SharedVariable):
                tokens.append(("shared", str(var.type), _array_digest(var.get_value(borrow=True))))
            else:
                return None
        add(pickle.dumps(node.op, protocol=5), tokens)
        op_modules.add(type(node.op).__module__)
        for j, out in enumerate(node.outputs):
            names[out] = f"n{k}.{j}"
            add(str(out.type))
    for out in outputs:
        if out not in names:
            if not isinstance(out, Constant):
                return None
            names[out] = f"constant {_array_digest(out.data)}"
        add("output", names[out])
    for module in sorted(op_modules):
        if module.split(".")[0] not in _COVERED_BY_VERSION:
            add(module, _module_source_digest(module))
    return digest.hexdigest()


def load(key: str) -> Any | None:
    """The object stored under ``key``, or None if there is none (or it cannot be read)."""
    path = cache_dir() / f"{key}.pkl"
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a stale or truncated entry is recomputed, then replaced
        return None


def store(key: str, payload: Any) -> None:
    """Store ``payload`` under ``key``, atomically (a failure to write only costs the speed-up)."""
    directory = cache_dir()
    temporary = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{key}.", suffix=".tmp",
                                         delete=False) as handle:
            temporary = handle.name
            pickle.dump(payload, handle, protocol=5)
        os.replace(temporary, directory / f"{key}.pkl")
    except Exception:  # noqa: BLE001 - an unpicklable graph or a full disk: just not cached
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def rewritten_graph(function: Any) -> tuple[list[Any], list[Any]]:
    """The inputs and outputs of a compiled PyTensor function's graph after rewriting."""
    fgraph = function.maker.fgraph
    return list(fgraph.inputs), list(fgraph.outputs)


def function_from_rewritten(inputs: Sequence[Any], outputs: Sequence[Any], mode: str) -> Any:
    """A PyTensor function of a graph that is already rewritten (no rewrite runs again).

    Parameters
    ----------
    inputs, outputs : sequence of pytensor Variable
        What :func:`rewritten_graph` gave (after a round trip through pickle).
    mode : str
        The mode the graph was rewritten for (its linker compiles it), e.g. ``"NUMBA"``.
    """
    from pytensor.compile.io import In, Out
    from pytensor.compile.maker import FunctionMaker
    from pytensor.compile.mode import get_mode
    from pytensor.graph.fg import FunctionGraph

    fgraph = FunctionGraph(list(inputs), list(outputs), clone=False)
    maker = FunctionMaker([In(v) for v in inputs], [Out(v, borrow=False) for v in outputs],
                          mode=get_mode(mode), fgraph=fgraph, no_fgraph_prep=True,
                          accept_inplace=True, on_unused_input="ignore")
    return maker.create()


def _array_digest(value: Any) -> tuple[str, tuple[int, ...], str]:
    array = np.asarray(value)
    data = np.ascontiguousarray(array).tobytes() if array.dtype != object else pickle.dumps(value)
    return str(array.dtype), array.shape, hashlib.sha256(data).hexdigest()


@functools.cache
def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


@functools.cache
def _module_source_digest(name: str) -> str:
    """A hash of the source of module ``name`` and of the modules of its top-level package that
    it imports, directly or through one another."""
    digest = hashlib.sha256()
    for module, path in sorted(_imported_sources(name).items()):
        digest.update(module.encode())
        digest.update(path.read_bytes() if path else b"no source")
    return digest.hexdigest()


def _imported_sources(name: str) -> dict[str, Path | None]:
    """``name`` and the modules of its top-level package it imports (transitively): their files."""
    package = name.split(".")[0]
    found: dict[str, Path | None] = {}
    pending = [name]
    while pending:
        module = pending.pop()
        if module in found:
            continue
        found[module] = path = _source_file(module)
        if path is None:
            continue
        for imported in _imports(ast.parse(path.read_bytes()), module, is_package=path.name == "__init__.py"):
            if imported.split(".")[0] == package and imported not in found and _source_file(imported):
                pending.append(imported)
    return found


def _imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in ``tree`` may name (a name imported
    from a package may be a submodule; the caller keeps those that exist)."""
    base = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            try:
                source = importlib.util.resolve_name("." * node.level + (node.module or ""), base or module) \
                    if node.level else node.module
            except ImportError:
                continue
            if source:
                names.add(source)
                names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


@functools.cache
def _source_file(module: str) -> Path | None:
    """The Python source file of ``module`` (None when it has none or is not a module)."""
    loaded = sys.modules.get(module)
    file = getattr(loaded, "__file__", None) if loaded is not None else None
    if file is None and loaded is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        file = spec.origin if spec is not None and spec.has_location else None
    path = Path(file) if file else None
    return path if path is not None and path.suffix == ".py" and path.is_file() else None

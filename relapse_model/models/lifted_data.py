"""The data of a compiled log density passed at run time, so its compiled code fits any data.

PyTensor compiles a model's arrays (the cohort's columns, the design matrices, the priors'
parameters) into the code as constants, and its Numba cache keys the code by their values: a
new cohort of the same size and structure (a cross-validation fold, an SBC replication, a
bootstrap sample, a corrected data file) compiled again, 21 s of the default model's 48 s cold
compile (measured 2026-12-03). :func:`lift_graph` turns the array constants of a
rewritten graph into inputs after the parameter vector, so the compiled function, and the C
callback around it, are the same for any values; the callback reads the arrays from the
``user_data`` pointer nutpie passes it.

The constants of one dtype are joined into one vector, which the graph slices and reshapes
back (views, no arithmetic): a callback then calls the function with a handful of arrays
whatever the model (Python compiles a call of more than 30 arguments into a form Numba does not
support). The arithmetic is the same: the default model's draws are bit-identical to those
with the constants compiled in, while the pathway model's gradient differed in the last bits
(3.6e-15 at most in one check). Draws stay bit-identical for a seed across processes and
caches (``tests/test_sampling.py``, ``tests/test_nutpie_numba.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from relapse_model.models import graph_cache

#: Index in ``user_data`` of the log density's table and of the stored variables' table.
LOGP_TABLE, EXPAND_TABLE = 0, 1
#: Byte alignment of each joined vector in the buffer behind ``user_data``.
_ALIGNMENT = 64


@dataclass(frozen=True)
class LiftedFunction:
    """A compiled PyTensor function of ``(x, *data)`` and the vectors it is called with.

    Attributes
    ----------
    function : pytensor.compile.function.types.Function
        The rewritten graph reading its array constants from ``data`` (Numba mode, not
        rewritten again).
    data : tuple of numpy.ndarray
        One vector per dtype: that dtype's constants, raveled and joined.
    """

    function: Any
    data: tuple[np.ndarray, ...]

    def __call__(self, x: np.ndarray) -> Any:
        """The function's outputs at the flat parameter vector ``x`` (from Python)."""
        return self.function(x, *self.data)

    def reading_source(self, table_index: int, indent: str = "        ") -> tuple[str, str]:
        """(lines binding ``data0, data1, ...`` from ``user_data_``, the call's extra arguments)
        for a callback's source; empty when there are no arrays. Table ``table_index`` of
        ``user_data`` holds each vector's address and length."""
        if not self.data:
            return "", ""
        lines = [f"table = numba.carray(pointer_at(numba.carray(user_data_, (2,), np.uint64)"
                 f"[{table_index}]), ({2 * len(self.data)},), np.uint64)"]
        lines += [f"data{i} = numba.carray(pointer_at(table[{2 * i}]), (np.intp(table[{2 * i + 1}]),), "
                  f"{_numpy_name(vector.dtype)})" for i, vector in enumerate(self.data)]
        return "".join(f"{indent}{line}\n" for line in lines), "".join(f", data{i}" for i in range(len(self.data)))


def lift_graph(inputs: list[Any], outputs: list[Any]) -> tuple[list[Any], list[Any], tuple[np.ndarray, ...]]:
    """A rewritten graph of the flat parameter vector with every constant of one or more
    dimensions read from an input vector of its dtype.

    Parameters
    ----------
    inputs, outputs : list of pytensor Variable
        The graph (:func:`relapse_model.models.graph_cache.rewritten_graph`), already rewritten
        (constants folded with the data).

    Returns
    -------
    tuple
        The inputs followed by one vector per dtype, the outputs reading from them, and those
        vectors' values: what :func:`compiled` takes (and the graph cache stores).
    """
    from pytensor.graph.basic import Constant
    from pytensor.graph.replace import clone_replace
    from pytensor.graph.traversal import toposort
    from pytensor.tensor.type import TensorType

    by_dtype: dict[str, dict[int, Any]] = {}
    for node in toposort(outputs):
        for var in node.inputs:
            if isinstance(var, Constant) and isinstance(var.type, TensorType) and var.type.ndim >= 1:
                by_dtype.setdefault(var.type.dtype, {}).setdefault(id(var), var)
    if not by_dtype:
        return list(inputs), list(outputs), ()
    vectors, replacements, data = [], {}, []
    for i, (dtype, group) in enumerate(by_dtype.items()):
        joined = np.concatenate([np.ravel(const.data) for const in group.values()]).astype(dtype, copy=False)
        vector = TensorType(dtype, shape=(joined.size,))(name=f"data{i}")
        start = 0
        for const in group.values():
            view = vector[start:start + const.data.size].reshape(const.data.shape)
            replacements[const] = view if view.type == const.type else const.type.filter_variable(view)
            start += const.data.size
        vectors.append(vector)
        data.append(np.ascontiguousarray(joined))
    return [*inputs, *vectors], clone_replace(list(outputs), replace=replacements), tuple(data)


def compiled(inputs: list[Any], outputs: list[Any], data: tuple[np.ndarray, ...]) -> LiftedFunction:
    """The Numba-mode function of a graph from :func:`lift_graph` (not rewritten again)."""
    return LiftedFunction(graph_cache.function_from_rewritten(inputs, outputs, mode="NUMBA"), tuple(data))


def user_data(logp: LiftedFunction, expand: LiftedFunction) -> np.ndarray:
    """What nutpie passes both callbacks: the addresses of their tables, in one buffer with the
    tables and the vectors, which the returned array keeps alive (as its base)."""
    vectors = [*logp.data, *expand.data]
    head = 8 * (2 + 2 * len(vectors))
    sizes = [-(-vector.nbytes // _ALIGNMENT) * _ALIGNMENT for vector in vectors]
    buffer = np.zeros(head + sum(sizes) + 2 * _ALIGNMENT, dtype=np.uint8)
    start = head + (-(buffer.ctypes.data + head) % _ALIGNMENT)
    words = np.zeros(2 + 2 * len(vectors), dtype=np.uint64)
    for k, (vector, size) in enumerate(zip(vectors, sizes)):
        buffer[start:start + vector.nbytes] = vector.view(np.uint8)
        words[2 + 2 * k:4 + 2 * k] = buffer.ctypes.data + start, vector.size
        start += size
    words[LOGP_TABLE] = buffer.ctypes.data + 16
    words[EXPAND_TABLE] = buffer.ctypes.data + 16 + 16 * len(logp.data)
    buffer[:head] = words.view(np.uint8)
    return buffer[:16].view(np.uint64)


def _numpy_name(dtype: np.dtype) -> str:
    return "np.bool_" if dtype == np.bool_ else f"np.{np.dtype(dtype).name}"


@intrinsic
def pointer_at(typingctx, address):
    """The ``void *`` at an integer ``address`` (for ``numba.carray``)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen

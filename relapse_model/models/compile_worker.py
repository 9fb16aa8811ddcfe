"""A side process that compiles part of a nutpie model while the caller compiles the rest.

With empty compile caches, most of a fit's start is Numba compiling two C callbacks one after
the other (:mod:`relapse_model.models.nutpie_numba`): the log density with its gradient (about
18 s for the default model on 2 cores) and the function of the stored variables (about 6 s).
They are independent, so :func:`start` launches ``python -m relapse_model.models.compile_worker``
on the rewritten graphs that :func:`~relapse_model.models.nutpie_numba.compile_for_nutpie` has
just put in the graph cache; it compiles the stored-variable callback into Numba's on-disk
cache while the caller compiles the log density, and the caller then loads it from the cache.

The side process compiles the same graph under the same key, with the same PyTensor flags
(``base_compiledir`` and ``numba__fastmath`` passed explicitly), so what it writes is what the
caller would have compiled: the draws do not depend on which process compiled which part
(``tests/test_nutpie_numba.py``; the process handling in ``tests/test_compile_worker.py``). Numba writes cache entries by rename, so two processes
writing the same entry leave a whole one. If the side process is not done in
:data:`TIMEOUT_SECONDS`, or fails, the caller compiles the callback itself: the worker can only
save time, never change a result.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from relapse_model.common.paths import pytensor_flags

#: Longest wait for the side process after the caller's own compilation (then it is stopped).
TIMEOUT_SECONDS = 300.0
#: "0": compile everything in the calling process; "1": start the side process even when no
#: core looks idle; unset (or anything else): start it when a core is idle.
ENVIRONMENT_SWITCH = "RELAPSE_MODEL_COMPILE_WORKER"


def start(graphs_key: str) -> subprocess.Popen | None:
    """Launch the side process on the graphs stored under ``graphs_key``.

    Returns None (nothing launched) when no core is idle (one core, or the others busy, as
    in a test suite or parallel fits, where a side process would only slow the others), when
    switched off with ``RELAPSE_MODEL_COMPILE_WORKER=0``, or when it cannot be started.
    """
    import pytensor

    switch = os.environ.get(ENVIRONMENT_SWITCH, "")
    if switch == "0" or getattr(sys, "frozen", False) or (switch != "1" and not idle_core()):
        return None
    package_parent = str(Path(__file__).resolve().parents[2])
    flags = pytensor_flags(base_compiledir=pytensor.config.base_compiledir,
                           numba__fastmath=pytensor.config.numba__fastmath)
    env = {**os.environ, "PYTENSOR_FLAGS": flags,
           "PYTHONPATH": os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))}
    try:
        return subprocess.Popen([sys.executable, "-m", __name__, graphs_key], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def idle_core() -> bool:
    """Whether a core is free for a side process now: fewer runnable threads besides the
    caller's than usable cores minus one (Linux's ``/proc/loadavg``; elsewhere the 1-minute
    load average)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        others = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]) - 1
    except (OSError, ValueError, IndexError):
        others = os.getloadavg()[0] if hasattr(os, "getloadavg") else float(cores)
    return others < cores - 1


def finish(process: subprocess.Popen | None) -> bool:
    """Wait for ``process`` (from :func:`start`); True if it compiled what it was given."""
    if process is None:
        return False
    try:
        return process.wait(timeout=TIMEOUT_SECONDS) == 0
    except subprocess.TimeoutExpired:
        stop(process)
        return False


def stop(process: subprocess.Popen | None) -> None:
    """Stop ``process`` (from :func:`start`) if it still runs, e.g. when the caller's own
    compilation failed or was interrupted."""
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


def main(argv: list[str]) -> int:
    """Compile the stored-variable callback of the graphs under ``argv[0]``; 0 when done."""
    from relapse_model.models.nutpie_numba import compile_stored_variables

    return 0 if compile_stored_variables(argv[0]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

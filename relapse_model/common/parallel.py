"""Independent jobs on worker processes, with results in job order (SBC replications, CV folds).

The results do not depend on the number of workers as long as each job derives its own seeds
from its index (``numpy.random.SeedSequence(seed, spawn_key=(index,))``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def map_replications(replicate: Callable[[int], Any], n: int, workers: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """``[replicate(r) for r in range(n)]``, on ``workers`` processes when ``workers > 1``.

    The results come back in replication order. Processes are started with ``spawn`` (a fork
    of a process holding compiled samplers and threads is unsafe), so ``replicate`` must be
    picklable: a module-level function, or a ``functools.partial`` of one.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if workers == 1 or n <= 1:
        results = []
        for r in range(n):
            results.append(replicate(r))
            if progress:
                progress(r + 1, n)
        return results
    import concurrent.futures as cf
    import multiprocessing

    results: list[Any] = [None] * n
    with cf.ProcessPoolExecutor(min(workers, n), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(replicate, r): r for r in range(n)}
        for done, future in enumerate(cf.as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress:
                progress(done, n)
    return results

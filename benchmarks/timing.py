"""Timing helper shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Shortest wall time of ``repeat`` calls, in seconds (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cpu_reference_s(repeat: int = 5) -> float:
    """Seconds of a fixed single-core workload: the machine's speed, recorded beside timings.

    Machines of one kind differ in speed (the same fit took 1.7 times as long on one as on
    another, with identical draws), so a figure read on another machine is only comparable
    after scaling by the ratio of their references. The workload mixes what a fit spends its
    time on: a scalar Python loop (the sampler's and PyTensor's interpreted overhead) and
    element-wise exp/log1p over arrays the size of a cohort (the compiled log density).
    """
    import numpy as np

    x = np.linspace(-3.0, 3.0, 800)

    def work() -> float:
        total = 0.0
        for i in range(200_000):
            total += (i % 7) * 0.5
        for _ in range(2_000):
            total += float(np.log1p(np.exp(x)).sum())
        return total

    return best_of(work, repeat)

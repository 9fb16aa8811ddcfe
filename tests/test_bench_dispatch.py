"""python -m benchmarks refuses what it would otherwise ignore (an option meant for one module)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_dispatcher_refuses_options_and_unknown_names():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "model", "--only", "full"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("python -m benchmarks: --only full: not a benchmark (cohort, trials, engine, "
                                   "model, new-data, pathway, master, stan); options go to the benchmark's module, e.g. "
                                   "python -m benchmarks.bench_model --only full")

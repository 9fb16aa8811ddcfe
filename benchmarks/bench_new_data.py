"""Compiling a model for new data of the same shape: ours against nutpie's own compile.

A cross-validation fold, an SBC replication, a bootstrap sample or a corrected data file gives
the same model with other numbers. ``models/lifted_data.py`` passes the arrays to the compiled
code at run time, so such a fit loads the compiled code instead of compiling it again; nutpie's
``compile_pymc_model(model, backend="numba")`` compiles its callbacks in every process.

Each figure is one fresh process on one compile cache, emptied before the first: the bundled
COG-like cohort (cold), the same cohort with every patient's outcome times scaled by a factor
drawn per patient from U(0.95, 1.05) (seeded; the same size, events and categories), and that
second cohort again (warm). The process's background load is recorded with each figure.

    python -m benchmarks.bench_new_data [--model competing|pathway]   # about 4 minutes (competing)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_model import CACHE, ROOT, wait_for_quiet
from relapse_model.common.paths import pytensor_flags

#: Outcome-time columns scaled together per patient, so every row stays consistent.
OUTCOME_TIMES = ("response_assessment_months", "hsct_after_relapse_months", "second_relapse_months",
                 "death_months", "followup_months")
RESULT_MARK = "NEW_DATA_RESULT "
STEPS = (("COG-like, empty cache", 0), ("other outcome times, same size", 1), ("the same again", 1))


def _cohort(variant: int):
    import numpy as np

    from relapse_model.cohort.bundled import load_bundled

    cohort = load_bundled("cog_like")
    if variant == 0:
        return cohort
    data = cohort.data.copy()
    factor = np.random.default_rng(20261203).uniform(0.95, 1.05, size=len(data))
    for column in OUTCOME_TIMES:
        data[column] = data[column] * factor
    return dataclasses.replace(cohort, data=data)


def worker(compiler: str, variant: int, model: str) -> dict[str, float]:
    """Build the model on the variant's cohort and compile it for nutpie: seconds."""
    import pytensor

    from relapse_model.models.model import RelapseModel
    from relapse_model.models.pathway import PathwayModel

    built = (PathwayModel() if model == "pathway" else RelapseModel()).build(_cohort(variant))
    started = time.perf_counter()
    with pytensor.config.change_flags(numba__fastmath=False):
        if compiler == "ours":
            from relapse_model.models.nutpie_numba import compile_for_nutpie
            compile_for_nutpie(built, log_likelihood=True)
        else:
            import nutpie
            nutpie.compile_pymc_model(built, backend="numba")
    return {"compile_s": time.perf_counter() - started}


def _run(compiler: str, variant: int, model: str, compiledir: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTENSOR_FLAGS": pytensor_flags(base_compiledir=compiledir),
           "NUMBA_CACHE_DIR": str(compiledir / "numba"), "MPLBACKEND": "Agg",
           "RELAPSE_MODEL_COMPILE_WORKER": "0"}
    wait_for_quiet()
    load = os.getloadavg()[0]
    arguments = json.dumps({"compiler": compiler, "variant": variant, "model": model})
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_new_data", "--worker", arguments],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"bench_new_data worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_MARK):])["compile_s"], load


def main(model: str) -> str:
    """Run both compilers through the three steps; return the Markdown table."""
    rows = ["| step | ours: compile | nutpie's compile | ratio | load (1-min avg) |", "|---|--:|--:|--:|--:|"]
    results: dict[str, list[tuple[float, float]]] = {}
    for compiler in ("ours", "nutpie"):
        with tempfile.TemporaryDirectory(dir=CACHE, prefix="bench-new-data-") as directory:
            results[compiler] = []
            for label, variant in STEPS:
                seconds, load = _run(compiler, variant, model, Path(directory))
                print(f"  {compiler:6s} {label}: {seconds:.1f} s (load {load:.2f})", flush=True)
                results[compiler].append((seconds, load))
    for (label, _), ours, theirs in zip(STEPS, results["ours"], results["nutpie"]):
        rows.append(f"| {label} | {ours[0]:.1f} s | {theirs[0]:.1f} s | {theirs[0] / ours[0]:.1f}x "
                    f"| {ours[1]:.2f} / {theirs[1]:.2f} |")
    return "\n".join([f"Compile for new data, {model} model ({time.strftime('%Y-%m-%d')}):", "", *rows])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["competing", "pathway"], default="competing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(RESULT_MARK + json.dumps(worker(**json.loads(args.worker))), flush=True)
    else:
        print(main(args.model))

"""NUTS backends side by side on the default model, and whether each is bit-reproducible.

The default ``RelapseModel()`` (competing risks + cure, Weibull) on the bundled ``cog_like``
cohort, 4 chains x 1000 tune + 1000 draws, one seed. Every run is a fresh subprocess with its
own compile caches (PyTensor's base_compiledir, which also holds PyTensor's Numba cache,
NUMBA_CACHE_DIR and JAX's persistent cache) under ``.cache/bench_samplers/<backend>``: the
first run of a backend starts from empty caches ("cold"), the next ones reuse them ("warm").
A backend is reproducible when every run gives the same SHA-256 of all posterior draws.

    python -m benchmarks.bench_samplers --backends pymc,nutpie-numba,nutpie-jax --warm 2

Wall time is from the subprocess's launch to the fitted tree (log-likelihood included);
timings are the median over the warm runs. ``os.getloadavg()`` is recorded at the start of
each run (the machine has 2 cores and may be shared), and so are the CPU seconds the run used
(user + system, all its processes), which depend much less on other load than wall time: on a
quiet 2-core machine a backend that keeps both cores busy takes about CPU s / 2. ``--keep-cache
--warm 0`` gives one more warm run against an existing cache. Posterior means are compared with the
first backend's: the largest |mean difference| / posterior SD over all scalar parameters.
Results: ``.cache/bench_samplers.json`` and a Markdown table ``.cache/bench_samplers.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench_samplers"
RESULT_MARK = "BENCH_SAMPLERS_RESULT "

#: backend name -> sampler, sample_posterior options, extra PYTENSOR_FLAGS, cores
BACKENDS: dict[str, dict[str, Any]] = {
    "pymc": {"sampler": "pymc", "cores": 2},
    "pymc-cores1": {"sampler": "pymc", "cores": 1},
    "pymc-adapt_diag_grad": {"sampler": "pymc", "cores": 2, "options": {"init": "jitter+adapt_diag_grad"}},
    # sample_posterior compiles nutpie's Numba logp without fastmath (reproducible); the
    # "-fastmath" variant is PyTensor's default flags, as pm.sample(nuts_sampler="nutpie") uses
    "nutpie-numba": {"sampler": "nutpie-numba", "cores": 2},
    "nutpie-numba-fastmath": {"sampler": "nutpie-numba", "cores": 2, "options": {"fastmath": True}},
    "nutpie-numba-nofastmath": {"sampler": "nutpie-numba", "cores": 2, "flags": "numba__fastmath=False"},
    "nutpie-numba-nocache": {"sampler": "nutpie-numba", "cores": 2, "flags": "numba__cache=False"},
    "nutpie-numba-lowrank": {"sampler": "nutpie-numba", "cores": 2, "options": {"adaptation": "low_rank"}},
    "nutpie-jax": {"sampler": "nutpie-jax", "cores": 2},
    "nutpie-jax-grad": {"sampler": "nutpie-jax", "cores": 2, "options": {"gradient_backend": "jax"}},
    "numpyro": {"sampler": "numpyro", "cores": 2},
    "blackjax": {"sampler": "blackjax", "cores": 2},
}


def _env(backend: str, cache_dir: Path) -> dict[str, str]:
    spec = BACKENDS[backend]
    flags = f"base_compiledir={cache_dir / 'pytensor'}"
    if spec.get("flags"):
        flags += "," + spec["flags"]
    env = {**os.environ, "PYTENSOR_FLAGS": flags, "NUMBA_CACHE_DIR": str(cache_dir / "numba"),
           "JAX_COMPILATION_CACHE_DIR": str(cache_dir / "jax"), "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT), "BENCH_T0": repr(time.time())}
    env.pop("PYTENSOR_COMPILEDIR", None)
    return env


def run_one(backend: str, cache_dir: Path, *, draws: int, tune: int, chains: int, seed: int) -> dict[str, Any]:
    """One fit in a fresh subprocess; the worker's JSON result."""
    cmd = [sys.executable, "-m", "benchmarks.bench_samplers", "--worker", backend, "--draws", str(draws),
           "--tune", str(tune), "--chains", str(chains), "--seed", str(seed)]
    load = os.getloadavg()
    cpu0 = os.times()
    proc = subprocess.run(cmd, env=_env(backend, cache_dir), cwd=ROOT, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if proc.returncode or not lines:
        return {"backend": backend, "error": (proc.stderr or proc.stdout)[-2000:], "load": load}
    result = json.loads(lines[-1][len(RESULT_MARK):])
    cpu1 = os.times()
    result["load"] = load
    result["cpu_s"] = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    return result


def draws_hash(tree) -> str:
    """SHA-256 of every posterior variable's draws (sorted by name, float64 bytes)."""
    import numpy as np
    h = hashlib.sha256()
    post = tree["posterior"].to_dataset()
    for name in sorted(post.data_vars):
        h.update(name.encode())
        h.update(np.ascontiguousarray(post[name].transpose("chain", "draw", ...).to_numpy(), dtype=np.float64).tobytes())
    return h.hexdigest()


def worker(backend: str, draws: int, tune: int, chains: int, seed: int) -> dict[str, Any]:
    t_launch = float(os.environ.get("BENCH_T0", time.time()))
    import arviz as az
    import numpy as np

    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models.model import RelapseModel
    from relapse_model.models.sampling import sample_posterior

    spec = BACKENDS[backend]
    t0 = time.perf_counter()
    model = RelapseModel().build(load_bundled("cog_like"))
    t1 = time.perf_counter()
    tree = sample_posterior(model, draws=draws, tune=tune, chains=chains, random_seed=seed,
                            sampler=spec["sampler"], target_accept=0.95, progressbar=False,
                            cores=spec.get("cores"), options=dict(spec.get("options", {})))
    wall = time.time() - t_launch
    post = tree["posterior"]
    stats = tree["sample_stats"].to_dataset()

    def extreme(result, fn):
        ds = result.to_dataset() if hasattr(result, "to_dataset") else result
        vals = np.concatenate([np.asarray(v.to_numpy(), float).ravel() for v in ds.data_vars.values()])
        return float(fn(vals[np.isfinite(vals)]))

    ess = extreme(az.ess(tree, method="bulk"), np.min)
    rhat = extreme(az.rhat(tree), np.max)
    steps_name = next((n for n in ("n_steps", "num_steps", "tree_size") if n in stats), None)
    steps = float(stats[steps_name].mean()) if steps_name else float("nan")
    summary = {}
    ds = post.to_dataset()
    for name in sorted(ds.data_vars):
        arr = ds[name].to_numpy().reshape(ds[name].shape[0] * ds[name].shape[1], -1)
        for j in range(arr.shape[1]):
            summary[f"{name}[{j}]"] = (float(arr[:, j].mean()), float(arr[:, j].std()))
    sampling = float(tree.attrs.get("sampling_seconds", float("nan")))
    return {
        "backend": backend, "sampler": spec["sampler"], "options": spec.get("options", {}),
        "flags": spec.get("flags", ""), "cores": spec.get("cores"),
        "build_s": t1 - t0, "compile_s": float(tree.attrs.get("compile_seconds", float("nan"))),
        "sampling_s": sampling, "loglik_s": float(tree.attrs.get("log_likelihood_seconds", float("nan"))),
        "wall_s": wall, "min_ess_bulk": ess, "ess_per_s": ess / sampling, "max_rhat": rhat,
        "divergences": int(stats["diverging"].sum()), "leapfrog_per_draw": steps,
        "hash": draws_hash(tree), "groups": sorted(tree.children), "summary": summary,
    }


def compare_means(ref: dict[str, Any], other: dict[str, Any]) -> float:
    """Largest |mean difference| / reference posterior SD over the shared scalar parameters."""
    worst = 0.0
    if "summary" not in ref or "summary" not in other:
        return float("nan")
    for key, (mean, sd) in ref["summary"].items():
        if key in other["summary"] and sd > 0:
            worst = max(worst, abs(other["summary"][key][0] - mean) / sd)
    return worst


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    head = ("| backend | compile s | sampling s | wall s (warm) | wall s (cold) | min bulk ESS | ESS/s "
            "| divergences | max R-hat | leapfrog/draw | reproducible cold vs warm | max mean diff / SD "
            "| CPU s (warm) | load avg (1 min) |")
    rows = [head, "|" + " --- |" * head.count("|")[:-1] if False else "|" + " --- |" * (head.count("|") - 1)]
    ref = next((r[0] for r in results.values() if r and "error" not in r[0]), None)
    for backend, runs in results.items():
        ok = [r for r in runs if "error" not in r]
        if not ok:
            lines = runs[0]["error"].strip().splitlines()
            msg = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1])
            rows.append(f"| {backend} | error: {msg.strip()[:150]} |")
            continue
        warm = ok[1:] or ok
        med = {k: statistics.median(r[k] for r in warm) for k in
               ("compile_s", "sampling_s", "wall_s", "min_ess_bulk", "ess_per_s", "max_rhat", "leapfrog_per_draw")}
        repro = "yes" if len({r["hash"] for r in ok}) == 1 and len(ok) > 1 else (
            "n/a (1 run)" if len(ok) == 1 else
            f"NO ({len({r['hash'] for r in ok})} distinct of {len(ok)})")
        loads = "/".join(f"{r['load'][0]:.1f}" for r in ok)
        cpus = [r["cpu_s"] for r in warm if "cpu_s" in r]
        cpu = statistics.median(cpus) if cpus else float("nan")
        rows.append(
            f"| {backend} | {med['compile_s']:.1f} | {med['sampling_s']:.1f} | {med['wall_s']:.1f} "
            f"| {ok[0]['wall_s']:.1f} | {med['min_ess_bulk']:.0f} | {med['ess_per_s']:.1f} "
            f"| {"/".join(str(r["divergences"]) for r in ok)} | {med['max_rhat']:.4f} | {med['leapfrog_per_draw']:.1f} | {repro} "
            f"| {max((compare_means(ref, r) for r in ok), key=lambda v: (v == v, v)):.3f} | {cpu:.0f} | {loads} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="pymc,nutpie-numba,nutpie-jax,numpyro,blackjax",
                        help=f"comma-separated, from {', '.join(BACKENDS)}")
    parser.add_argument("--warm", type=int, default=2, help="warm runs after the cold one")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-cache", action="store_true", help="do not empty the caches first (no cold run)")
    parser.add_argument("--out", default=str(ROOT / ".cache" / "bench_samplers.json"))
    parser.add_argument("--merge", help="comma-separated result files to combine into --out's table, no runs")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.merge:
        merged: dict[str, list[dict[str, Any]]] = {}
        for path in args.merge.split(","):
            merged.update(json.loads(Path(path).read_text()))
        Path(args.out).write_text(json.dumps(merged, indent=1))
        Path(args.out).with_suffix(".md").write_text(table(merged) + "\n")
        print(table(merged))
        return
    if args.worker:
        result = worker(args.worker, args.draws, args.tune, args.chains, args.seed)
        print(RESULT_MARK + json.dumps(result), flush=True)
        return
    out = Path(args.out)
    results: dict[str, list[dict[str, Any]]] = json.loads(out.read_text()) if out.exists() else {}
    for backend in args.backends.split(","):
        if backend not in BACKENDS:
            parser.error(f"unknown backend {backend!r}")
        cache_dir = CACHE / backend
        if not args.keep_cache:
            shutil.rmtree(cache_dir, ignore_errors=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        runs = []
        for i in range(args.warm + 1):
            r = run_one(backend, cache_dir, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed)
            r["cache"] = "warm" if (i or args.keep_cache) else "cold"
            runs.append(r)
            brief = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()
                     if k not in ("summary", "error", "groups", "options")}
            print(json.dumps(brief) if "error" not in r else f"{backend}: ERROR {r['error'][-1500:]}", flush=True)
        results[backend] = runs
        out.write_text(json.dumps(results, indent=1))
    md = table(results)
    out.with_suffix(".md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()

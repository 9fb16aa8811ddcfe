"""The default model in Stan (rstan) beside our samplers: posterior means and ESS per second.

``benchmarks/stan/relapse_default.stan`` is the default ``RelapseModel()`` (competing risks,
cure fraction on relapse, Weibull hazards, class-in-risk-group and study effects on the cure
logit, non-centred) written in Stan; ``benchmarks/stan/fit_stan.R`` fits it with rstan. This
script exports the data of the PyMC model's own :class:`~relapse_model.models.design.Design` on
the bundled ``cog_like`` cohort, and the parameters of ``priors/default.toml``, to JSON (so both
programs fit identical data under identical priors), fits it with rstan and, in the same run,
fits ``RelapseModel().fit(cohort, random_seed=1, nuts=...)`` with each of ``--samplers``, then
prints one table row per sampler:

- sampling seconds (wall clock of warm-up + draws of all chains, 2 chains in parallel),
- the minimum bulk ESS over the scalar parameters both programs share (each z, scale and
  deterministic: the same set on both sides; ArviZ's and rstan's bulk ESS are the same
  rank-normalised split-chain estimator of Vehtari et al. 2021),
- ESS per second of sampling and its ratio to Stan's, and the same per CPU second (Stan's
  chain timers, which count CPU time; for ours every CPU second of ``fit()``), which depends
  less on what else the machine runs,
- the largest |mean difference| / Stan's posterior SD over those parameters,
- ``os.getloadavg()`` at the start of each fit (the machine may be shared).

    python -m benchmarks.bench_stan [--samplers pymc,nutpie] [--seed 1]

Needs R with rstan (Debian/Ubuntu: ``sudo apt-get install r-cran-rstan``); without it the script
says so in one line and exits 0. Results: ``.cache/bench_stan.json``; the exported data:
``.cache/bench_stan/data.json``; the compiled Stan model is cached in ``.cache/bench_stan``
(``--recompile`` drops it, to time the C++ compile again).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from relapse_model.models.hierarchy import CURE_INTERCEPT, Names

ROOT = Path(__file__).resolve().parents[1]
STAN_DIR = ROOT / "benchmarks" / "stan"
STAN_FILE = STAN_DIR / "relapse_default.stan"
R_SCRIPT = STAN_DIR / "fit_stan.R"
WORK = ROOT / ".cache" / "bench_stan"
RESULTS = ROOT / ".cache" / "bench_stan.json"
COHORT = "cog_like"
INSTALL_HINT = ("bench_stan: skipped, R with rstan is not installed (Debian/Ubuntu: "
                "sudo apt-get install r-cran-rstan r-cran-jsonlite; elsewhere install R, then "
                "install.packages(c('rstan', 'jsonlite')) in R)")
#: Optional Python package of each sampler of ``--samplers`` ("pymc" needs none).
SAMPLER_PACKAGES = {"nutpie": "nutpie", "nutpie-numba": "nutpie", "nutpie-jax": "nutpie", "numpyro": "numpyro"}
#: Data fields that are Stan arrays or vectors even when they have one element.
_ARRAY_FIELDS = ("relapse_cols", "death_cols", "class_group", "class_index", "study_index", "time", "cause",
                 "cure_beta_mu", "cure_beta_sigma", "cure_group_mu", "cure_group_sigma", "relapse_beta_mu",
                 "relapse_beta_sigma", "death_beta_mu", "death_beta_sigma")


# --- the data and priors the Stan program reads ---------------------------------------------

def _normal(prior) -> tuple[float, float]:
    if prior.dist != "normal":
        raise ValueError(f"{prior.key}: the Stan program has a normal prior here, the priors file "
                         f"says {prior.dist!r}; change relapse_default.stan too")
    return prior.params["mu"], prior.params["sigma"]


def _halfnormal(prior) -> float:
    if prior.dist != "halfnormal":
        raise ValueError(f"{prior.key}: the Stan program has a half-normal prior here, the priors "
                         f"file says {prior.dist!r}; change relapse_default.stan too")
    return prior.params["sigma"]


def _normals(priors, section: str, keys) -> tuple[list[float], list[float]]:
    pairs = [_normal(priors[section, k]) for k in keys]
    return [m for m, _ in pairs], [s for _, s in pairs]


def stan_data(model, cohort) -> dict[str, Any]:
    """The Stan program's data: the Design ``model`` builds its PyMC model from, and its priors.

    Parameters
    ----------
    model : RelapseModel
        With the default specification (competing risks, cure, Weibull, hierarchy).
    cohort : Cohort

    Returns
    -------
    dict
        Field name -> int, float or (nested) list, 1-based indices as Stan wants them.

    Raises
    ------
    ValueError
        A specification or prior the Stan program does not encode (it is the default model only).
    """
    from relapse_model.models.hierarchy import CLASS_GROUP_INDEX, CLASS_SD_KEY, GROUP_PRIOR_KEYS, STUDY_SD_KEY

    spec, priors = model.spec, model.priors
    if not (spec.competing and spec.cure and spec.hierarchy and spec.baseline == "weibull"):
        raise ValueError(f"relapse_default.stan is the default model only, not {spec.settings()}")
    design = model.design(cohort)
    if len(design.studies) < 2:
        raise ValueError("relapse_default.stan has study effects, which the PyMC model adds only for 2+ studies")
    cols = list(design.covariates)
    relapse_mu, relapse_sigma = _normals(priors, "relapse", spec.relapse_terms)
    death_mu, death_sigma = _normals(priors, "death", spec.death_covariates)
    cure_mu, cure_sigma = _normals(priors, "cure", cols)
    group_mu, group_sigma = _normals(priors, "cure", GROUP_PRIOR_KEYS)
    data: dict[str, Any] = {
        "N": design.n, "P": len(cols), "X": design.X.tolist(),
        "P_relapse": len(spec.relapse_terms), "relapse_cols": [cols.index(c) + 1 for c in spec.relapse_terms],
        "P_death": len(spec.death_covariates), "death_cols": [cols.index(c) + 1 for c in spec.death_covariates],
        "C": len(CLASS_GROUP_INDEX), "class_group": (CLASS_GROUP_INDEX + 1).tolist(),
        "class_index": (design.class_index + 1).tolist(),
        "S": len(design.studies), "study_index": (design.study_index + 1).tolist(),
        "time": design.time.tolist(), "cause": design.cause.astype(int).tolist(),
        "cure_beta_mu": cure_mu, "cure_beta_sigma": cure_sigma,
        "cure_group_mu": group_mu, "cure_group_sigma": group_sigma,
        "cure_class_sd_sigma": _halfnormal(priors["cure", CLASS_SD_KEY]),
        "cure_study_sd_sigma": _halfnormal(priors["cure", STUDY_SD_KEY]),
        "relapse_beta_mu": relapse_mu, "relapse_beta_sigma": relapse_sigma,
        "death_beta_mu": death_mu, "death_beta_sigma": death_sigma,
    }
    for name, (section, key) in {"cure_intercept": ("cure", "intercept"),
                                 "relapse_log_shape": ("relapse", "weibull_log_shape"),
                                 "relapse_log_scale": ("relapse", "weibull_log_scale"),
                                 "death_log_shape": ("death", "weibull_log_shape"),
                                 "death_log_scale": ("death", "weibull_log_scale")}.items():
        data[f"{name}_mu"], data[f"{name}_sigma"] = _normal(priors[section, key])
    return data


def write_stan_data(data: dict[str, Any], path: Path) -> Path:
    """Write ``data`` as fit_stan.R reads it (with the names of its array fields)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": data, "array_fields": list(_ARRAY_FIELDS)}))
    return path


# --- the Stan program's declarations (tests compare them with the PyMC model) ----------------

_DECLARATION = re.compile(r"^\s*(?:int|real|vector|matrix)\s*(?:<[^>]*>)?\s*(?:\[([^\]]*)\])?\s+(\w+)\s*(?:\[([^\]]*)\])?")


def stan_block(text: str, block: str) -> str:
    """The body of one top-level block (``data``, ``parameters``, ...) of a Stan program."""
    text = re.sub(r"//[^\n]*", "", text)
    match = re.search(rf"(?m)^{re.escape(block)}\s*{{", text)
    if match is None:
        raise ValueError(f"no '{block}' block in the Stan program")
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise ValueError(f"unclosed '{block}' block in the Stan program")


def stan_declarations(text: str, block: str) -> dict[str, tuple[str, ...]]:
    """Variables declared at the top of ``block``: name -> size expressions (() for a scalar)."""
    out = {}
    for line in stan_block(text, block).splitlines():
        match = _DECLARATION.match(line)
        if match:
            sizes = ",".join(s for s in (match.group(1), match.group(3)) if s)
            out[match.group(2)] = tuple(s.strip() for s in sizes.split(",") if s.strip())
    return out


def pymc_variables(pymc_model) -> dict[str, dict[str, int]]:
    """Free variables and deterministics of a PyMC model: ``{"free": {name: size}, "deterministic": ...}``
    (size 0 for a scalar), read from the model's dims without compiling anything."""
    def size(var) -> int:
        dims = pymc_model.named_vars_to_dims.get(var.name) or ()
        return int(np.prod([len(pymc_model.coords[d]) for d in dims])) if dims else 0
    free = {v.name: size(v) for v in pymc_model.free_RVs}
    deterministic = {v.name: size(v) for v in pymc_model.deterministics}
    # the cure intercept and study effects are sampled in decorrelated coordinates
    # (models.build.intercept_class_and_study); Stan samples the standard ones we record
    cure = Names("cure")
    coordinates = (cure.level_z, f"{CURE_INTERCEPT}_u", cure.study_deviation_z)
    if all(c in free for c in coordinates):
        for c in coordinates:
            free.pop(c)
        free.update({name: deterministic.pop(name) for name in (f"{CURE_INTERCEPT}_z", cure.study_z)})
    return {"free": free, "deterministic": deterministic}


# --- running the fits ---------------------------------------------------------------------------

def rstan_available() -> bool:
    """Whether ``Rscript`` is on the PATH and R has rstan and jsonlite."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return False
    check = "quit(status = !all(vapply(c('rstan', 'jsonlite'), requireNamespace, logical(1), quietly = TRUE)))"
    return subprocess.run([rscript, "-e", check], capture_output=True).returncode == 0


def run_stan(data_path: Path, out_path: Path, *, seed: int, chains: int, tune: int, draws: int) -> dict[str, Any]:
    """Fit the Stan program with fit_stan.R (compiled model cached in ``.cache/bench_stan``)."""
    load = os.getloadavg()
    cmd = [shutil.which("Rscript") or "Rscript", str(R_SCRIPT), str(data_path), str(out_path), str(seed),
           str(chains), str(tune), str(draws), str(WORK)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"fit_stan.R failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out_path.read_text())
    # Stan 2.21 times each chain with clock(): CPU seconds of its warm-up and sampling iterations
    cpu = sum(result["chain_warmup_seconds"]) + sum(result["chain_sample_seconds"])
    result.update(load=list(load), load_end=list(os.getloadavg()), wall_seconds=time.perf_counter() - t0,
                  cpu_seconds=cpu)
    return result


def posterior_summary(tree) -> dict[str, dict[str, float]]:
    """Mean, SD and bulk ESS of every scalar of the posterior, named as rstan names them but
    0-based (``cure_beta[0]``; a scalar is its bare name)."""
    import arviz as az

    post = tree["posterior"].to_dataset()
    ess = az.ess(tree["posterior"], method="bulk")
    ess = ess.to_dataset() if hasattr(ess, "to_dataset") else ess
    out = {}
    for name in post.data_vars:
        draws = post[name].to_numpy()
        flat = draws.reshape(draws.shape[0] * draws.shape[1], -1)
        e = np.asarray(ess[name].to_numpy(), dtype=float).ravel()
        for j in range(flat.shape[1]):
            key = name if draws.ndim == 2 else f"{name}[{j}]"
            out[key] = {"mean": float(flat[:, j].mean()), "sd": float(flat[:, j].std(ddof=1)), "ess_bulk": float(e[j])}
    return out


def from_stan_names(summary: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """rstan's 1-based names (``cure_beta[1]``) as :func:`posterior_summary`'s (``cure_beta[0]``)."""
    return {re.sub(r"\[(\d+)\]$", lambda m: f"[{int(m.group(1)) - 1}]", k): v for k, v in summary.items()}


def fit_ours(sampler: str, cohort, *, seed: int, chains: int, tune: int, draws: int) -> dict[str, Any]:
    """``RelapseModel().fit(cohort, random_seed=seed, nuts=sampler)``: timings and summary."""
    from relapse_model.models.model import RelapseModel

    load = os.getloadavg()
    cpu0 = os.times()
    t0 = time.perf_counter()
    model = RelapseModel().fit(cohort, random_seed=seed, nuts=sampler, chains=chains, tune=tune, draws=draws,
                               progressbar=False)
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    # nutpie's chains are threads of this process, PyMC's forked children it waits for: both counted
    cpu = sum(getattr(cpu1, k) - getattr(cpu0, k) for k in ("user", "system", "children_user", "children_system"))
    tree = model.posterior
    stats = tree["sample_stats"].to_dataset()
    return {"sampler": sampler, "load": list(load), "load_end": list(os.getloadavg()), "wall_seconds": wall,
            "cpu_seconds": cpu, "compile_seconds": float(tree.attrs.get("compile_seconds", np.nan)),
            "sampling_seconds": float(tree.attrs["sampling_seconds"]),
            "divergences": int(stats["diverging"].sum()), "summary": posterior_summary(tree)}


def compare(ours: dict[str, Any], stan: dict[str, Any]) -> dict[str, Any]:
    """ESS and means of ``ours`` against Stan's over the scalar parameters both name."""
    stan_summary = from_stan_names(stan["summary"])
    shared = sorted(set(ours["summary"]) & set(stan_summary))
    diffs = {k: abs(ours["summary"][k]["mean"] - stan_summary[k]["mean"]) / stan_summary[k]["sd"]
             for k in shared if stan_summary[k]["sd"] > 0}
    worst = max(diffs, key=diffs.get)
    return {"shared_parameters": len(shared),
            "min_ess_bulk": min(ours["summary"][k]["ess_bulk"] for k in shared),
            "stan_min_ess_bulk": min(stan_summary[k]["ess_bulk"] for k in shared),
            "max_mean_diff_sd": diffs[worst], "max_mean_diff_parameter": worst}


def table(stan: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Markdown table: Stan first, then each of our samplers, and a note on what the CPU seconds count."""
    stan_ess = rows[0]["stan_min_ess_bulk"] if rows else min(v["ess_bulk"] for v in stan["summary"].values())
    stan_rate, stan_cpu_rate = stan_ess / stan["sampling_seconds"], stan_ess / stan["cpu_seconds"]
    lines = ["| sampler | sampling s | min bulk ESS | ESS/s | ratio to Stan | CPU s | ESS per CPU s | ratio to Stan "
             "| max abs mean diff / SD (parameter) | divergences | load avg (1, 5 min) |", "|" + " --- |" * 11]

    def load(r):
        return f"{r['load'][0]:.2f}, {r['load'][1]:.2f}"

    lines.append(f"| Stan {stan['stan_version']} (rstan {stan['rstan_version']}) | {stan['sampling_seconds']:.1f} "
                 f"| {stan_ess:.0f} | {stan_rate:.1f} | 1.00 | {stan['cpu_seconds']:.0f} | {stan_cpu_rate:.1f} | 1.00 "
                 f"| - | {stan['divergences']:.0f} | {load(stan)} |")
    for r in rows:
        rate, cpu_rate = r["min_ess_bulk"] / r["sampling_seconds"], r["min_ess_bulk"] / r["cpu_seconds"]
        lines.append(f"| {r['sampler']} | {r['sampling_seconds']:.1f} | {r['min_ess_bulk']:.0f} | {rate:.1f} "
                     f"| {rate / stan_rate:.2f} | {r['cpu_seconds']:.0f} | {cpu_rate:.1f} | {cpu_rate / stan_cpu_rate:.2f} "
                     f"| {r['max_mean_diff_sd']:.3f} ({r['max_mean_diff_parameter']}) | {r['divergences']} | {load(r)} |")
    n = rows[0]["shared_parameters"] if rows else len(stan["summary"])
    lines.append(f"\nSampling s: wall clock of warm-up + draws, 2 chains at a time. ESS: minimum bulk ESS over the "
                 f"{n} scalars both programs name. CPU s: Stan's chain timers (CPU of its NUTS iterations only); "
                 "ours: every CPU second of fit() (compile, sampling, log-likelihood), so the CPU ratio "
                 "understates ours a little and depends less on other load than wall time.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring); 0 also when rstan is absent."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_stan", description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default="pymc,nutpie", help="comma-separated nuts= values (default pymc,nutpie)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--recompile", action="store_true", help="drop the cached compiled Stan model first")
    args = parser.parse_args(argv)
    if not rstan_available():
        print(INSTALL_HINT)
        return 0

    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models.model import RelapseModel

    cohort = load_bundled(COHORT)
    data_path = write_stan_data(stan_data(RelapseModel(), cohort), WORK / "data.json")
    if args.recompile:
        for old in WORK.glob("relapse_default-*.rds"):
            old.unlink()
    sizes = {"seed": args.seed, "chains": args.chains, "tune": args.tune, "draws": args.draws}
    print(f"bench_stan: fitting {STAN_FILE.relative_to(ROOT)} with rstan on {COHORT} ...", flush=True)
    stan = run_stan(data_path, WORK / "stan_result.json", **sizes)
    compiled = "cached" if stan["compile_cached"] else f"{stan['compile_seconds']:.0f} s"
    print(f"bench_stan: Stan {stan['stan_version']} (rstan {stan['rstan_version']}): compile {compiled}, "
          f"sampling {stan['sampling_seconds']:.1f} s", flush=True)
    rows = []
    for sampler in [s.strip() for s in args.samplers.split(",") if s.strip()]:
        package = SAMPLER_PACKAGES.get(sampler)
        if package and importlib.util.find_spec(package) is None:
            print(f"bench_stan: {sampler} skipped, {package} is not installed (pip install {package})")
            continue
        print(f"bench_stan: fitting RelapseModel() with nuts={sampler!r} ...", flush=True)
        ours = fit_ours(sampler, cohort, **sizes)
        rows.append({**ours, **compare(ours, stan)})
    text = table(stan, rows)
    print(text)
    RESULTS.write_text(json.dumps({"cohort": COHORT, **sizes, "stan": stan, "ours": rows, "table": text,
                                   "python": sys.version.split()[0]}, indent=1))
    print(f"bench_stan: results in {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

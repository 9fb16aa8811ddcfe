"""The Monte Carlo engine: many virtual two-arm trials driven by posterior draws.

Each simulated trial takes one posterior draw (so model uncertainty propagates) and one draw of
every agent's effects (from its prior, fixed at its median, or null), resamples its patients
from the eligible population, randomises them, draws their outcomes with the model's own
generative code, and analyses them at each look. Everything is vectorised over trials and
patients inside a block of :data:`BLOCK_TRIALS` trials.

Reproducibility: block ``b`` of scenario ``m`` always uses the random stream
``SeedSequence(seed, spawn_key=(m, b))`` and is analysed on its own, so results are
bit-identical whatever the chunk size (chunks are whole blocks) or number of workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from relapse_model.cohort.bundled import bundled_path
from relapse_model.cohort.cohort import Cohort, load_cohort
from relapse_model.common.intervals import estimate_coords, summarise_draws
from relapse_model.errors import InputError
from relapse_model.models.outcomes import inverse_cumulative_hazard
from relapse_model.models.parameters import ParameterDraws, linear_predictors
from relapse_model.models.predict import curves_from_eta
from relapse_model.simulate import analyses
from relapse_model.simulate import boundaries as bnd
from relapse_model.simulate import mechanics as mech
from relapse_model.simulate.agents import EFFECTS, Agent, agent_by_name
from relapse_model.simulate.spec import TrialSpec

BLOCK_TRIALS = 250
#: Scenario name -> how agent effects are drawn. "assurance": from their priors; "power": fixed
#: at the prior medians; "no_effect": agents do nothing (type-I error).
SCENARIOS = {"assurance": "prior", "power": "median", "no_effect": "null"}
_SCENARIO_INDEX = {name: i for i, name in enumerate(SCENARIOS)}
_EFFECT_KEY = {"cure_or": "eta_cure", "relapse_hr": "eta_relapse", "death_hr": "eta_death"}


@dataclass(frozen=True)
class Population:
    """Eligible patients with their linear predictors under every retained posterior draw."""

    data: pd.DataFrame
    params: ParameterDraws
    eta: dict[str, np.ndarray]            # (S, N) each
    target: dict[str, np.ndarray]         # agent -> (N,) bool
    strata: np.ndarray | None              # (N,) int codes
    agents: dict[str, Agent]

    @property
    def n(self) -> int:
        return len(self.data)


def population_cohort(spec: TrialSpec) -> Cohort:
    """The cohort patients are resampled from: generated from a covariate specification, a
    bundled name, or a file path."""
    gen = spec.population.generate
    if gen is not None:
        from relapse_model.common.paths import cohorts_dir
        from relapse_model.reference.generator import simulate_reference_cohort
        from relapse_model.reference.spec import read_spec
        ref = read_spec(cohorts_dir() / f"{gen.spec}.toml")
        try:
            params = ref.generator_parameters().with_overrides(dict(ref.parameters) | gen.parameters)
        except KeyError as exc:
            raise InputError.single(spec.name, f"key 'population.generate.parameters': {exc.args[0]}") from None
        frame = simulate_reference_cohort(gen.n, ref.study_list(), params, gen.seed)
        return Cohort.from_frame(frame, f"generated from {gen.spec} (seed {gen.seed})")
    name = spec.population.cohort
    path = bundled_path(name) if "/" not in name and not name.endswith((".csv", ".parquet", ".tsv")) else name
    return load_cohort(path)


def prepare_population(model, spec: TrialSpec, cohort: Cohort | None = None,
                       max_draws: int = 1000) -> Population:
    """Eligible patients, their linear predictors and agent target masks, computed once."""
    cohort = cohort or population_cohort(spec)
    data = cohort.data
    if spec.population.eligible:
        keep = np.logical_or.reduce([c.mask(data) for c in spec.population.eligible])
        if not keep.any():
            raise InputError.single(spec.name, "key 'population.eligible': no patient of the cohort is eligible")
        cohort = cohort.subset(keep)
    params = model.parameters(max_draws)
    if params.death is None:
        raise InputError.single(spec.name, "virtual trials need the competing-risk model (fit with --model competing)")
    design = model.design(cohort, with_outcome=False)
    eta = linear_predictors(params, design)
    agents = {name: agent_by_name(name) for name in spec.agents}
    target = {name: a.in_target(cohort.data) for name, a in agents.items()}
    strata = None
    if spec.stratify:
        strata = pd.factorize(cohort.data[spec.stratify].astype(str))[0]
    return Population(cohort.data, params, eta, target, strata, agents)


def _arm_offsets(spec: TrialSpec, pop: Population, effects: dict[str, dict[str, np.ndarray]],
                 arm: np.ndarray, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Log-effect offsets of every patient from the agents of the arm they are in."""
    out = {key: np.zeros(idx.shape) for key in _EFFECT_KEY.values()}
    for a, arm_spec in enumerate(spec.arms):
        for agent, sign in [(x, 1.0) for x in arm_spec.add] + [(x, -1.0) for x in arm_spec.remove]:
            on = (arm == a) & pop.target[agent][idx]
            for effect, key in _EFFECT_KEY.items():
                out[key] += sign * on * effects[agent][effect][:, None]
    return out


def _draw_outcomes(pop: Population, rng: np.random.Generator, draw: np.ndarray, idx: np.ndarray,
                   offsets: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """EFS event times (from entry) and cause (1 relapse, 2 death) for a block of trials."""
    p = pop.params
    d2 = np.broadcast_to(draw[:, None], idx.shape)
    eta_r = pop.eta["eta_relapse"][d2, idx] + offsets["eta_relapse"]
    eta_d = pop.eta["eta_death"][d2, idx] + offsets["eta_death"]
    cured = np.zeros(idx.shape, dtype=bool)
    if p.has_cure:
        eta_c = pop.eta["eta_cure"][d2, idx] + offsets["eta_cure"]
        cured = rng.random(idx.shape) < 1.0 / (1.0 + np.exp(-eta_c))
    t_r = inverse_cumulative_hazard(p.relapse, p.baseline_kind, p.grid,
                                    rng.standard_exponential(idx.shape) / np.exp(eta_r), d2)
    t_r = np.where(cured, np.inf, t_r)
    t_d = inverse_cumulative_hazard(p.death, p.baseline_kind, p.grid,
                                    rng.standard_exponential(idx.shape) / np.exp(eta_d), d2)
    return np.minimum(t_r, t_d), np.where(t_r <= t_d, 1, 2)


def _looks(spec: TrialSpec, entry: np.ndarray, event_time: np.ndarray, dropout: np.ndarray) -> list[mech.TrialData]:
    a = spec.analysis
    fractions = spec.interim.fractions if spec.interim else [1.0]
    if a.timing == "events":
        return mech.information_looks(entry, event_time, dropout, int(a.events), fractions, a.max_months)
    return [mech.analysis_time_calendar(entry, event_time, dropout, min(f * a.months, a.max_months))
            for f in fractions]


def _test_statistics(spec: TrialSpec, looks: list[mech.TrialData], arm: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, analyses.CoxResult | None]:
    """z statistic (benefit positive) and posterior probability of benefit at each look, and the
    last look's Cox fit when the analysis needed one."""
    a = spec.analysis
    n_trials = arm.shape[0]
    z, prob = np.empty((len(looks), n_trials)), np.full((len(looks), n_trials), np.nan)
    cx = None
    for j, look in enumerate(looks):
        if a.primary in ("cox", "bayes"):
            cx = analyses.cox_two_arm(look.time, look.event, arm, look.mask)
            prob[j] = analyses.bayes_prob_benefit(cx.log_hr, cx.se, 0.0, a.bayes_prior_sd)
            z[j] = -cx.z if a.primary == "cox" else stats.norm.ppf(prob[j])
        elif a.primary == "rmst":
            z[j] = analyses.rmst_difference(look.time, look.event, arm, a.rmst_tau, look.mask).z
        else:
            z[j] = -analyses.logrank(look.time, look.event, arm, look.mask).z
    return z, prob, cx


def _decisions(spec: TrialSpec, z: np.ndarray, boundaries: bnd.Boundaries | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reject, stopping look, stopped for futility) of each trial."""
    a = spec.analysis
    k, n_trials = z.shape
    if a.primary == "bayes":
        crit = np.full(k, stats.norm.ppf(a.bayes_threshold))
        running, reject, stop = np.ones(n_trials, bool), np.zeros(n_trials, bool), np.full(n_trials, k - 1)
        for j in range(k):
            hit = running & (z[j] >= crit[j])
            reject |= hit
            stop = np.where(hit, j, stop)
            running &= ~hit
        return reject, stop, np.zeros(n_trials, bool)
    if boundaries is not None:
        out = bnd.apply_boundaries(z, boundaries)
        return out.reject, out.stop_look, out.futility
    return z[0] >= stats.norm.ppf(1 - a.alpha), np.zeros(n_trials, int), np.zeros(n_trials, bool)


def _subgroup_results(pop: Population, final: mech.TrialData, arm: np.ndarray, idx: np.ndarray
                      ) -> dict[str, np.ndarray]:
    """Log hazard ratio, log-rank z and size inside and outside each targeted agent's subgroup."""
    result = {}
    for name, agent in pop.agents.items():
        if agent.target != "all":
            inside = pop.target[name][idx]
            for label, sub in (("target", inside), ("non_target", ~inside)):
                m = final.mask & sub
                result[f"{name}.{label}_log_hr"] = analyses.cox_two_arm(final.time, final.event, arm, m).log_hr
                result[f"{name}.{label}_z"] = -analyses.logrank(final.time, final.event, arm, m).z
                result[f"{name}.{label}_n"] = m.sum(axis=1).astype(np.int64)
    return result


def simulate_block(spec: TrialSpec, pop: Population, seed: int, scenario: str, block: int,
                   n_trials: int, boundaries: bnd.Boundaries | None) -> dict[str, np.ndarray]:
    """Simulate and analyse ``n_trials`` trials (one block) of one scenario."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SCENARIO_INDEX[scenario], block)))
    n = spec.sample_size
    draw = rng.integers(0, pop.params.n_draws, n_trials)
    effects = {name: a.log_effect_draws(rng, n_trials, SCENARIOS[scenario]) for name, a in pop.agents.items()}
    idx = rng.integers(0, pop.n, (n_trials, n))
    rates, breaks = spec.accrual.as_rates
    entry = mech.accrual_times(rng, n_trials, n, rates, breaks)
    strata = pop.strata[idx] if pop.strata is not None else None
    arm = mech.allocate(rng, n_trials, n, tuple(spec.allocation), spec.randomisation, strata=strata)
    offsets = _arm_offsets(spec, pop, effects, arm, idx)
    event_time, cause = _draw_outcomes(pop, rng, draw, idx, offsets)
    dropout = mech.dropout_times(rng, (n_trials, n), spec.dropout.rate)
    looks = _looks(spec, entry, event_time, dropout)
    z, prob, cx = _test_statistics(spec, looks, arm)
    reject, stop, futile = _decisions(spec, z, boundaries)

    rows = np.arange(n_trials)
    pick = lambda arrs: np.stack(arrs)[stop, rows]  # noqa: E731 - value at each trial's stopping look
    final = looks[-1]
    nan = np.full(n_trials, np.nan)
    a = spec.analysis
    if "cox" not in a.estimates:
        cox = analyses.CoxResult(nan, nan, nan, nan, np.zeros(n_trials, bool))
    else:  # the loop's last Cox fit is already the final look's
        cox = cx if cx is not None else analyses.cox_two_arm(final.time, final.event, arm, final.mask)
    rmst_diff = (analyses.rmst_difference(final.time, final.event, arm, a.rmst_tau, final.mask).difference
                 if "rmst" in a.estimates else nan)
    result = {
        "reject": reject, "futility": futile, "stop_look": stop.astype(np.int64),
        "duration": pick([lk.cut for lk in looks]),
        "n_enrolled": pick([lk.mask.sum(axis=1) for lk in looks]).astype(np.int64),
        "events": pick([lk.event.sum(axis=1) for lk in looks]).astype(np.int64),
        "z": z.T, "prob_benefit": pick(list(prob)),
        "log_hr": cox.log_hr, "log_hr_se": cox.se, "rmst_difference": rmst_diff,
        "relapse_share": (final.event & (cause == 1)).sum(1) / np.maximum(final.event.sum(1), 1),
        "draw": draw,
    }
    for name in pop.agents:
        for effect in EFFECTS:
            result[f"{name}.{effect}"] = effects[name][effect]
    return result | _subgroup_results(pop, final, arm, idx)


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def spec_boundaries(spec: TrialSpec) -> bnd.Boundaries | None:
    """Group-sequential boundaries of the spec (None without interim looks or for Bayesian rules)."""
    if spec.interim is None or spec.analysis.primary == "bayes":
        return None
    return bnd.spending_boundaries(spec.interim.fractions, spec.analysis.alpha, spec.interim.spending,
                                   futility=spec.interim.futility)


def run_blocks(spec: TrialSpec, pop: Population, seed: int, scenario: str, n_trials: int,
               blocks: range) -> dict[str, np.ndarray]:
    """Simulate the given blocks of a scenario (the unit of work a worker receives)."""
    b = spec_boundaries(spec)
    parts = [simulate_block(spec, pop, seed, scenario, blk, min(BLOCK_TRIALS, n_trials - blk * BLOCK_TRIALS), b)
             for blk in blocks]
    return _concat(parts)


def simulate_trials(model, spec: TrialSpec, *, seed: int = 0, n_trials: int | None = None,
                    scenarios: tuple[str, ...] = tuple(SCENARIOS), chunk_trials: int = 2000,
                    workers: int = 1, scheduler: str | None = None, cohort: Cohort | None = None,
                    curves: bool = True, progress: Callable[[int, int], None] | None = None,
                    population: Population | None = None) -> xr.Dataset:
    """Simulate virtual trials of ``spec`` under each scenario.

    Parameters
    ----------
    model : RelapseModel
        A fitted competing-risk model (its posterior drives the outcomes).
    spec : TrialSpec
    seed : int
        One seed for everything; the result is bit-identical for any ``chunk_trials`` or
        ``workers``.
    n_trials : int, optional
        Trials per scenario (default ``spec.n_trials``).
    scenarios : tuple of str
        Any of "assurance" (effects from the agent priors), "power" (effects at their prior
        medians) and "no_effect" (agents do nothing: type-I error).
    chunk_trials : int
        Trials per unit of work, rounded up to whole blocks of :data:`BLOCK_TRIALS`.
    workers : int
        Local processes (dask) when > 1; ``scheduler`` is the address of an existing dask
        cluster instead.
    curves : bool
        Also compute model-based EFS and relapse-incidence curves per arm with bands.

    Returns
    -------
    xarray.Dataset
        Per-trial results (dims ``scenario``, ``trial``, ``look``), curves (``arm``, ``time``),
        and the spec, seed and fit hash in ``attrs``; see :func:`operating_characteristics`.
    """
    n_trials = int(n_trials or spec.n_trials)
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise InputError.single("simulate", f"unknown scenario(s) {', '.join(unknown)} ({', '.join(SCENARIOS)})")
    pop = population or prepare_population(model, spec, cohort)
    n_blocks = -(-n_trials // BLOCK_TRIALS)
    per_chunk = max(1, -(-int(chunk_trials) // BLOCK_TRIALS))
    chunks = [range(i, min(i + per_chunk, n_blocks)) for i in range(0, n_blocks, per_chunk)]
    results: dict[str, dict[str, np.ndarray]] = {}
    total, done = len(chunks) * len(scenarios), 0
    if workers > 1 or scheduler:
        from relapse_model.simulate.parallel import map_chunks
        for scenario in scenarios:
            parts = map_chunks(run_blocks, [(spec, pop, seed, scenario, n_trials, c) for c in chunks],
                               workers=workers, scheduler=scheduler,
                               progress=(lambda k, base=done: progress and progress(base + k, total)))
            results[scenario] = _concat(parts)
            done += len(chunks)
    else:
        for scenario in scenarios:
            parts = []
            for c in chunks:
                parts.append(run_blocks(spec, pop, seed, scenario, n_trials, c))
                done += 1
                if progress:
                    progress(done, total)
            results[scenario] = _concat(parts)
    ds = _to_dataset(results, spec, n_trials)
    if curves:
        ds = ds.merge(arm_curves(spec, pop, seed))
    ds.attrs.update({"spec": spec.model_dump_json(by_alias=True, exclude_none=True), "seed": int(seed),
                     "block_trials": BLOCK_TRIALS, "fit_hash": model.posterior.attrs.get("fit_hash", "")})
    b = spec_boundaries(spec)
    if b is not None:
        ds.attrs["efficacy_boundaries"] = np.asarray(b.efficacy, dtype=float)
    return ds


def _to_dataset(results: dict[str, dict[str, np.ndarray]], spec: TrialSpec, n_trials: int) -> xr.Dataset:
    scenarios = list(results)
    keys = list(results[scenarios[0]])
    n_looks = results[scenarios[0]]["z"].shape[1]
    data_vars = {}
    for key in keys:
        arr = np.stack([results[s][key] for s in scenarios])
        dims = ("scenario", "trial", "look") if arr.ndim == 3 else ("scenario", "trial")
        data_vars[key.replace(".", "__")] = (dims, arr)
    return xr.Dataset(data_vars, coords={"scenario": scenarios, "trial": np.arange(n_trials),
                                         "look": np.arange(n_looks)})


def arm_curves(spec: TrialSpec, pop: Population, seed: int, n_draws: int = 200, max_patients: int = 400,
               times: np.ndarray | None = None) -> xr.Dataset:
    """Model-based EFS and relapse incidence of each arm over the eligible population, with 95% bands.

    Each of ``n_draws`` posterior draws is paired with one draw of the agent effects from their
    priors, so the bands carry both model and agent-effect uncertainty.
    """
    times = np.arange(1.0, 97.0, 3.0) if times is None else np.asarray(times, float)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(99,)))
    pick = np.linspace(0, pop.params.n_draws - 1, min(n_draws, pop.params.n_draws)).round().astype(int)
    params = _take_draws(pop.params, pick)
    rows = np.sort(rng.choice(pop.n, size=min(max_patients, pop.n), replace=False))
    eta = {k: v[pick][:, rows] for k, v in pop.eta.items()}
    effects = {name: a.log_effect_draws(rng, len(pick), "prior") for name, a in pop.agents.items()}
    out = {}
    for a, arm_spec in enumerate(spec.arms):
        off = {key: np.zeros((len(pick), len(rows))) for key in _EFFECT_KEY.values()}
        for agent, sign in [(x, 1.0) for x in arm_spec.add] + [(x, -1.0) for x in arm_spec.remove]:
            on = pop.target[agent][rows]
            for effect, key in _EFFECT_KEY.items():
                off[key] += sign * on[None, :] * effects[agent][effect][:, None]
        c = curves_from_eta(params, {k: eta[k] + off[k] for k in eta}, times)
        out[a] = {k: v.mean(axis=1) for k, v in c.items() if v.ndim == 3}
    data_vars = {f"arm_{key}": summarise_draws(np.stack([out[a][key] for a in out], axis=1), ("arm", "time"))
                 for key in ("event_free_survival", "relapse_incidence")}          # draws (S, arm, T)
    return xr.Dataset(data_vars, coords={"arm": [arm.name for arm in spec.arms], "time": times, **estimate_coords()},
                      attrs={"credible_interval": 0.95})


def _take_draws(params: ParameterDraws, idx: np.ndarray) -> ParameterDraws:
    from relapse_model.models.parameters import _take
    return _take(params, idx)


def operating_characteristics(ds: xr.Dataset) -> pd.DataFrame:
    """One row per scenario: probability of success (with Monte Carlo SE), expected sample size,
    duration and events, median hazard-ratio estimate; subgroup success for targeted agents."""
    rows = []
    for scenario in ds["scenario"].to_numpy():
        d = ds.sel(scenario=scenario)
        p = float(d["reject"].mean())
        n = d.sizes["trial"]
        row: dict[str, Any] = {
            "scenario": str(scenario),
            "meaning": {"assurance": "assurance (effects from agent priors)",
                        "power": "power (effects at prior medians)",
                        "no_effect": "type-I error (no effect)"}[str(scenario)],
            "P(success)": p, "MC SE": float(np.sqrt(p * (1 - p) / n)),
            "stopped early": float((d["stop_look"] < d.sizes["look"] - 1).mean()),
            "E[sample size]": float(d["n_enrolled"].mean()),
            "E[duration, months]": float(d["duration"].where(np.isfinite(d["duration"])).mean()),
            "E[events]": float(d["events"].mean()),
            "median HR": float(np.exp(np.nanmedian(d["log_hr"]))),
        }
        for var in d.data_vars:
            if str(var).endswith("__target_z"):
                agent = str(var).split("__")[0]
                if float(d[f"{agent}__non_target_n"].mean()) == 0:
                    continue  # the population is the target: no subgroup to compare
                crit = stats.norm.ppf(1 - 0.025)
                row[f"{agent}: P(z>crit) in target"] = float((d[var] >= crit).mean())
                row[f"{agent}: P(z>crit) outside"] = float((d[f"{agent}__non_target_z"] >= crit).mean())
        rows.append(row)
    return pd.DataFrame(rows)

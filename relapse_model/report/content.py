"""The numbers a report shows, as tables with small counts suppressed.

Each function returns plain DataFrames (and xarray results for figures); :mod:`.build` writes
them and :mod:`.html` lays them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.checks.loo import K_THRESHOLD
from relapse_model.checks.model_checks import CheckResults, ppc_summary
from relapse_model.cohort.cohort import Cohort
from relapse_model.cohort.summary import km_at, missing_table, summary_table
from relapse_model.cohort.vocabulary import RISK_GROUPS
from relapse_model.report.labels import label
from relapse_model.report.privacy import suppress_counts
from relapse_model.report.spec import AgentPriorVariant
from relapse_model.simulate.agents import EFFECTS, Agent, RatioPrior
from relapse_model.simulate.engine import operating_characteristics, prepare_population, simulate_trials
from relapse_model.simulate.spec import TrialSpec

_Z95 = 1.959964


def cohort_tables(cohort: Cohort, min_count: int) -> dict[str, pd.DataFrame]:
    """Characteristics (counts below ``min_count`` suppressed) and missing values per column."""
    missing = missing_table(cohort)
    missing = missing[missing["missing"] > 0].assign(percent=lambda f: f["percent"].round(1))
    small = (missing["missing"] > 0) & (missing["missing"] < min_count)
    missing["percent"] = missing["percent"].where(~small)
    return {"characteristics": summary_table(cohort, min_count=min_count),
            "missing_values": suppress_counts(missing, ["missing"], min_count)}


def diagnostics(checks: CheckResults) -> tuple[pd.DataFrame, dict]:
    """The convergence table as shown, and the verdict (passed, failed diagnostics, Pareto-k note)."""
    conv, loo = checks.convergence, checks.loo
    failed = conv.loc[~conv["passed"], "diagnostic"].tolist()
    n_high_k = int(loo[f"pareto k > {K_THRESHOLD}"].iloc[0])
    verdict = {
        "passed": not failed,
        "failed": failed,
        "values": {row.diagnostic: float(row.value) for row in conv.itertuples()},
        "pareto_k_note": (f"{n_high_k} patient(s) with Pareto k > {K_THRESHOLD}: their LOO terms are unreliable."
                          if n_high_k else ""),
    }
    return conv.assign(passed=conv["passed"].map({True: "yes", False: "NO"})), verdict


def effect_table(model) -> pd.DataFrame:
    """Every effect on its ratio scale, posterior beside prior (the forest plot's data)."""
    table = model.hazard_ratios().drop(columns=["term"], errors="ignore")
    table.insert(0, "effect", [label(c) for c in table["covariate"]])
    return table


def _profile_masks(cohort: Cohort, by_mrd: bool = True) -> dict[str, np.ndarray]:
    """Risk group x MRD (one-step models), or risk group x timing of relapse (the pathway model,
    whose predictions at relapse come before MRD is measured)."""
    d = cohort.data
    if by_mrd:
        second = d["mrd_positive"].map({True: "MRD+", False: "MRD-"}).fillna("MRD unknown").astype(str).to_numpy()
        levels = ("MRD-", "MRD+", "MRD unknown")
    else:
        second = np.where(d["early_relapse"].to_numpy(dtype=bool), "early relapse", "late relapse")
        levels = ("early relapse", "late relapse")
    risk = d["risk_group"].astype(str).to_numpy()
    return {f"{g}, {m}": (risk == g) & (second == m) for g in RISK_GROUPS for m in levels}


def risk_profiles(model, cohort: Cohort, horizon: float, min_count: int) -> pd.DataFrame:
    """Predicted (posterior mean, 95% CrI) and observed risk by cytogenetic risk group x MRD (x
    early / late relapse for the pathway model).

    Only aggregates are shown; a profile with fewer than ``min_count`` patients has its count
    suppressed and its estimates left blank.
    """
    label = survival_label(model)
    pathway = getattr(model.spec, "pathway", False)
    masks = {name: m for name, m in _profile_masks(cohort, by_mrd=not pathway).items() if m.any()}
    big = {name: cohort.subset(m) for name, m in masks.items() if m.sum() >= min_count}
    rows = []
    curves = model.survival_curves(big, times=[horizon]) if big else None
    efs_key = "event_free_survival" if curves is not None and "event_free_survival" in curves else "survival"
    for name, mask in masks.items():
        row: dict[str, object] = {"profile": name, "patients": int(mask.sum())}
        if name in big:
            c = curves.sel(group=name).isel(time=0)
            for out, key in (("predicted_efs", efs_key), ("predicted_relapse", "relapse_incidence")):
                if key in c:
                    est = c[key]
                    row |= {out: float(est.sel(estimate="mean")), f"{out}_lower": float(est.sel(estimate="lower")),
                            f"{out}_upper": float(est.sel(estimate="upper"))}
            row["observed_efs"] = km_at(big[name], horizon, endpoint="os" if label == "OS" else "efs")
        rows.append(row)
    table = pd.DataFrame(rows).rename(columns={k: v.replace("EFS", label) for k, v in PROFILE_COLUMNS.items()})
    estimates = [c for c in table.columns if c not in ("profile", "patients")]
    return suppress_counts(table, ["patients"], min_count, blank_with=estimates, group_size="patients")


def survival_label(model) -> str:
    """"EFS" for the competing-risk and EFS models, "OS" for the overall-survival cure model."""
    return "OS" if model.endpoint == "os" else "EFS"


#: Column names of :func:`risk_profiles` as shown (posterior mean and 95% credible interval);
#: "EFS" becomes "OS" for an overall-survival model.
PROFILE_COLUMNS = {
    "predicted_efs": "EFS, model", "predicted_efs_lower": "EFS 2.5%", "predicted_efs_upper": "EFS 97.5%",
    "observed_efs": "EFS, Kaplan-Meier", "predicted_relapse": "relapse, model",
    "predicted_relapse_lower": "relapse 2.5%", "predicted_relapse_upper": "relapse 97.5%",
}


def ppc_table(ppc: dict[str, xr.Dataset], min_count: int) -> pd.DataFrame:
    """Per subgroup: share of the curve outside the predictive band and the tail p-value."""
    frame = ppc_summary(ppc)
    frame = frame[(frame["grouping"] == "all") | (frame["group"] != "all")]
    cols = ["grouping", "group", "n_patients"] + [c for c in frame.columns if c not in ("grouping", "group", "n_patients")]
    estimates = [c for c in cols if c not in ("grouping", "group", "n_patients")]
    return suppress_counts(frame[cols].reset_index(drop=True), ["n_patients"], min_count,
                           blank_with=estimates, group_size="n_patients")


def vary_agent(agent: Agent, variant: AgentPriorVariant) -> Agent:
    """The agent with each effect prior shrunk toward no effect and/or widened on the log scale."""
    update = {}
    for kind in EFFECTS:
        table = getattr(agent, kind)
        if table is None:
            continue
        varied = {}
        for effect, prior in agent.effects(kind).items():
            mean, sd = (1.0 - variant.shrink) * prior.log_mean, prior.log_sd * variant.sd_scale
            varied[effect] = RatioPrior.model_construct(median=float(np.exp(mean)),
                                                        lower=float(np.exp(mean - _Z95 * sd)),
                                                        upper=float(np.exp(mean + _Z95 * sd)))
        update[kind] = table.model_copy(update=varied)
    return agent.model_copy(update=update)


def trial_results(model, spec: TrialSpec, *, seed: int, n_trials: int | None,
                  variants: list[AgentPriorVariant],
                  progress: Callable[[int, int], None] | None = None) -> tuple[xr.Dataset, pd.DataFrame, pd.DataFrame]:
    """Simulate a trial under every scenario, then its assurance under each agent-prior variant.

    The variants reuse the seed (common random numbers), so differences between rows come from
    the prior, not from Monte Carlo noise.

    Returns
    -------
    (xarray.Dataset, pandas.DataFrame, pandas.DataFrame)
        Per-trial results with arm curves, operating characteristics, and the sensitivity table
        (empty for a master protocol or a programme, made of trials of their own).
    """
    if getattr(spec, "kind", "") in ("master_protocol", "programme"):
        ds = simulate_trials(model, spec, seed=seed, n_trials=n_trials, progress=progress)
        return ds, operating_characteristics(ds), pd.DataFrame()
    pop = prepare_population(model, spec)
    ds = simulate_trials(model, spec, seed=seed, n_trials=n_trials, population=pop, progress=progress)
    oc = operating_characteristics(ds).drop(columns=["meaning"], errors="ignore")
    assurance = headline(oc, "assurance")
    rows = [{"agent prior": "as specified", **_prior_summary(pop.agents, pop.kind),
             "assurance": assurance["P(success)"], "MC SE": assurance["MC SE"]}]
    for variant in variants:
        agents = {name: vary_agent(a, variant) for name, a in pop.agents.items()}
        varied = simulate_trials(model, spec, seed=seed, n_trials=n_trials, scenarios=("assurance",),
                                 population=replace(pop, agents=agents), curves=False)
        row = headline(operating_characteristics(varied), "assurance")
        rows.append({"agent prior": variant.name, **_prior_summary(agents, pop.kind),
                     "assurance": row["P(success)"], "MC SE": row["MC SE"]})
    return ds, oc, pd.DataFrame(rows)


def headline(oc: pd.DataFrame, scenario: str) -> pd.Series:
    """The row of ``scenario`` that speaks for the whole trial (a multi-arm trial's "any arm")."""
    rows = oc.loc[oc["scenario"] == scenario]
    if "arm" in rows:
        rows = rows.loc[rows["arm"] == "any arm"]
    return rows.iloc[0]


def _prior_summary(agents: dict[str, Agent], kind: str) -> dict[str, str]:
    out = {}
    for name, agent in agents.items():
        for effect, prior in agent.effects(kind).items():
            out[f"{name} {effect}"] = f"{prior.median:.2f} ({prior.lower:.2f}-{prior.upper:.2f})"
    return out

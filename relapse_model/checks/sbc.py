"""Simulation-based calibration (Talts et al. 2018).

For each replication: draw every parameter from its prior, simulate outcomes for the template
cohort's patients with the model's own generative code (uniform administrative censoring),
refit, and record the rank of each true value among ``L`` thinned posterior draws. If the
sampler and the model code are right, every parameter's ranks are uniform on 0..L.

Run the full check with ``make sbc`` (``python -m relapse_model.checks.sbc``); a bounded run is
part of the slow tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from relapse_model.cohort.cohort import Cohort
from relapse_model.common.parallel import map_replications
from relapse_model.errors import ThinDataWarning
from relapse_model.models.outcomes import simulate_outcomes, with_simulated_outcomes
from relapse_model.models.hierarchy import CURE_INTERCEPT, Names
from relapse_model.models.parameters import ParameterDraws


@dataclass(frozen=True)
class SBCResult:
    """Ranks (replication x parameter) of the true values among ``n_posterior`` posterior draws."""

    ranks: pd.DataFrame
    n_posterior: int
    divergences: np.ndarray

    def uniformity(self, bins: int = 4) -> pd.DataFrame:
        """Chi-square test of uniform ranks per parameter (``bins`` equal-width bins of 0..L)."""
        rows = []
        edges = np.linspace(0, self.n_posterior + 1, bins + 1)
        for name in self.ranks.columns:
            counts, _ = np.histogram(self.ranks[name].to_numpy(), bins=edges)
            chi2, p = stats.chisquare(counts)
            rows.append({"parameter": name, "chi2": float(chi2), "p_value": float(p),
                         "mean rank / L": float(self.ranks[name].mean() / self.n_posterior)})
        return pd.DataFrame(rows)

    def pooled_p_value(self, bins: int = 4) -> float:
        """Chi-square p-value of all parameters' ranks pooled (a single global check)."""
        edges = np.linspace(0, self.n_posterior + 1, bins + 1)
        counts, _ = np.histogram(self.ranks.to_numpy().ravel(), bins=edges)
        return float(stats.chisquare(counts).pvalue)


def _truth_table(truth: ParameterDraws) -> dict[str, float]:
    """The true value of every checked parameter, keyed by posterior variable (``name[label]``)."""
    values: dict[str, float] = {}
    if truth.has_cure:
        values[CURE_INTERCEPT] = float(truth.cure_intercept[0])
        values |= {f"{Names('cure').beta}[{c}]": float(v) for c, v in zip(truth.cure_covariates, truth.cure_beta[0])}
    for section, cause in (("relapse", truth.relapse), ("death", truth.death)):
        if cause is None:
            continue
        names = Names(section)
        if section == "relapse":
            values |= {f"{names.beta}[{c}]": float(v) for c, v in zip(cause.covariates, cause.beta[0])}
        for key, arr in cause.baseline.items():     # log_shape / log_scale, or log_rate per interval
            var = getattr(names, key)
            if arr.ndim == 1:
                values[var] = float(arr[0])
            else:
                values |= {f"{var}[{j}]": float(v) for j, v in enumerate(arr[0])}
        if section == "death":
            values |= {f"{names.beta}[{c}]": float(v) for c, v in zip(cause.covariates, cause.beta[0])}
    return values


def _posterior_values(model, names: list[str], n_posterior: int) -> dict[str, np.ndarray]:
    post = model.posterior["posterior"]
    out = {}
    for name in names:
        var, _, label = name.partition("[")
        da = post[var]
        if label:
            dim = [d for d in da.dims if d not in ("chain", "draw")][0]
            da = da.sel({dim: label.rstrip("]")}) if not label.rstrip("]").isdigit() else da.isel({dim: int(label.rstrip("]"))})
        flat = da.stack(s=("chain", "draw")).to_numpy()
        idx = np.linspace(0, flat.size - 1, n_posterior).round().astype(int)
        out[name] = flat[idx]
    return out


def run_sbc(template: Cohort, n_replications: int, *, seed: int = 0, model_kwargs: dict[str, Any] | None = None,
            priors: str | Path | None = None, draws: int = 200, tune: int = 200, chains: int = 2,
            n_posterior: int = 99, censor_months: tuple[float, float] = (24.0, 96.0),
            progress: Callable[[int, int], None] | None = None, workers: int = 1) -> SBCResult:
    """Run ``n_replications`` SBC replications on the template cohort's covariates.

    Parameters
    ----------
    template : Cohort
        Patients whose covariates are kept (outcomes are replaced by simulated ones).
    model_kwargs : dict
        Configuration of :class:`RelapseModel` (the same model generates and fits).
    n_posterior : int
        Posterior draws the true value is ranked among (thinned evenly; needs chains x draws >= it).
    workers : int, default 1
        Replications fitted at once, each in its own process (its chains then run one after the
        other). Every replication's seeds come from ``SeedSequence(seed, spawn_key=(r,))``, so
        the ranks are identical whatever the number of workers.
    """
    replicate = partial(_one_step_replication, template=template, seed=seed, model_kwargs=dict(model_kwargs or {}),
                        priors=priors, draws=draws, tune=tune, chains=chains, n_posterior=n_posterior,
                        censor_months=censor_months, cores=1 if workers > 1 else None)
    return _collect(map_replications(replicate, n_replications, workers, progress), n_posterior)


def _collect(results: list[tuple[dict[str, int], int]], n_posterior: int) -> SBCResult:
    return SBCResult(pd.DataFrame([ranks for ranks, _ in results]), n_posterior,
                     np.array([divergences for _, divergences in results]))


def _replication_seeds(seed: int, r: int) -> tuple[int, int, int]:
    """(prior, simulation, fit) seeds of replication ``r``: independent of order and of workers."""
    prior_seed, sim_seed, fit_seed = (int(x) for x in np.random.SeedSequence(seed, spawn_key=(r,))
                                      .generate_state(3, np.uint32))
    return prior_seed, sim_seed, fit_seed


def _one_step_replication(r: int, *, template: Cohort, seed: int, model_kwargs: dict[str, Any],
                          priors: str | Path | None, draws: int, tune: int, chains: int, n_posterior: int,
                          censor_months: tuple[float, float], cores: int | None) -> tuple[dict[str, int], int]:
    from relapse_model.common.paths import DEFAULT_PRIORS
    from relapse_model.models import RelapseModel

    generator = RelapseModel(priors or DEFAULT_PRIORS, **model_kwargs)
    design = generator.design(template, with_outcome=False)
    base = template.data.drop(columns=["early_relapse", "risk_group", "mrd_positive", "mrd_reason"] + template.extra_columns)
    prior_seed, sim_seed, fit_seed = _replication_seeds(seed, r)
    truth = generator.prior_parameters(n_draws=1, seed=prior_seed, cohort=template)
    rng = np.random.default_rng(sim_seed)
    sim = simulate_outcomes(truth, design, rng, censor_months=rng.uniform(*censor_months, design.n))
    cohort = Cohort.from_frame(with_simulated_outcomes(base, sim), f"SBC replication {r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinDataWarning)   # prior draws can make lopsided cohorts
        fit = RelapseModel(priors or DEFAULT_PRIORS, **model_kwargs).fit(
            cohort, draws=draws, tune=tune, chains=chains, cores=cores, random_seed=fit_seed, progressbar=False)
    values = _truth_table(truth)
    post = _posterior_values(fit, list(values), n_posterior)
    return ({name: int((post[name] < value).sum()) for name, value in values.items()},
            int(fit.posterior["sample_stats"]["diverging"].sum()))


#: Pathway parameters whose ranks SBC checks: scalars, and the early-relapse effects on response
#: and on cure (the covariate every series reports).
PATHWAY_SBC_SCALARS = ("refractory_intercept", "early_death_intercept", "mrd_positive_log_odds",
                       "mrd_unknown_log_odds", "remission_cure_intercept", "transplant_cure_shift",
                       "transplant_relapse_log_hr", "rr_death_second_relapse_log_hr")


def _pathway_truth(truth) -> dict[str, float]:
    from relapse_model.models.pathway.build import WEIBULLS

    values = {name: float(getattr(truth, name)[0]) for name in PATHWAY_SBC_SCALARS}
    for key in WEIBULLS:
        shape, scale = truth.weibull[key]
        values |= {f"{key}_log_shape": float(shape[0]), f"{key}_log_scale": float(scale[0])}
    values["refractory_beta[early_relapse]"] = float(
        truth.refractory_beta[0, truth.response_covariates.index("early_relapse")])
    values["remission_cure_beta[early_relapse]"] = float(
        truth.remission_cure_beta[0, truth.cure_covariates.index("early_relapse")])
    return values


def run_pathway_sbc(template: Cohort, n_replications: int, *, seed: int = 0, priors: str | Path | None = None,
                    draws: int = 200, tune: int = 200, chains: int = 2, n_posterior: int = 99,
                    progress: Callable[[int, int], None] | None = None, workers: int = 1) -> SBCResult:
    """SBC of the pathway model: parameters from ``priors/pathway.toml``, whole paths simulated
    for the template's patients by the model's own generative code
    (:func:`relapse_model.models.pathway.simulate.simulate_cohort`, administrative censoring
    uniform on 24-96 months), refit, ranks of the true values (:data:`PATHWAY_SBC_SCALARS`, every
    Weibull baseline, the early-relapse effects). The template is taken as one study.
    ``workers``: as in :func:`run_sbc` (identical ranks for any number)."""
    replicate = partial(_pathway_replication, template=template, seed=seed, priors=priors, draws=draws, tune=tune,
                        chains=chains, n_posterior=n_posterior, cores=1 if workers > 1 else None)
    return _collect(map_replications(replicate, n_replications, workers, progress), n_posterior)


def _pathway_replication(r: int, *, template: Cohort, seed: int, priors: str | Path | None, draws: int, tune: int,
                         chains: int, n_posterior: int, cores: int | None) -> tuple[dict[str, int], int]:
    from relapse_model.cohort.schema import COLUMNS
    from relapse_model.models.pathway.model import PathwayModel
    from relapse_model.models.pathway.parameters import from_priors
    from relapse_model.models.pathway.simulate import simulate_cohort

    covariates = template.data[[c.name for c in COLUMNS]].assign(study="SBC")
    model = PathwayModel(priors)
    design = model.design(Cohort.from_frame(covariates, "SBC template"))
    response = tuple(c for c in design.covariates if c not in ("mrd_positive", "mrd_unknown"))
    prior_seed, sim_seed, fit_seed = _replication_seeds(seed, r)
    truth = from_priors(model.priors, response, design.covariates, 1, n_draws=1, seed=prior_seed)
    cohort = Cohort.from_frame(simulate_cohort(truth, covariates, design, seed=sim_seed), f"SBC replication {r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinDataWarning)   # prior draws can make lopsided cohorts
        fit = PathwayModel(priors).fit(cohort, draws=draws, tune=tune, chains=chains, cores=cores,
                                       random_seed=fit_seed, progressbar=False)
    values = _pathway_truth(truth)
    post = _posterior_values(fit, list(values), n_posterior)
    return ({name: int((post[name] < value).sum()) for name, value in values.items()},
            int(fit.posterior["sample_stats"]["diverging"].sum()))

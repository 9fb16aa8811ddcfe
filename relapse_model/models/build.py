"""Building the PyMC model from a design, a prior set and a configuration.

All coefficients are non-centred (beta = mu + sigma * z with z standard), which samples cleanly
when the data say little about a coefficient. Cytogenetic classes are nested in risk groups:
class effect = group mean (0 for intermediate) + class_sd * z_class, over every class, so a rare
class borrows strength from its group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.errors import InputError
from relapse_model.models import baselines as bl
from relapse_model.models.design import CLASS_GROUP_INDEX, EFFECT_GROUPS, Design
from relapse_model.models.likelihood import competing_risks_loglik, cure_survival_loglik
from relapse_model.priors.spec import Prior, PriorSet


def _scalar(name: str, prior: Prior) -> pt.TensorVariable:
    p = prior.params
    if prior.dist == "halfnormal":
        return pm.HalfNormal(name, sigma=p["sigma"])
    if prior.dist == "lognormal":
        return pm.LogNormal(name, mu=p["mu"], sigma=p["sigma"])
    z = pm.Normal(f"{name}_z", 0.0, 1.0) if prior.dist == "normal" else \
        pm.StudentT(f"{name}_z", nu=p["nu"], mu=0.0, sigma=1.0)
    return pm.Deterministic(name, p["mu"] + p["sigma"] * z)


def _vector(name: str, priors: list[Prior], dim: str) -> pt.TensorVariable:
    """Non-centred vector of coefficients (all normal, or all Student-t)."""
    dists = {p.dist for p in priors}
    if not dists <= {"normal", "student_t"} or len(dists) > 1:
        keys = ", ".join(p.key for p in priors)
        raise InputError.single(priors[0].key.split(".")[0], f"coefficients {keys} must all be "
                                "'normal' or all 'student_t' (non-centred vector)")
    mu = np.array([p.params["mu"] for p in priors])
    sigma = np.array([p.params["sigma"] for p in priors])
    if dists == {"normal"}:
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dim)
    else:
        z = pm.StudentT(f"{name}_z", nu=np.array([p.params["nu"] for p in priors]), mu=0.0, sigma=1.0, dims=dim)
    return pm.Deterministic(name, mu + sigma * z, dims=dim)


def _class_and_study(section: str, priors: PriorSet, design: Design) -> pt.TensorVariable:
    group_mean = _vector(f"{section}_group", [priors[section, f"risk_group.{g}"] for g in EFFECT_GROUPS],
                         "risk_group")
    class_sd = _scalar(f"{section}_class_sd", priors[section, "class_sd"])
    class_z = pm.Normal(f"{section}_class_z", 0.0, 1.0, dims="cytogenetics")
    group_of_class = pt.concatenate([pt.zeros(1), group_mean])[CLASS_GROUP_INDEX]
    class_effect = pm.Deterministic(f"{section}_class", group_of_class + class_sd * class_z,
                                    dims="cytogenetics")
    eta = class_effect[design.class_index]
    if len(design.studies) > 1:
        study_sd = _scalar(f"{section}_study_sd", priors[section, "study_sd"])
        study_z = pm.Normal(f"{section}_study_z", 0.0, 1.0, dims="study")
        study_effect = pm.Deterministic(f"{section}_study", study_sd * study_z, dims="study")
        eta = eta + study_effect[design.study_index]
    return eta


def _linear(section: str, covariates: tuple[str, ...], priors: PriorSet, design: Design,
            dim: str) -> pt.TensorVariable:
    if not covariates:
        return pt.zeros(design.n)
    beta = _vector(f"{section}_beta", [priors[section, c] for c in covariates], dim)
    cols = [design.covariates.index(c) for c in covariates]
    return pt.dot(pt.as_tensor(design.X[:, cols]), beta)


def _baseline(section: str, kind: str, priors: PriorSet, design: Design,
              grid: bl.PiecewiseGrid) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """(log h0(t_i), H0(t_i)) of one cause at the observed times."""
    if kind == "weibull":
        log_shape = _scalar(f"{section}_log_shape", priors[section, "weibull_log_shape"])
        log_scale = _scalar(f"{section}_log_scale", priors[section, "weibull_log_scale"])
        log_t = pt.as_tensor(np.log(design.time))
        return (bl.weibull_log_hazard(log_t, log_shape, log_scale, xp=pt),
                bl.weibull_cumulative_hazard(log_t, log_shape, log_scale, xp=pt))
    first = priors[section, "piecewise_log_rate"].params
    rw_sd = _scalar(f"{section}_rw_sd", priors[section, "piecewise_rw_sd"])
    z = pm.Normal(f"{section}_rate_z", 0.0, 1.0, dims="interval")
    # random walk on the log rate: interval 0 from its prior, later ones step by rw_sd * z
    steps = pt.concatenate([[first["mu"] + first["sigma"] * z[0]], rw_sd * z[1:]])
    log_rate = pm.Deterministic(f"{section}_log_rate", pt.cumsum(steps), dims="interval")
    return (bl.piecewise_log_hazard(pt.as_tensor(grid.interval(design.time)), log_rate, xp=pt),
            bl.piecewise_cumulative_hazard(pt.as_tensor(grid.exposure(design.time)), log_rate, xp=pt))


def build_pymc_model(design: Design, priors: PriorSet, config: dict[str, Any]) -> pm.Model:
    """The PyMC model for ``config["outcome"]`` in {"competing", "cure"}.

    ``cure`` fits one endpoint (EFS or OS) with an optional mixture cure fraction;
    ``competing`` fits cause-specific hazards of relapse (with the cure fraction acting on
    relapse) and of death without relapse.
    """
    grid = bl.PiecewiseGrid(tuple(config["grid"]))
    relapse_covs = tuple(config["relapse_covariates"])
    death_covs = tuple(config["death_covariates"])
    coords = {
        "cure_covariate": list(design.covariates),
        "relapse_covariate": list(relapse_covs),
        "death_covariate": list(death_covs),
        "risk_group": list(EFFECT_GROUPS),
        "cytogenetics": list(CYTOGENETICS),
        "study": list(design.studies),
        "interval": [f"{a:g}-" for a in grid.cuts],
    }
    with pm.Model(coords=coords) as model:
        eta_cure = None
        eta_relapse = _linear("relapse", relapse_covs, priors, design, "relapse_covariate")
        hierarchy = config.get("hierarchy", True)
        if config["cure"]:
            eta_cure = (_scalar("cure_intercept", priors["cure", "intercept"])
                        + _linear("cure", design.covariates, priors, design, "cure_covariate"))
            if hierarchy:
                eta_cure = eta_cure + _class_and_study("cure", priors, design)
        elif hierarchy:
            eta_relapse = eta_relapse + _class_and_study("relapse", priors, design)
        log_h0, cum_h0 = _baseline("relapse", config["baseline"], priors, design, grid)
        log_h_r, cum_h_r = log_h0 + eta_relapse, cum_h0 * pt.exp(eta_relapse)

        if config["outcome"] == "competing":
            eta_death = _linear("death", death_covs, priors, design, "death_covariate")
            log_hd0, cum_hd0 = _baseline("death", config["baseline"], priors, design, grid)
            cause = pt.as_tensor(design.cause)

            def logp(value, *params):
                e_cure = params[0] if config["cure"] else None
                lh_r, ch_r, lh_d, ch_d = params[-4:]
                return competing_risks_loglik(cause, lh_r, ch_r, lh_d, ch_d, e_cure, xp=pt)

            params = ([eta_cure] if config["cure"] else []) + [
                log_h_r, cum_h_r, log_hd0 + eta_death, cum_hd0 * pt.exp(eta_death)]
        else:
            event = pt.as_tensor(design.event.astype(float))

            def logp(value, *params):
                e_cure = params[0] if config["cure"] else None
                return cure_survival_loglik(event, params[-2], params[-1], e_cure, xp=pt)

            params = ([eta_cure] if config["cure"] else []) + [log_h_r, cum_h_r]
        pm.CustomDist("outcome", *params, logp=logp, observed=design.time)
    return model

"""Building the PyMC model from a design, a prior set and a model specification.

All coefficients are non-centred (beta = mu + sigma * z with z standard), which samples cleanly
when the data say little about a coefficient. The class / study hierarchy is
:mod:`relapse_model.models.hierarchy`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.models import baselines as bl
from relapse_model.models.design import Design
from relapse_model.models.hierarchy import (CLASS_SD_KEY, CURE_INTERCEPT, EFFECT_GROUPS, GROUP_PRIOR_KEYS, STUDY_SD_KEY,
                                            Names, class_effects, intercept_and_study_z)
from relapse_model.models.likelihood import competing_risks_loglik, cure_survival_loglik
from relapse_model.models.spec import ModelSpec
from relapse_model.priors.spec import PriorSet, vector_variable


def _class_effect(section: str, priors: PriorSet, design: Design) -> pt.TensorVariable:
    """Per-patient effect of cytogenetic class (nested in risk group), for ``section``."""
    names = Names(section)
    group_mean = vector_variable(names.group, [priors[section, k] for k in GROUP_PRIOR_KEYS], "risk_group")
    class_sd = priors[section, CLASS_SD_KEY].variable(names.class_sd)
    class_z = pm.Normal(names.class_z, 0.0, 1.0, dims="cytogenetics")
    effect = pm.Deterministic(names.class_effect, class_effects(group_mean, class_sd, class_z, xp=pt),
                              dims="cytogenetics")
    return effect[design.class_index]


def class_and_study(section: str, priors: PriorSet, design: Design) -> pt.TensorVariable:
    """Per-patient effect of cytogenetic class (nested in risk group) and study, for ``section``."""
    names = Names(section)
    eta = _class_effect(section, priors, design)
    if len(design.studies) > 1:
        study_sd = priors[section, STUDY_SD_KEY].variable(names.study_sd)
        study_z = pm.Normal(names.study_z, 0.0, 1.0, dims="study")
        study_effect = pm.Deterministic(names.study_effect, study_sd * study_z, dims="study")
        eta = eta + study_effect[design.study_index]
    return eta


def intercept_and_effects(section: str, intercept_name: str, covariates: tuple[str, ...], priors: PriorSet,
                          design: Design, hierarchy: bool) -> pt.TensorVariable:
    """Per-patient linear predictor of a logit: intercept + X beta over ``covariates``, plus the
    class and study effects when ``hierarchy``."""
    if hierarchy and decorrelates_intercept(section, priors, design):
        linear = linear_predictor(section, covariates, priors, design)
        return linear + intercept_class_and_study(section, intercept_name, priors, design)
    eta = priors[section, "intercept"].variable(intercept_name) + linear_predictor(section, covariates, priors, design)
    return eta + class_and_study(section, priors, design) if hierarchy else eta


def decorrelates_intercept(section: str, priors: PriorSet, design: Design) -> bool:
    """Whether :func:`intercept_class_and_study` samples ``section``'s intercept and study
    effects in decorrelated coordinates: several studies and a normal intercept prior."""
    return len(design.studies) > 1 and priors[section, "intercept"].dist == "normal"


def intercept_class_and_study(section: str, intercept_name: str, priors: PriorSet,
                              design: Design) -> pt.TensorVariable:
    """Per-patient intercept + class effect + study effect of ``section``, the intercept and the
    study effects drawn through :func:`~relapse_model.models.hierarchy.intercept_and_study_z`
    (the same prior as the intercept's own variable plus :func:`class_and_study`; requires
    :func:`decorrelates_intercept`). ``intercept_name``, its ``_z`` and the study variables are
    recorded under their usual names."""
    names = Names(section)
    eta = _class_effect(section, priors, design)
    study_sd = priors[section, STUDY_SD_KEY].variable(names.study_sd)
    prior = priors[section, "intercept"].params
    level_z = pm.Normal(names.level_z, 0.0, 1.0)
    intercept_u = pm.Normal(f"{intercept_name}_u", 0.0, 1.0)
    # a fixed shape, not dims: with dims the study count becomes a shared variable of the logp,
    # which nutpie passes at run time and our compile cache then cannot serve
    deviation_z = pm.ZeroSumNormal(names.study_deviation_z, sigma=1.0, shape=len(design.studies))
    intercept, study_z = intercept_and_study_z(prior["mu"], prior["sigma"], study_sd, level_z, intercept_u,
                                               deviation_z, xp=pt)
    intercept = pm.Deterministic(intercept_name, intercept)
    pm.Deterministic(f"{intercept_name}_z", (intercept - prior["mu"]) / prior["sigma"])
    study_z = pm.Deterministic(names.study_z, study_z, dims="study")
    study_effect = pm.Deterministic(names.study_effect, study_sd * study_z, dims="study")
    return intercept + eta + study_effect[design.study_index]


def linear_predictor(section: str, covariates: tuple[str, ...], priors: PriorSet, design: Design) -> pt.TensorVariable:
    """X beta over ``covariates`` with the non-centred priors of ``section`` (zeros if none)."""
    if not covariates:
        return pt.zeros(design.n)
    names = Names(section)
    beta = vector_variable(names.beta, [priors[section, c] for c in covariates], names.covariate_dim)
    cols = [design.covariates.index(c) for c in covariates]
    return design_product(design.X[:, cols], beta)


def design_product(X: np.ndarray, beta) -> pt.TensorVariable:
    """``X @ beta`` as an elementwise product summed over columns: without a linked BLAS,
    PyTensor's Gemv runs from Python and costs more than the product itself (n x a few columns)."""
    return (pt.as_tensor(X) * beta).sum(axis=-1)


def _baseline(section: str, kind: str, priors: PriorSet, design: Design,
              grid: bl.PiecewiseGrid) -> tuple[pt.TensorVariable, Callable[[pt.TensorVariable], pt.TensorVariable]]:
    """(log h0(t_i), eta -> H0(t_i) e^eta) of one cause at the observed times."""
    names = Names(section)
    if kind == "weibull":
        log_shape, log_scale = _weibull_parameters(section, priors)
        log_t = pt.as_tensor(np.log(design.time))
        log_cum = pt.exp(log_shape) * (log_t - log_scale)
        # one exp per row, not exp(log H0) * exp(eta): the exponentials are most of a gradient's cost
        return bl.weibull_log_hazard(log_t, log_shape, log_scale, xp=pt), lambda eta: pt.exp(log_cum + eta)
    first = priors[section, "piecewise_log_rate"].params
    rw_sd = priors[section, "piecewise_rw_sd"].variable(names.rw_sd)
    z = pm.Normal(names.rate_z, 0.0, 1.0, dims="interval")
    # random walk on the log rate: interval 0 from its prior, later ones step by rw_sd * z
    steps = pt.concatenate([[first["mu"] + first["sigma"] * z[0]], rw_sd * z[1:]])
    log_rate = pm.Deterministic(names.log_rate, pt.cumsum(steps), dims="interval")
    cum = bl.piecewise_cumulative_hazard(pt.as_tensor(grid.exposure(design.time)), log_rate, xp=pt)
    return bl.piecewise_log_hazard(pt.as_tensor(grid.interval(design.time)), log_rate, xp=pt), lambda eta: cum * pt.exp(eta)


def _weibull_parameters(section: str, priors: PriorSet) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """(log shape, log scale) of ``section``'s Weibull baseline hazard."""
    names = Names(section)
    return (priors[section, "weibull_log_shape"].variable(names.log_shape),
            priors[section, "weibull_log_scale"].variable(names.log_scale))


def model_coords(spec: ModelSpec, design: Design) -> dict[str, list[str]]:
    """Named dimensions of the model's variables."""
    return {
        Names("cure").covariate_dim: list(design.covariates),
        Names("relapse").covariate_dim: list(spec.relapse_terms),
        Names("death").covariate_dim: list(spec.death_covariates),
        "risk_group": list(EFFECT_GROUPS),
        "cytogenetics": list(CYTOGENETICS),
        "study": list(design.studies),
        "interval": [f"{a:g}-" for a in spec.grid],
    }


def _cure_predictor(spec: ModelSpec, priors: PriorSet, design: Design) -> pt.TensorVariable | None:
    if not spec.cure:
        return None
    return intercept_and_effects("cure", CURE_INTERCEPT, design.covariates, priors, design, spec.hierarchy)


def build_pymc_model(design: Design, priors: PriorSet, spec: ModelSpec) -> pm.Model:
    """The PyMC model of ``spec``.

    ``outcome="cure"`` fits one endpoint (EFS or OS) with an optional mixture cure fraction;
    ``outcome="competing"`` fits cause-specific hazards of relapse (with the cure fraction acting
    on relapse) and of death without relapse. Every row, censored or not, is one term of the
    ``outcome`` log-likelihood. The default model (competing risks, cure, Weibull baselines)
    evaluates it with one compiled Op (:mod:`relapse_model.models.weibull_competing`), the others
    with PyTensor operations; both give the same log density to rounding (tested).
    """
    if spec.competing and spec.cure and spec.baseline == "weibull":
        return _weibull_competing_model(design, priors, spec)
    return _graph_model(design, priors, spec)


def _graph_model(design: Design, priors: PriorSet, spec: ModelSpec) -> pm.Model:
    """:func:`build_pymc_model` with the likelihood written as PyTensor operations."""
    grid = bl.PiecewiseGrid(spec.grid)
    with pm.Model(coords=model_coords(spec, design)) as model:
        # the order variables are created in fixes the sampler's parameter vector, hence the draws
        eta_relapse = linear_predictor("relapse", spec.relapse_terms, priors, design)
        eta_cure = _cure_predictor(spec, priors, design)
        if spec.hierarchy and not spec.cure:
            eta_relapse = eta_relapse + class_and_study("relapse", priors, design)
        log_h0, cum_h = _baseline("relapse", spec.baseline, priors, design, grid)
        hazards = [log_h0 + eta_relapse, cum_h(eta_relapse)]
        if spec.competing:
            eta_death = linear_predictor("death", spec.death_covariates, priors, design)
            log_hd0, cum_hd = _baseline("death", spec.baseline, priors, design, grid)
            hazards += [log_hd0 + eta_death, cum_hd(eta_death)]
            observed = pt.as_tensor(design.cause)
            loglik = competing_risks_loglik
        else:
            observed = pt.as_tensor(design.event.astype(float))
            loglik = cure_survival_loglik
        params = ([eta_cure] if spec.cure else []) + hazards

        def logp(value, *params):
            e_cure = params[0] if spec.cure else None
            return loglik(observed, *params[-len(hazards):], e_cure, xp=pt)

        pm.CustomDist("outcome", *params, logp=logp, observed=design.time)
    return model


def _weibull_competing_model(design: Design, priors: PriorSet, spec: ModelSpec) -> pm.Model:
    """The default model (competing risks, cure on relapse, Weibull baselines), its likelihood
    evaluated by the compiled Op of :mod:`relapse_model.models.weibull_competing`.

    The same variables as :func:`build_pymc_model`'s general path, created in the same order
    (which fixes the sampler's parameter vector), and the same likelihood to rounding.
    """
    from relapse_model.models.weibull_competing import weibull_competing_loglik

    with pm.Model(coords=model_coords(spec, design)) as model:
        eta_relapse = linear_predictor("relapse", spec.relapse_terms, priors, design)
        eta_cure = _cure_predictor(spec, priors, design)
        relapse_weibull = _weibull_parameters("relapse", priors)
        eta_death = linear_predictor("death", spec.death_covariates, priors, design)
        death_weibull = _weibull_parameters("death", priors)
        cause = pt.as_tensor(design.cause)
        log_t = pt.as_tensor(np.log(design.time))

        def logp(value, *params):
            return weibull_competing_loglik(cause, log_t, *params)

        pm.CustomDist("outcome", eta_cure, eta_relapse, eta_death, *relapse_weibull, *death_weibull,
                      logp=logp, observed=design.time)
    return model

"""The PyMC model of the pathway after first relapse.

**Semi-Markov, clock reset at transplant.** Hazards in remission run on time since the response
assessment; after transplant they run on time since transplant; in the relapsed/refractory state
on time since entering it. Why not Markov (one clock from relapse): transplant-related
mortality and relapse after an allograft are governed by time since the graft (conditioning
toxicity, graft-versus-host disease and immune reconstitution peak in the first months after
HSCT whatever the date of relapse), and patients are transplanted at different times, so a
clock from relapse would smear that early hazard. Time to transplant still matters, and enters
in two ways: the cure probability at transplant is updated by the relapse-free time already
survived (the posterior log odds ``eta_cure + H_R(u_s)``, so patients who reach transplant are
not credited with a benefit that is only survival to transplant: no immortal-time bias), and a
``log_months_to_transplant`` modifier of the transplant's cure effect.

Transitions and their predictors (equations in :mod:`relapse_model.models.pathway.likelihood`):
response (multinomial logit: refractory and early death vs response, with the baseline
covariates; cytogenetic class in risk group and study on the refractory logit), MRD category
among responders, remission (cure on relapse with the covariates, MRD, and class in risk group
and study; Weibull relapse, death and transplant hazards), post-transplant (cure shift delta with MRD and time-to-transplant
modifiers, relapse log hazard ratio gamma, own death baseline), relapsed/refractory (death, with
a log hazard ratio for a second relapse vs refractory disease; salvage transplant). All
coefficients are non-centred. Each patient's whole path is one term of ``pathway``, the
pointwise log-likelihood (so ``arviz.loo`` works).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from relapse_model.cohort.vocabulary import CYTOGENETICS
from relapse_model.models.build import design_product, intercept_and_effects, linear_predictor
from relapse_model.models.design import Design
from relapse_model.models.hierarchy import EFFECT_GROUPS, Names
from relapse_model.models.pathway.likelihood import PathwayPredictors, Sojourns, Weibull, path_loglik
from relapse_model.priors.spec import PriorSet, vector_variable

#: Covariates of the response model (no MRD: it is measured in remission).
MRD_COVARIATES = ("mrd_positive", "mrd_unknown")
#: Modifiers of the transplant's cure effect.
TRANSPLANT_MODIFIERS = ("mrd_positive", "mrd_unknown", "log_months_to_transplant")
#: Time to transplant (months from the assessment) at which the modifier is 0.
TRANSPLANT_TIME_CENTRE = 3.0
#: Weibull transitions: posterior name prefix -> priors section.
WEIBULLS = {"relapse": "remission_relapse", "death": "remission_death", "transplant": "transplant",
            "transplant_death": "transplant_death", "rr_death": "refractory_death",
            "rr_transplant": "refractory_transplant"}


@dataclass(frozen=True)
class PathwayData:
    """What the PyMC model is built from: the design (baseline covariates and MRD columns, classes,
    studies) and every patient's sojourns."""

    design: Design
    sojourns: Sojourns

    @property
    def response_covariates(self) -> tuple[str, ...]:
        return tuple(c for c in self.design.covariates if c not in MRD_COVARIATES)

    def modifiers(self) -> np.ndarray:
        """(n, 3) MRD-positive, MRD-unknown and log(time to transplant / 3) of transplanted patients."""
        so = self.sojourns
        log_time = np.where(so.is_transplanted > 0, np.log(so.u / TRANSPLANT_TIME_CENTRE), 0.0)
        return np.column_stack([so.mrd == 1, so.mrd == 2, log_time]).astype(float)


def pathway_coords(data: PathwayData) -> dict[str, list[str]]:
    """Named dimensions of the model's variables."""
    return {
        Names("refractory").covariate_dim: list(data.response_covariates),
        Names("early_death").covariate_dim: list(data.response_covariates),
        Names("remission_cure").covariate_dim: list(data.design.covariates),
        "transplant_modifier": list(TRANSPLANT_MODIFIERS),
        "risk_group": list(EFFECT_GROUPS),
        "cytogenetics": list(CYTOGENETICS),
        "study": list(data.design.studies),
    }


def _weibull(name: str, section: str, priors: PriorSet) -> Weibull:
    return Weibull(priors[section, "weibull_log_shape"].variable(f"{name}_log_shape"),
                   priors[section, "weibull_log_scale"].variable(f"{name}_log_scale"))


def _response_predictors(data: PathwayData, priors: PriorSet, hierarchy: bool):
    design, covs = data.design, data.response_covariates
    eta_n = intercept_and_effects("refractory", "refractory_intercept", covs, priors, design, hierarchy)
    eta_e = priors["early_death", "intercept"].variable("early_death_intercept") + linear_predictor(
        "early_death", covs, priors, design)
    mrd = (priors["mrd", "positive_log_odds"].variable("mrd_positive_log_odds"),
           priors["mrd", "unknown_log_odds"].variable("mrd_unknown_log_odds"))
    return eta_n, eta_e, mrd


def _transplant_effects(data: PathwayData, priors: PriorSet):
    shift = priors["transplant_cure", "shift"].variable("transplant_cure_shift")
    modifier = vector_variable("transplant_cure_modifier", [priors["transplant_cure", k] for k in TRANSPLANT_MODIFIERS],
                               "transplant_modifier")
    delta = shift + design_product(data.modifiers(), modifier)
    gamma = priors["transplant_relapse", "log_hazard_ratio"].variable("transplant_relapse_log_hr")
    return delta, gamma


def build_pathway_model(data: PathwayData, priors: PriorSet, *, hierarchy: bool = True) -> pm.Model:
    """The PyMC model; the observed ``pathway`` has one log-likelihood term per patient."""
    design = data.design
    with pm.Model(coords=pathway_coords(data)) as model:
        # the order variables are created in fixes the sampler's parameter vector, hence the draws
        eta_n, eta_e, mrd = _response_predictors(data, priors, hierarchy)
        eta_c = intercept_and_effects("remission_cure", "remission_cure_intercept", design.covariates, priors,
                                      design, hierarchy)
        w = {name: _weibull(name, section, priors) for name, section in WEIBULLS.items()}
        delta, gamma = _transplant_effects(data, priors)
        theta = priors["refractory_death", "second_relapse"].variable("rr_death_second_relapse_log_hr")
        predictors = PathwayPredictors(eta_n, eta_e, mrd, eta_c, w["relapse"], w["death"], w["transplant"], delta,
                                       gamma, w["transplant_death"], w["rr_death"], theta, w["rr_transplant"])
        params = flatten(predictors)
        so = data.sojourns

        def logp(value, *flat):
            return path_loglik(so, unflatten(flat), xp=pt)

        pm.CustomDist("pathway", *params, logp=logp, observed=np.zeros(design.n))
    return model


def flatten(p: PathwayPredictors) -> list:
    """The predictors as a flat list (the CustomDist's parameters), in :func:`unflatten`'s order."""
    out = [p.eta_refractory, p.eta_early_death, p.mrd_logits[0], p.mrd_logits[1], p.eta_cure, p.delta, p.gamma,
           p.theta]
    for wb in (p.relapse, p.death, p.transplant, p.transplant_death, p.rr_death, p.rr_transplant):
        out += [wb.log_shape, wb.log_scale]
    return out


def unflatten(flat) -> PathwayPredictors:
    """Inverse of :func:`flatten`."""
    eta_n, eta_e, m_p, m_u, eta_c, delta, gamma, theta = flat[:8]
    wb = [Weibull(flat[8 + 2 * k], flat[9 + 2 * k]) for k in range(6)]
    return PathwayPredictors(eta_n, eta_e, (m_p, m_u), eta_c, wb[0], wb[1], wb[2], delta, gamma, wb[3], wb[4], theta,
                             wb[5])

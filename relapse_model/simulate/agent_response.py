"""What each agent's ``[pathway]`` prior implies for the response rate in its target group.

For every bundled agent: the fitted pathway model's response rate (CR2 / CRi) with standard
re-induction among the target patients of a cohort (posterior), and the rate with the agent
added (posterior paired with draws of the agent's effect prior: the prior-predictive response
rate), beside the published figure the prior was built from. Closed form per draw and patient
(the response probabilities of the model), no path simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relapse_model.cohort.cohort import Cohort
from relapse_model.simulate.agents import Agent, agent_by_name, available_agents


def _response_probability(eta_n: np.ndarray, eta_e: np.ndarray, response: np.ndarray | float = 0.0,
                          early_death: np.ndarray | float = 0.0) -> np.ndarray:
    """P(response) with the agent's log odds ratios of response and early death (as in the simulator)."""
    return 1.0 / (1.0 + np.exp(eta_n - response) + np.exp(eta_e - response + early_death))


def agent_response_rates(model, cohort: Cohort, agents: list[str] | None = None, *, max_draws: int = 1000,
                         seed: int = 0) -> pd.DataFrame:
    """One row per agent: target group size, standard-care and prior-predictive response rates
    (mean and 95% interval) and the published rate.

    Parameters
    ----------
    model : PathwayModel
        A fitted pathway model.
    cohort : Cohort
        Patients whose target group is used (e.g. the bundled cohort the model was fitted to).
    agents : list of str, optional
        Agent names (default: every bundled agent).
    max_draws : int
        Posterior draws used.
    seed : int
        Seed of the agent-effect draws.
    """
    from relapse_model.models.pathway.parameters import patient_predictors

    if not model.spec.pathway:
        raise TypeError("agent_response_rates needs a fitted pathway model")
    params = model.parameters(max_draws)
    pp = patient_predictors(params, model.design(cohort))
    rng = np.random.default_rng(seed)
    rows = []
    for name in agents or list(available_agents()):
        agent: Agent = agent_by_name(name)
        target = agent.in_target(cohort.data)
        if not target.any():
            continue
        eta_n, eta_e = pp.eta_refractory[:, target], pp.eta_early_death[:, target]
        effects = agent.log_effect_draws(rng, params.n_draws, "prior", "pathway")
        standard = _response_probability(eta_n, eta_e).mean(axis=1)
        treated = _response_probability(eta_n, eta_e, effects["response_or"][:, None],
                                        effects["early_death_or"][:, None]).mean(axis=1)
        rows.append({
            "agent": name, "target group": agent.target_description, "patients": int(target.sum()),
            "standard care": float(standard.mean()), "standard care lower": float(np.quantile(standard, 0.025)),
            "standard care upper": float(np.quantile(standard, 0.975)),
            "with agent (prior predictive)": float(treated.mean()),
            "with agent lower": float(np.quantile(treated, 0.025)),
            "with agent upper": float(np.quantile(treated, 0.975)),
            "published": agent.published_response_rate, "published figure": agent.published_response,
        })
    return pd.DataFrame(rows)

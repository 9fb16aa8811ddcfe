"""Hierarchical Bayesian survival models: design, baselines, likelihoods, PyMC model, prediction."""

from relapse_model.models.model import DEFAULT_CONFIG, NotFittedError, RelapseModel

__all__ = ["DEFAULT_CONFIG", "NotFittedError", "RelapseModel"]

"""Prior and agent specification files (the files live in the top-level ``priors/`` folder)."""

from relapse_model.priors.spec import Prior, PriorSet, load_priors

__all__ = ["Prior", "PriorSet", "load_priors"]

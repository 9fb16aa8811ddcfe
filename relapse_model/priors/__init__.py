"""Prior and agent specification files (the files live in the top-level ``priors/`` folder)."""

from relapse_model.priors.spec import Prior, PriorSet, load_priors, parse_priors, vector_variable

__all__ = ["Prior", "PriorSet", "load_priors", "parse_priors", "vector_variable"]

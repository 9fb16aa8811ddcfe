"""Leukaemia-stemness scores (LSC17, pLSC6) from gene expression."""

from relapse_model.scores.stemness import call_high, read_expression, stemness_score, weights

__all__ = ["call_high", "read_expression", "stemness_score", "weights"]

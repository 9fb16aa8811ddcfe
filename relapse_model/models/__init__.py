"""Hierarchical Bayesian survival models: specification, design, baselines, likelihoods, the PyMC
model, convergence diagnostics and prediction.

``RelapseModel`` loads PyMC and ArviZ on first use, so importing the specifications
(:mod:`relapse_model.models.spec`) stays cheap for the command line.
"""

from relapse_model.common.lazy import lazy_getattr

_LAZY = {
    "RelapseModel": "relapse_model.models.model",
    "NotFittedError": "relapse_model.models.model",
    "PathwayModel": "relapse_model.models.pathway.model",
    "ModelSpec": "relapse_model.models.spec",
    "SamplerSpec": "relapse_model.models.spec",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
__all__ = list(_LAZY)

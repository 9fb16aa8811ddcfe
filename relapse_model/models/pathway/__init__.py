"""The multi-state pathway model after first relapse (issue 11): response to re-induction, MRD in
remission, allogeneic HSCT as a time-dependent transition, cure, second relapse and death.

Modules: ``paths`` (observed paths from a cohort), ``likelihood`` (each path's log-likelihood),
``build`` (the PyMC model), ``parameters`` (posterior draws as arrays), ``simulate`` (the
model's generative code), ``predict`` (state occupation, response, HSCT, EFS, OS) and ``model``
(:class:`PathwayModel`).
"""

from relapse_model.common.lazy import lazy_getattr

_LAZY = {"PathwayModel": "relapse_model.models.pathway.model"}

__getattr__ = lazy_getattr(__name__, _LAZY)
__all__ = list(_LAZY)

"""relapse-model: Bayesian relapse-risk modelling and survival simulation for relapsed
acute myeloid leukaemia in children and adolescents.

The data flow is one way: cohort -> scores -> model -> posterior -> simulation -> report.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relapse-model")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from relapse_model.cohort import Cohort, MRDRules, load_cohort  # noqa: E402
from relapse_model.errors import InputError  # noqa: E402

__all__ = ["Cohort", "InputError", "MRDRules", "__version__", "load_cohort"]

"""relapse-model: Bayesian relapse-risk modelling and survival simulation for relapsed
acute myeloid leukaemia in children and adolescents.

The data flow is one way: cohort -> scores -> model -> posterior -> simulation -> report, and
the sub-packages are layers in that order: ``common`` (helpers every layer uses), ``cohort``,
``scores``, ``priors``, ``models`` (ModelSpec / SamplerSpec, the PyMC model, diagnostics,
prediction), ``reference`` (the synthetic reference cohorts), ``checks`` (one check sequence,
returning data), ``simulate`` (virtual trials), ``report`` (figures, the report's stages) and
``cli``. A module imports only its own layer and lower ones (``tests/test_layers.py``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relapse-model")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from relapse_model.cohort import Cohort, MRDRules, load_cohort, load_patients  # noqa: E402
from relapse_model.common.lazy import lazy_getattr  # noqa: E402
from relapse_model.errors import InputError  # noqa: E402

# The research-script API in one namespace; modelling, simulation and reports import PyMC and
# friends, so they load on first use and the command line starts fast.
_LAZY = {
    "load_bundled": "relapse_model.cohort.bundled",
    "RelapseModel": "relapse_model.models",
    "ModelSpec": "relapse_model.models.spec",
    "SamplerSpec": "relapse_model.models.spec",
    "PathwayModel": "relapse_model.models.pathway",
    "load_trial_spec": "relapse_model.simulate.spec",
    "with_overrides": "relapse_model.simulate.spec",
    "simulate_trials": "relapse_model.simulate.engine",
    "operating_characteristics": "relapse_model.report.readable",
    "ReportSpec": "relapse_model.report.spec",
    "load_report_spec": "relapse_model.report.spec",
    "build_report": "relapse_model.report.build",
}


__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["Cohort", "InputError", "MRDRules", "__version__", "load_cohort", "load_patients", *_LAZY]

"""The model and sampler specifications: one frozen, validated definition of every setting.

The Python API (``RelapseModel(spec=...)`` or keyword overrides), the command line, report specs
and saved fits all go through :class:`ModelSpec` and :class:`SamplerSpec`, so each setting has
its default, its allowed values and its check written once. A bad value is an
:class:`~relapse_model.errors.InputError` naming the key.
"""

from __future__ import annotations

import json
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from relapse_model.common.strict import StrictModel
from relapse_model.errors import InputError
from relapse_model.models.baselines import DEFAULT_GRID_MONTHS, PiecewiseGrid
from relapse_model.models.design import covariate_names
from relapse_model.models.sampling import DEFAULT_SAMPLER
from relapse_model.priors.spec import COVARIATES


class _Frozen(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Frozen):
    """What model to fit.

    Attributes
    ----------
    outcome : {"competing", "cure", "pathway"}
        ``competing``: cause-specific hazards of relapse and of death without relapse;
        ``cure``: one endpoint (``endpoint``); ``pathway``: the multi-state model of the course
        after relapse (:mod:`relapse_model.models.pathway`: response, MRD, transplant as a
        time-dependent transition, cure, second relapse, death), which uses ``stemness`` and
        ``hierarchy`` and refuses the one-step settings it has no use for.
    endpoint : {"efs", "os"}
        Endpoint of the single-event ``cure`` outcome.
    cure : bool
        Mixture cure fraction (acting on relapse in the competing-risk model).
    baseline : {"weibull", "piecewise"}
    grid : tuple of float
        Cuts of the piecewise-exponential baseline (months; starts at 0, increasing).
    stemness : {"lsc17", "plsc6", None}
        Stemness score among the covariates ("none" is accepted for None).
    include_mrd, include_cr2 : bool
        MRD (positive / unknown vs negative) and CR2 (a landmark covariate) among the covariates.
    relapse_covariates : "all" or tuple of str
        Covariates on the relapse hazard of the non-cured ("all": every covariate of the design).
    death_covariates : tuple of str
        Covariates on the hazard of death without relapse (none for the ``cure`` outcome).
    hierarchy : bool
        Cytogenetic classes nested in risk groups, and study effects (partial pooling).
    """

    outcome: Literal["competing", "cure", "pathway"] = "competing"
    endpoint: Literal["efs", "os"] = "efs"
    cure: bool = True
    baseline: Literal["weibull", "piecewise"] = "weibull"
    grid: tuple[float, ...] = DEFAULT_GRID_MONTHS
    stemness: Literal["lsc17", "plsc6"] | None = "lsc17"
    include_mrd: bool = True
    include_cr2: bool = False
    relapse_covariates: Literal["all"] | tuple[str, ...] = "all"
    death_covariates: tuple[str, ...] = ("hsct_cr1", "age_per_10y")
    hierarchy: bool = True

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if data.get("stemness") == "none":
                data["stemness"] = None
            if data.get("outcome") == "cure":
                data["death_covariates"] = ()   # the single-endpoint model has no death hazard
            if data.get("outcome") == "pathway":
                _check_pathway_settings(data)
                data["death_covariates"] = ()   # each transition has its own covariates
        return data

    @field_validator("grid")
    @classmethod
    def _grid(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        try:
            PiecewiseGrid(tuple(float(v) for v in value))
        except (ValueError, IndexError):
            raise ValueError(f"must start at 0 and increase strictly, got {list(value)}") from None
        return tuple(float(v) for v in value)

    @model_validator(mode="after")
    def _schema_covariates(self) -> ModelSpec:
        # names outside the cohort schema are allowed (fit_arrays data have their own names);
        # a schema covariate must be one this configuration puts in the design
        available = self.design_covariates
        for key in ("relapse_covariates", "death_covariates"):
            names = getattr(self, key)
            bad = [] if names == "all" else [c for c in names if c in COVARIATES and c not in available]
            if bad:
                raise ValueError(f"{key}: {', '.join(bad)} not among the model's covariates ({', '.join(available)})")
        return self

    # --- derived -------------------------------------------------------------------------

    @property
    def design_covariates(self) -> tuple[str, ...]:
        """Columns of the design matrix of a schema cohort (the covariates of cure)."""
        return covariate_names(self.stemness, self.include_mrd, self.include_cr2)

    @property
    def relapse_terms(self) -> tuple[str, ...]:
        """The relapse hazard's covariates, ``"all"`` resolved."""
        return self.design_covariates if self.relapse_covariates == "all" else tuple(self.relapse_covariates)

    @property
    def competing(self) -> bool:
        return self.outcome == "competing"

    @property
    def pathway(self) -> bool:
        return self.outcome == "pathway"

    @property
    def endpoint_kind(self) -> str:
        """``"competing"`` for the competing-risk model, else its endpoint (``"efs"`` or ``"os"``)."""
        return "competing" if self.competing else self.endpoint

    @property
    def hierarchy_section(self) -> str:
        """The term the class / study hierarchy acts on: cure when there is a cure fraction."""
        return "cure" if self.cure else "relapse"

    def for_array_data(self, names: list[str]) -> ModelSpec:
        """This specification for data outside the cohort schema (``RelapseModel.fit_arrays``):
        no class / study hierarchy, and ``relapse_covariates="all"`` meaning ``names``."""
        update: dict[str, Any] = {"hierarchy": False}
        if self.relapse_covariates == "all":
            update["relapse_covariates"] = tuple(names)
        return parse_model_spec({**self.model_dump(), **update}, "fit_arrays")

    def settings(self) -> dict[str, Any]:
        """Every setting in declaration order, as shown in reports and ``--json`` output
        (``relapse_covariates`` resolved, tuples as lists)."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = self.relapse_terms if name == "relapse_covariates" else getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json(self) -> str:
        return self.model_dump_json()


#: One-step settings the pathway model has no use for, with the value it accepts and why.
_PATHWAY_FIXED = {
    "endpoint": ("efs", "the pathway model predicts EFS and OS together"),
    "cure": (True, "the pathway model always has cure fractions (in remission and after transplant)"),
    "baseline": ("weibull", "the pathway model's transitions have Weibull hazards"),
    "include_cr2": (False, "CR2 is the pathway model's response state, not a covariate"),
    "include_mrd": (True, "MRD is a state among responders in the pathway model"),
    "relapse_covariates": ("all", "every transition of the pathway model has the baseline covariates"),
    "death_covariates": ((), "every transition of the pathway model has the baseline covariates"),
    "grid": (DEFAULT_GRID_MONTHS, "the pathway model has no piecewise baseline"),
}


def _check_pathway_settings(data: dict[str, Any]) -> None:
    for key, (accepted, why) in _PATHWAY_FIXED.items():
        if key not in data:
            continue
        value = data[key]
        value = tuple(value) if isinstance(value, list) else value
        same = value == accepted or (key == "death_covariates" and tuple(value) in ((), ("hsct_cr1", "age_per_10y")))
        if not same:
            raise ValueError(f"{key} = {data[key]!r} does not apply to outcome 'pathway': {why}")


class SamplerSpec(_Frozen):
    """How to sample the posterior with NUTS (:func:`relapse_model.models.sampling.sample_posterior`).

    ``nuts="nutpie"`` (default) is nutpie's Rust NUTS on a Numba-compiled log density with
    fastmath off: on the default model 2.5 times faster in wall time than ``"pymc"`` (PyMC's
    NUTS, in Python, on PyTensor's C backend) with 3.2 times the ESS per second of sampling, and
    3 times faster on the pathway model (README, Benchmarks); ``"numpyro"`` is NumPyro on JAX's CPU backend (``pip install numpyro``; slower here).
    Each gives bit-identical draws for one seed in any process, with a cold or a warm compile
    cache (measured; ``benchmarks/bench_samplers.py``, ``tests/test_sampling.py``). The samplers
    give different draws from one another, with the same posterior summaries.

    ``adaptation`` is nutpie's mass-matrix adaptation during tuning: ``"diag"`` (default, from
    the variance of draws and gradients), ``"draw_diag"`` (from the draws' variance, as Stan and
    PyMC adapt) or ``"low_rank"``. On the default model over 24 seeds (README, Benchmarks,
    ``benchmarks/bench_adaptation.py``) ``"draw_diag"`` gave about 1.45 times the lowest bulk
    ESS for about 20% more sampling time, but a divergence in 3 of 24 runs where ``"diag"`` had
    none; ``"low_rank"`` took fewer steps and gave a lower ESS. Only nutpie has the choice.
    """

    draws: int = Field(default=1000, ge=10)
    tune: int = Field(default=1000, ge=0)
    chains: int = Field(default=4, ge=1)
    cores: int | None = Field(default=None, ge=1)
    random_seed: int = Field(default=0, ge=0)
    target_accept: float = Field(default=0.95, gt=0.5, lt=1.0)
    nuts: Literal["nutpie", "pymc", "numpyro"] = DEFAULT_SAMPLER
    adaptation: Literal["diag", "draw_diag", "low_rank"] = "diag"

    @model_validator(mode="after")
    def _adaptation_needs_nutpie(self) -> SamplerSpec:
        if self.adaptation != "diag" and self.nuts != "nutpie":
            raise ValueError(f"adaptation {self.adaptation!r} is nutpie's; nuts {self.nuts!r} "
                             "adapts its own way (leave adaptation at 'diag')")
        return self

    def sampler_options(self) -> dict[str, Any]:
        """Keyword arguments of the sampler itself (``options`` of ``sample_posterior``)."""
        return {"adaptation": self.adaptation} if self.nuts == "nutpie" else {}

    def to_json(self) -> str:
        return self.model_dump_json()


def _parse(cls: type[BaseModel], raw: dict[str, Any] | str, source: str) -> Any:
    try:
        return cls.model_validate_json(raw) if isinstance(raw, str) else cls.model_validate(raw)
    except ValidationError as exc:
        raise InputError.from_validation(source, exc) from None


def parse_model_spec(raw: dict[str, Any] | str, source: str = "model specification") -> ModelSpec:
    """Validate a model specification (dict or JSON); errors name ``source`` and the key."""
    return _parse(ModelSpec, raw, source)


def parse_sampler_spec(raw: dict[str, Any] | str, source: str = "sampler specification") -> SamplerSpec:
    """Validate a sampler specification (dict or JSON); errors name ``source`` and the key."""
    return _parse(SamplerSpec, raw, source)


def choices(spec: type[BaseModel], field: str) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` field, ``None`` left out (for command-line choices)."""
    annotation = spec.model_fields[field].annotation
    members = [annotation] if typing.get_origin(annotation) is Literal else typing.get_args(annotation)
    return tuple(str(v) for m in members if typing.get_origin(m) is Literal for v in typing.get_args(m))


def default(spec: type[BaseModel], field: str) -> Any:
    """A field's default value."""
    return spec.model_fields[field].default


def spec_json(spec: BaseModel) -> str:
    """Canonical JSON of a specification (sorted keys), as hashed in saved fits."""
    return json.dumps(json.loads(spec.model_dump_json()), sort_keys=True)

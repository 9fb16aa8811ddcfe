"""The model and sampler specifications: validation naming the key, one definition used by the
API, the command line and report specs, and every field surviving a saved fit."""

from __future__ import annotations

import numpy as np
import pytest

from relapse_model.cohort.bundled import load_bundled
from relapse_model.errors import InputError
from relapse_model.models import RelapseModel
from relapse_model.models.spec import (
    ModelSpec,
    SamplerSpec,
    choices,
    default,
    parse_model_spec,
    parse_sampler_spec,
)

#: Two specifications that between them set every field away from its default (the cure outcome
#: has no death hazard, so death_covariates needs the competing one).
NON_DEFAULT = [
    ModelSpec(outcome="cure", endpoint="os", cure=False, baseline="piecewise", grid=(0.0, 3.0, 12.0, 36.0),
              stemness="plsc6", include_mrd=False, include_cr2=True, relapse_covariates=("early_relapse", "cr2"),
              hierarchy=False),
    ModelSpec(stemness=None, death_covariates=("hsct_cr1",)),
]
SAMPLER = SamplerSpec(draws=10, tune=10, chains=1, cores=1, random_seed=3, target_accept=0.9,
                      adaptation="draw_diag")


def test_the_test_specs_cover_every_field():
    changed = {name for spec in NON_DEFAULT for name in ModelSpec.model_fields
               if getattr(spec, name) != default(ModelSpec, name)}
    assert changed == set(ModelSpec.model_fields)
    assert {n for n in SamplerSpec.model_fields if getattr(SAMPLER, n) != default(SamplerSpec, n)} \
        == set(SamplerSpec.model_fields) - {"nuts"}


@pytest.mark.parametrize("spec", NON_DEFAULT, ids=["cure-os-piecewise", "competing-no-stemness"])
def test_every_field_survives_save_and_load(spec, tmp_path):
    model = RelapseModel(spec=spec).fit(load_bundled("bfm_like"), SAMPLER, progressbar=False)
    loaded = RelapseModel.load(model.save(tmp_path / "fit.nc"))
    assert loaded.spec == spec and loaded.sampler == SAMPLER
    assert loaded.spec.settings() == spec.settings()


def test_errors_name_the_key():
    with pytest.raises(InputError, match=r"model specification: key 'baseline': Input should be 'weibull' or"):
        RelapseModel(baseline="spline")
    with pytest.raises(InputError, match=r"key 'grid': .*must start at 0 and increase strictly"):
        parse_model_spec({"grid": [1, 2]})
    with pytest.raises(InputError, match=r"unknown option\(s\) chain"):
        RelapseModel().fit(load_bundled("bfm_like"), chain=2)
    with pytest.raises(InputError, match=r"sampler specification: key 'target_accept'"):
        RelapseModel().fit(load_bundled("bfm_like"), target_accept=1.5)
    with pytest.raises(InputError, match=r"adaptation 'draw_diag' is nutpie's; nuts 'pymc'"):
        parse_sampler_spec({"nuts": "pymc", "adaptation": "draw_diag"})


def test_the_adaptation_reaches_nutpie_and_only_nutpie(monkeypatch):
    from relapse_model.models import model as model_module
    from relapse_model.models import sampling
    seen = {}
    monkeypatch.setattr(sampling, "sample_posterior", lambda pm_model, **kwargs: seen.update(kwargs))
    model_module._sample(None, SamplerSpec(adaptation="low_rank"), progressbar=False)
    assert seen["options"] == {"adaptation": "low_rank"} and seen["sampler"] == "nutpie"
    model_module._sample(None, SamplerSpec(nuts="pymc"), progressbar=False)
    assert seen["options"] == {} and seen["sampler"] == "pymc"


def test_specs_are_frozen_and_derived_values_resolve():
    spec = ModelSpec()
    with pytest.raises(Exception, match="frozen"):
        spec.baseline = "piecewise"
    assert spec.relapse_terms == spec.design_covariates and "lsc17_z" in spec.design_covariates
    assert ModelSpec(outcome="cure").death_covariates == ()        # no death hazard in that model
    assert ModelSpec(stemness="none").stemness is None


def test_fit_arrays_builds_a_new_spec_rather_than_editing_one():
    spec = ModelSpec(outcome="cure", cure=False)
    model = RelapseModel(spec=spec)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    model.fit_arrays(X, ["a", "b"], rng.exponential(10, 60), event=rng.random(60) < 0.7,
                     draws=10, tune=10, chains=1, progressbar=False)
    assert spec.relapse_covariates == "all" and spec.hierarchy            # the given spec is unchanged
    assert model.spec.relapse_terms == ("a", "b") and not model.spec.hierarchy


def test_command_line_and_report_specs_use_the_same_definitions():
    from relapse_model.cli.modelling import fit
    from relapse_model.report.spec import ModelPart
    options = {p.name: p for p in fit.params}
    assert tuple(options["baseline"].type.choices) == choices(ModelSpec, "baseline")
    assert options["draws"].default == default(SamplerSpec, "draws")
    assert tuple(options["adaptation"].type.choices) == choices(SamplerSpec, "adaptation")
    part = ModelPart(baseline="piecewise", draws=200)
    assert part.model_spec() == ModelSpec(baseline="piecewise")
    assert part.sampler_spec(seed=7) == SamplerSpec(draws=200, random_seed=7)
    assert ModelPart(adaptation="draw_diag").sampler_spec(seed=7).adaptation == "draw_diag"
    with pytest.raises(ValueError, match="report's top-level 'seed'"):
        ModelPart(random_seed=3)

"""The Stan program of the default model (benchmarks/stan) against the PyMC model, without R.

``benchmarks/bench_stan.py`` fits ``relapse_default.stan`` with rstan and compares it with our
fit; these checks keep the two programs from drifting apart: the exported data are the PyMC
model's Design and priors, and the Stan program declares every free variable and deterministic
of the PyMC model, with the same sizes, and reads every exported data field.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import bench_stan
from relapse_model.cohort.bundled import load_bundled
from relapse_model.models.hierarchy import CLASS_GROUP_INDEX
from relapse_model.models.model import RelapseModel


@pytest.fixture(scope="module")
def setup():
    cohort = load_bundled(bench_stan.COHORT)
    model = RelapseModel()
    return model, cohort, bench_stan.stan_data(model, cohort), bench_stan.STAN_FILE.read_text()


def _size(expr: tuple[str, ...], data: dict) -> int:
    """Number of scalars a Stan declaration holds (0 for a scalar, as pymc_variables counts)."""
    return int(np.prod([int(e) if e.isdigit() else data[e] for e in expr])) if expr else 0


def test_exported_data_match_the_design(setup):
    model, cohort, data, _ = setup
    design = model.design(cohort)
    n, p = design.X.shape
    assert (data["N"], data["P"]) == (n, p) == (800, 8)
    np.testing.assert_array_equal(np.array(data["X"]), design.X)
    np.testing.assert_array_equal(np.array(data["time"]), design.time)
    np.testing.assert_array_equal(np.array(data["cause"]), design.cause)
    np.testing.assert_array_equal(np.array(data["class_index"]) - 1, design.class_index)
    np.testing.assert_array_equal(np.array(data["study_index"]) - 1, design.study_index)
    np.testing.assert_array_equal(np.array(data["class_group"]) - 1, CLASS_GROUP_INDEX)
    assert data["S"] == len(design.studies) >= 2
    assert [design.covariates[i - 1] for i in data["relapse_cols"]] == list(model.spec.relapse_terms)
    assert [design.covariates[i - 1] for i in data["death_cols"]] == list(model.spec.death_covariates)
    for name, size in (("cure_beta", p), ("relapse_beta", data["P_relapse"]), ("death_beta", data["P_death"]),
                       ("cure_group", 3)):
        assert len(data[f"{name}_mu"]) == len(data[f"{name}_sigma"]) == size
    # spot checks against priors/default.toml
    assert data["cure_beta_mu"][design.covariates.index("mrd_positive")] == -1.2
    assert (data["cure_class_sd_sigma"], data["cure_study_sd_sigma"]) == (0.5, 0.3)
    assert (data["death_log_scale_mu"], data["death_log_scale_sigma"]) == (6.9, 1.5)


def test_stan_program_declares_the_pymc_models_variables(setup):
    model, cohort, data, text = setup
    ours = bench_stan.pymc_variables(model.build(cohort))
    for block, kind in (("parameters", "free"), ("transformed parameters", "deterministic")):
        declared = bench_stan.stan_declarations(text, block)
        assert set(declared) == set(ours[kind]), block
        assert {k: _size(v, data) for k, v in declared.items()} == ours[kind], block
    assert set(bench_stan.stan_declarations(text, "data")) == set(data)
    assert set(bench_stan._ARRAY_FIELDS) <= set(data)


def test_a_different_prior_family_is_refused(setup):
    from relapse_model.priors.spec import Prior, PriorSet

    model, cohort, _, _ = setup
    entries = dict(model.priors.entries)
    entries["cure", "class_sd"] = Prior("cure.class_sd", "lognormal", {"mu": 0.0, "sigma": 1.0}, "sd", "test")
    priors = PriorSet("test.toml", "test", "", entries, "")
    with pytest.raises(ValueError, match="half-normal"):
        bench_stan.stan_data(RelapseModel(priors=priors), cohort)


def test_stan_names_map_to_ours():
    assert bench_stan.from_stan_names({"cure_beta[1]": 1, "cure_intercept": 2, "cure_class[12]": 3}) == \
        {"cure_beta[0]": 1, "cure_intercept": 2, "cure_class[11]": 3}


def test_without_rscript_the_benchmark_skips_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(bench_stan.shutil, "which", lambda name, *a, **k: None)
    assert bench_stan.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "sudo apt-get install r-cran-rstan" in out

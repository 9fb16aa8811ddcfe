"""Prior files: every prior cites a source; bad files fail with the file and the key."""

from __future__ import annotations

import pytest

from relapse_model.cli import main
from relapse_model.errors import InputError
from relapse_model.models import NotFittedError, RelapseModel
from relapse_model.priors import load_priors
from tests.conftest import ROOT

PRIORS = ROOT / "priors"


@pytest.mark.parametrize("name", ["default", "weak"])
def test_bundled_priors_load_and_cite_sources(name):
    priors = load_priors(PRIORS / f"{name}.toml")
    assert len(priors.entries) >= 40
    for p in priors.entries.values():
        assert len(p.source) > 20 and p.scale


def test_default_priors_carry_the_published_conversions():
    p = load_priors(PRIORS / "default.toml")
    assert p["cure", "early_relapse"].params == {"mu": -1.0, "sigma": 0.5}
    assert "Aladjidi" in p["cure", "early_relapse"].source
    assert "Klein 2022" in p["cure", "risk_group.adverse"].source
    weak = load_priors(PRIORS / "weak.toml")
    assert weak["cure", "mrd_positive"].params == {"mu": 0.0, "sigma": 2.5}


def _bad(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_priors(path)
    return str(info.value), path


GOOD = 'x = { dist = "normal", mu = 0.0, sigma = 1.0, scale = "log odds", source = "a paper, figure 2" }'


@pytest.mark.parametrize("text, key, words", [
    ('[cure]\nearly_relapse = { dist = "cauchy", mu = 0, sigma = 1, scale = "s", source = "x" }',
     "cure.early_relapse", "unknown distribution 'cauchy'"),
    ('[cure]\nearly_relapse = { dist = "normal", mu = 0, sigma = 1, scale = "s" }',
     "cure.early_relapse", "missing 'source'"),
    ('[cure]\n' + GOOD.replace("x =", "shoe_size ="), "cure.shoe_size", "unknown covariate"),
    ('[cure]\nearly_relapse = { dist = "normal", mu = 0, scale = "s", source = "x" }',
     "cure.early_relapse", "needs parameter(s) sigma"),
    ('[cure]\nearly_relapse = { dist = "normal", mu = 0, sigma = -1, scale = "s", source = "x" }',
     "cure.early_relapse", "sigma must be > 0"),
    ('[cure.risk_group]\nterrible = { dist = "normal", mu = 0, sigma = 1, scale = "s", source = "x" }',
     "cure.risk_group.terrible", "unknown risk group"),
    ('[hazard]\n' + GOOD, "hazard", "unknown section"),
])
def test_bad_prior_file_names_file_and_key(tmp_path, text, key, words):
    message, path = _bad(tmp_path, text)
    assert message.startswith(f"{path}: key '{key}': ")
    assert words in message


def test_malformed_toml(tmp_path):
    message, path = _bad(tmp_path, "[cure\nx = 1")
    assert message.startswith(f"{path}: malformed TOML")


def test_model_needing_a_missing_prior_says_which(tmp_path):
    text = (PRIORS / "default.toml").read_text().replace("flt3_itd = {", "# flt3_itd = {", 1)
    path = tmp_path / "partial.toml"
    path.write_text(text)
    from relapse_model.cohort.bundled import load_bundled
    with pytest.raises(InputError, match=r"key 'cure.flt3_itd': no prior given"):
        RelapseModel(path).build(load_bundled("bfm_like"))


def test_cli_fit_with_bad_priors_exits_2(tmp_path, runner):
    path = tmp_path / "bad.toml"
    path.write_text("[cure\n")
    result = runner.invoke(main, ["fit", str(ROOT / "cohorts" / "bfm_like.csv"), "--priors", str(path),
                                  "--out", str(tmp_path / "fit.nc")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: malformed TOML")


def test_bad_model_options():
    with pytest.raises(InputError, match="key 'baseline': Input should be 'weibull' or 'piecewise'"):
        RelapseModel(baseline="spline")
    with pytest.raises(InputError, match="unknown option"):
        RelapseModel(draws=10)
    with pytest.raises(InputError, match="death_covariates: cr2 not among"):
        RelapseModel(death_covariates=["cr2"])       # a schema covariate this configuration lacks
    from relapse_model.cohort.bundled import load_bundled
    with pytest.raises(InputError, match="death_covariates: cd33 not among"):
        RelapseModel(death_covariates=["cd33"]).build(load_bundled("bfm_like"))


def test_results_before_fit_name_the_method_to_call():
    model = RelapseModel()
    for call in (lambda: model.posterior, model.hazard_ratios, model.check,
                 lambda: model.predict(None, [12])):
        with pytest.raises(NotFittedError, match=r"call fit\(cohort\) first"):
            call()


def test_bad_patients_file_for_predict(tmp_path, runner):
    patients = tmp_path / "patients.csv"
    patients.write_text("patient_id,study,age_years,months_diagnosis_to_relapse,cytogenetics,hsct_cr1\n"
                        "N1,S,7,30,t(8;21),no\nN2,S,x,5,normal,no\n")
    from relapse_model.cohort import load_patients
    with pytest.raises(InputError) as info:
        load_patients(patients)
    assert str(info.value) == f"{patients}, row 3, column 'age_years': 'x' is not a number (years)"
    ok = tmp_path / "ok.csv"
    ok.write_text(patients.read_text().replace(",x,", ",9,"))
    assert len(load_patients(ok)) == 2

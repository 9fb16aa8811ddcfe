"""Fitting: reproducibility under a seed, predictions, persistence with hash checks, the CLI.

Small fixed-seed fits (a few seconds each once compiled); long runs are in test_model_slow.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from relapse_model.cli import main
from relapse_model.cohort.bundled import load_bundled
from relapse_model.errors import InputError
from relapse_model.models import RelapseModel
from tests.conftest import ROOT

SMALL = dict(draws=150, tune=150, chains=2, progressbar=False)


@pytest.fixture(scope="module")
def cohort():
    return load_bundled("bfm_like")


@pytest.fixture(scope="module")
def fitted(small_fit):
    return small_fit


def _draws(model: RelapseModel) -> np.ndarray:
    post = model.posterior["posterior"].to_dataset()
    return np.concatenate([post[v].to_numpy().ravel() for v in sorted(post.data_vars)])


def test_same_seed_same_draws_and_other_seed_other_draws(cohort, fitted):
    again = RelapseModel().fit(cohort, random_seed=11, **SMALL)
    other = RelapseModel().fit(cohort, random_seed=12, **SMALL)
    assert np.array_equal(_draws(fitted), _draws(again))
    assert not np.array_equal(_draws(fitted), _draws(other))


def test_posterior_carries_category_names_and_pointwise_loglik(cohort, fitted):
    post = fitted.posterior["posterior"]
    assert list(post["cytogenetics"].to_numpy()) == ["t8_21", "inv16", "kmt2a_t9_11", "kmt2a_t10_11",
                                                     "kmt2a_other", "nup98", "cbfa2t3_glis2", "monosomy7",
                                                     "complex", "normal", "other", "unknown"]
    assert "mrd_positive" in list(post["cure_covariate"].to_numpy())
    loglik = fitted.posterior["log_likelihood"]["outcome"]
    assert loglik.shape[-1] == len(cohort)          # every row, censored ones included
    assert np.isfinite(loglik.to_numpy()).all()


def test_check_table_has_the_gates(fitted):
    table = fitted.check()
    assert list(table["diagnostic"]) == ["max R-hat", "min bulk ESS", "min tail ESS", "divergences", "min E-BFMI"]
    assert table["threshold"].tolist()[:2] == ["<= 1.01", ">= 400"]
    # 150 draws x 2 chains cannot reach 400 effective draws everywhere: the gate must say so
    assert not fitted.passed_checks


def test_hazard_ratio_table(fitted):
    hr = fitted.hazard_ratios()
    row = hr[(hr.term == "cure") & (hr.covariate == "early_relapse")].iloc[0]
    assert row.posterior_lower < row.posterior_median < row.posterior_upper
    assert row.prior_median == pytest.approx(np.exp(-1.0))
    assert row.posterior_upper < 1.0  # early relapse lowers the odds of cure in this cohort


def test_predictions(cohort, fitted):
    patients = cohort.subset(np.arange(len(cohort)) < 10)
    full = fitted.predict(patients, [6, 12, 36, 60])
    assert isinstance(full, xr.Dataset) and full.sizes == {"patient": 10, "horizon": 4, "estimate": 3}
    assert list(full["estimate"].to_numpy()) == ["mean", "lower", "upper"]
    ds = full.sel(estimate="mean")
    total = ds["relapse_incidence"] + ds["death_without_relapse"] + ds["event_free_survival"]
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
    efs = ds["event_free_survival"].to_numpy()
    assert np.all((efs >= 0) & (efs <= 1)) and np.all(np.diff(efs, axis=1) <= 1e-12)
    ri = full["relapse_incidence"]
    assert np.all(ri.sel(estimate="lower") <= ri.sel(estimate="mean"))
    assert np.all(ri.sel(estimate="mean") <= ri.sel(estimate="upper"))
    cond = fitted.predict(patients, [24, 60], conditional_on_survival_to=12).sel(estimate="mean")
    # P(EFS at 60 | event-free at 12) = EFS(60) / EFS(12) >= EFS(60)
    assert np.all(cond["event_free_survival"].sel(horizon=60) >= ds["event_free_survival"].sel(horizon=60) - 1e-12)
    assert np.all(cond["cure_probability"] >= ds["cure_probability"] - 1e-12)
    with pytest.raises(InputError, match="later than"):
        fitted.predict(patients, [6, 12], conditional_on_survival_to=12)
    curves = fitted.survival_curves("risk_group", [12, 60])
    assert set(curves["group"].to_numpy()) == {"adverse", "favourable", "intermediate", "unknown"}
    fav, adv = (curves["event_free_survival"].sel(group=g, time=60, estimate="mean").item()
                for g in ("favourable", "adverse"))
    assert fav > adv


def test_save_and_load_round_trip_and_refusals(tmp_path, cohort, fitted):
    path = fitted.save(tmp_path / "fit.nc")
    loaded = RelapseModel.load(path, cohort=cohort, priors=ROOT / "priors" / "default.toml")
    patients = cohort.subset(np.arange(len(cohort)) < 3)
    xr.testing.assert_allclose(loaded.predict(patients, [12, 60]), fitted.predict(patients, [12, 60]))
    with pytest.raises(InputError, match="differs from the one the fit was made with"):
        RelapseModel.load(path, cohort=load_bundled("cog_like"))
    with pytest.raises(InputError, match="priors differ"):
        RelapseModel.load(path, priors=ROOT / "priors" / "weak.toml")
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    tree.attrs["model_spec"] = tree.attrs["model_spec"].replace('"weibull"', '"piecewise"')
    tampered = tmp_path / "tampered.nc"
    tree.to_netcdf(tampered, engine="h5netcdf")
    with pytest.raises(InputError, match="does not match its hash"):
        RelapseModel.load(tampered)
    (tmp_path / "junk.nc").write_bytes(b"not netcdf")
    with pytest.raises(InputError, match="not a readable fit file"):
        RelapseModel.load(tmp_path / "junk.nc")


def test_cli_fit_then_predict(tmp_path, runner):
    fit_path = tmp_path / "fit.nc"
    result = runner.invoke(main, ["fit", str(ROOT / "cohorts" / "bfm_like.csv"), "--model", "competing",
                                  "--out", str(fit_path), "--draws", "100", "--tune", "100", "--chains", "2",
                                  "--seed", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "FAILED its convergence checks" in result.stderr   # 100 draws cannot pass the ESS gate
    patients = tmp_path / "patients.csv"
    pd.read_csv(ROOT / "cohorts" / "bfm_like.csv").head(4)[
        ["patient_id", "study", "age_years", "months_diagnosis_to_relapse", "cytogenetics", "hsct_cr1",
         "lsc17", "mrd_level_pct", "mrd_method"]].to_csv(patients, index=False)
    out = tmp_path / "pred.csv"
    result = runner.invoke(main, ["predict", str(fit_path), str(patients), "--horizons", "12,60", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pred = pd.read_csv(out)
    assert set(pred["quantity"]) == {"relapse_incidence", "death_without_relapse", "event_free_survival",
                                     "cure_probability"}
    assert len(pred) == 4 * (3 * 2 + 1)
    assert ((pred["lower"] <= pred["mean"]) & (pred["mean"] <= pred["upper"])).all()
    bad = runner.invoke(main, ["predict", str(fit_path), str(patients), "--horizons", "a,b", "--out", str(out)])
    assert bad.exit_code == 2 and "--horizons" in bad.stderr

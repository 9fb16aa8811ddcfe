"""PathwayModel: a small fit (one value of the pointwise log-likelihood per patient, LOO, prediction
from the posterior) and errors before fitting."""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pytest
from pathway_helpers import fake_cohort

from relapse_model.models.model import NotFittedError
from relapse_model.models.pathway.model import PathwayModel

N = 200


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory):
    """A fake cohort written as a registry would (times to 0.01 month), and its path."""
    path = tmp_path_factory.mktemp("pathway") / "fake.csv"
    fake_cohort(N, seed=11).data.round(2).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cohort(cohort_file):
    from relapse_model.cohort import load_cohort
    return load_cohort(cohort_file)


@pytest.fixture(scope="module")
def fitted(cohort):
    return PathwayModel().fit(cohort, draws=200, tune=200, chains=2, random_seed=2, progressbar=False)


def test_results_before_fit_name_the_method_to_call(cohort):
    model = PathwayModel()
    for call in (lambda: model.posterior, lambda: model.predict(cohort), lambda: model.simulate_paths(cohort),
                 lambda: model.transplant_effects(), lambda: model.check()):
        with pytest.raises(NotFittedError, match=r"call fit\(cohort\) first"):
            call()


def test_one_log_likelihood_term_per_patient_and_loo(fitted):
    print(fitted.check().to_string())
    ll = fitted.posterior["log_likelihood"]["pathway"]
    assert ll.shape == (2, 200, N)
    assert np.isfinite(ll.to_numpy()).all()
    with warnings.catch_warnings():
        # high Pareto k (short test chains) is counted below, as checks/loo.py reports it
        warnings.filterwarnings("ignore", message=".*shape parameter of Pareto.*")
        loo = az.loo(fitted.posterior, pointwise=True)
    k = np.asarray(loo.pareto_k).ravel()
    print(f"elpd_loo {float(loo.elpd):.1f}, p_loo {float(loo.p):.1f}, Pareto k > 0.7: {(k > 0.7).sum()} of {k.size}")
    assert np.isfinite(float(loo.elpd)) and k.size == N


def test_prediction_from_the_posterior(fitted, cohort):
    few = cohort.subset(np.arange(N) < 4)
    ds = fitted.predict(few, times=[0, 6, 12, 60], replicates=100, max_draws=50, seed=1)
    np.testing.assert_allclose(ds["state_occupation"].sel(estimate="mean").sum("state"), 1.0, atol=1e-12)
    assert ds.identical(fitted.predict(few, times=[0, 6, 12, 60], replicates=100, max_draws=50, seed=1))
    p = ds["response_probability"].sel(estimate="mean").sum("response")
    np.testing.assert_allclose(p, 1.0)
    paths = fitted.simulate_paths(few, replicates=3, max_draws=10, seed=0)
    assert paths.response.shape == (10, 4, 3)


@pytest.mark.slow
@pytest.mark.parametrize("draws", [40, pytest.param(200, marks=pytest.mark.extended)])
def test_fit_is_bit_reproducible_under_a_seed(cohort, draws):
    """Two fits of the same cohort with the same seed (the second reuses the compiled model).
    make test: 40 draws and tuning steps per chain; make test-extended: 200, like ``fitted``."""
    def fit():
        return PathwayModel().fit(cohort, draws=draws, tune=draws, chains=2, random_seed=2, progressbar=False)
    first, second = fit().posterior["posterior"].to_dataset(), fit().posterior["posterior"].to_dataset()
    assert first.sizes["draw"] == draws and first.sizes["chain"] == 2
    for name in first.data_vars:                 # values, not attributes (sampling time differs)
        np.testing.assert_array_equal(first[name].to_numpy(), second[name].to_numpy(), err_msg=name)


def test_relapse_model_with_outcome_pathway_is_the_pathway_model():
    from relapse_model.models import RelapseModel

    model = RelapseModel(outcome="pathway", stemness="plsc6")
    assert isinstance(model, PathwayModel) and model.spec.pathway and model.stemness == "plsc6"
    assert model.priors.name == "pathway"
    from relapse_model.errors import InputError
    with pytest.raises(InputError, match=r"^model specification: baseline = 'piecewise' does not apply to outcome "
                                         r"'pathway': the pathway model's transitions have Weibull hazards$"):
        RelapseModel(outcome="pathway", baseline="piecewise")
    with pytest.raises(InputError, match=r"default.toml: no section\(s\) \[refractory\].*needs priors like "
                                         r"priors/pathway.toml"):
        RelapseModel("priors/default.toml", outcome="pathway")
    with pytest.raises(InputError, match="PathwayModel fits outcome 'pathway', not 'competing'"):
        PathwayModel(outcome="competing")


def test_save_and_load_round_trip_and_effect_table(fitted, cohort, tmp_path):
    from relapse_model.errors import InputError
    from relapse_model.models import RelapseModel

    path = fitted.save(tmp_path / "pathway.nc")
    loaded = RelapseModel.load(path, cohort=cohort)
    assert isinstance(loaded, PathwayModel) and loaded.spec == fitted.spec and loaded.sampler == fitted.sampler
    few = cohort.subset(np.arange(N) < 3)
    a = fitted.predict(few, times=[6, 24], replicates=50, max_draws=20)
    b = loaded.predict(few, times=[6, 24], replicates=50, max_draws=20)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy(), err_msg=name)
    with pytest.raises(InputError, match="differs from the one the fit was made with"):
        PathwayModel.load(path, cohort=cohort.subset(np.arange(N) < 10))
    effects = loaded.hazard_ratios()
    assert {"term", "covariate", "scale", "posterior_median", "prior_median"} <= set(effects.columns)
    assert (effects["posterior_lower"] <= effects["posterior_median"]).all()
    assert (effects["posterior_median"] <= effects["posterior_upper"]).all()
    assert {"refractory", "early_death", "remission_cure", "transplant_cure", "transplant_relapse"} <= set(effects.term)
    classes = effects[effects.covariate.str.startswith("cytogenetics: ")]
    assert set(classes.term) == {"refractory", "remission_cure"} and len(classes) == 24


def test_landmark_prediction_from_the_posterior(fitted, cohort):
    ds = fitted.predict(cohort, times=[24, 60], landmark=12.0, replicates=20, max_draws=20, seed=3)
    states = ds["landmark_state"].to_numpy()
    predicted = ~np.isin(states, ["dead", "censored"])
    assert predicted.any() and (~predicted).any()
    os_ = ds["overall_survival"].sel(estimate="mean").to_numpy()
    assert np.isfinite(os_[predicted]).all() and np.isnan(os_[~predicted]).all()
    efs = ds["event_free_survival"].sel(estimate="mean").to_numpy()
    assert (efs[states == "relapsed_refractory"] == 0).all()
    assert (efs[predicted] <= os_[predicted] + 1e-12).all()
    hsct = ds["hsct_probability"].sel(estimate="mean").to_numpy()
    assert (hsct[states == "transplanted"] == 1).all()
    with pytest.raises(Exception, match="later than the landmark"):
        fitted.predict(cohort, times=[6, 24], landmark=12.0)


def test_command_line_predicts_from_a_landmark(fitted, cohort, tmp_path, runner):
    import pandas as pd

    from relapse_model.cli import main

    fit_path = fitted.save(tmp_path / "pathway.nc")
    patients = tmp_path / "patients.csv"
    cohort.data.to_csv(patients, index=False)
    out = tmp_path / "landmark.csv"
    result = runner.invoke(main, ["predict", str(fit_path), str(patients), "--landmark", "12", "--horizons", "24,60",
                                  "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert set(frame["quantity"]) == {"response", "refractory", "early_death", "transplant", "efs", "os", "relapse",
                                      "cure"}
    assert frame["patient"].nunique() == N and set(frame["landmark_state"]) >= {"dead", "transplanted"}
    dead = frame[frame["landmark_state"] == "dead"]
    assert dead["mean"].isna().all()
    result = runner.invoke(main, ["predict", str(fit_path), str(patients), "--conditional-on-survival-to", "12",
                                  "--horizons", "24", "--out", str(out)])
    assert result.exit_code == 2 and "condition on the path so far with --landmark" in result.stderr


def test_fit_refuses_a_cohort_without_the_pathway_columns(tmp_path, runner):
    from relapse_model.cli import main

    frame = fake_cohort(30, seed=1).data.drop(columns=["cr2", "hsct_after_relapse", "hsct_after_relapse_months"])
    path = tmp_path / "no_pathway.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(main, ["fit", str(path), "--model", "pathway", "--out", str(tmp_path / "f.nc")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {path}: the pathway model needs column(s) cr2, hsct_after_relapse, "
                                     "hsct_after_relapse_months (response to re-induction, HSCT after relapse and its "
                                     "time); without them use --model competing")
    result = runner.invoke(main, ["fit", str(path), "--model", "pathway", "--baseline", "piecewise",
                                  "--out", str(tmp_path / "f.nc")])
    assert result.exit_code == 2 and "does not apply to outcome 'pathway'" in result.stderr


def test_check_command_on_a_pathway_fit_writes_every_check(fitted, cohort_file, tmp_path, runner):
    import json

    from relapse_model.cli import main

    fit_path = fitted.save(tmp_path / "pathway.nc")
    cohort_path = cohort_file
    out = tmp_path / "checks"
    result = runner.invoke(main, ["check", str(fit_path), "--cohort", str(cohort_path), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    names = {p.split("/")[-1] for p in payload["files"]}
    assert {"state_occupation.png", "state_occupation.csv", "calibration_response.png", "calibration_landmark.png",
            "calibration_efs_60m.png", "loo.csv", "convergence.csv"} <= names
    assert 0.0 <= payload["state_occupation_inside"] <= 1.0
    assert {row["state"] for row in payload["landmark_calibration"]} >= {"transplanted"}
    result = runner.invoke(main, ["check", str(fit_path), "--cohort", str(cohort_path), "--out", str(out), "--cv", "3"])
    assert result.exit_code == 2 and "--cv" in result.stderr


def test_report_on_a_pathway_fit_shows_occupation_effects_landmark_calibration_and_trials(fitted, cohort_file,
                                                                                           tmp_path):
    from relapse_model.report.build import build_report

    trials = Path("reports/trials").resolve()
    spec_path = tmp_path / "pathway.toml"
    spec_path.write_text(f'name = "pw"\ntitle = "Pathway test"\nseed = 1\noutput = "out"\n[cohort]\n'
                         f'paths = ["{cohort_file}"]\n[model]\noutcome = "pathway"\n[checks]\nhorizons = [12, 60]\n'
                         f'[[trials]]\nspec = "{trials / "venetoclax_single_arm.toml"}"\nn_trials = 250\n'
                         f'[[trials]]\nspec = "{trials / "dnx_response.toml"}"\nn_trials = 250\n')
    result = build_report(spec_path, model=fitted)
    html = result.html.read_text()
    for heading in ("State occupation: the course after relapse", "Calibration: response to re-induction",
                    "Calibration by transplant status", "odds ratio of refractory disease"):
        assert heading in html or heading in result.tables["effects"]["scale"].str.cat(), heading
    assert (result.folder / "figures" / "state_occupation.png").is_file()
    assert set(result.tables["calibration_landmark"]["state"]) >= {"transplanted"}
    design = result.tables["trial_venetoclax_single_arm_design"].set_index("design")["value"]
    assert design["design"].startswith("Simon optimal two-stage") and "from the fitted model" in \
        design["null response rate p0"]
    assert "would still declare it active with probability" in html
    dnx = result.tables["trial_dnx_response_design"].set_index("design")["value"]
    assert dnx["analysis"].startswith("Cochran-Mantel-Haenszel test stratified by early_relapse")
    assert (result.folder / "figures" / "trial_dnx_response_curves.png").is_file()


def test_simulate_command_runs_pathway_trials(fitted, tmp_path, runner):
    from relapse_model.cli import main

    fit_path = fitted.save(tmp_path / "pathway.nc")
    result = runner.invoke(main, ["simulate", "reports/trials/venetoclax_single_arm.toml", "--fit", str(fit_path),
                                  "--out", str(tmp_path / "sa.nc"), "--n-trials", "250", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "design: Simon optimal two-stage" in result.stdout and "p0 = " in result.stdout
    assert "virtual patients: cohort bfm_like; endpoint: response" in result.stdout
    assert (tmp_path / "sa.csv").is_file()


def test_loo_weights_give_arviz_elpd_and_loo_predictions_score_efs(fitted, cohort):
    from scipy.special import logsumexp

    from relapse_model.checks.loo import loo_efs_accuracy, loo_weights

    weights, k = loo_weights(fitted.posterior)
    assert weights.shape == (400, N) and k.shape == (N,)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0)
    ll = fitted.posterior["log_likelihood"]["pathway"].to_numpy().reshape(400, N)
    elpd = logsumexp(ll, b=weights, axis=0).sum()          # sum_i log sum_s w_is p(y_i | theta_s)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shape parameter of Pareto.*")
        reference = float(az.loo(fitted.posterior, reff=1.0).elpd)
    assert abs(elpd - reference) < 1e-6 * abs(reference)
    table = loo_efs_accuracy({"pathway": fitted}, cohort, horizons=(12.0, 36.0))
    assert table.loc[0, "n"] == N and 0.5 < table.loc[0, "harrell_c"] <= 1.0 and table.loc[0, "integrated_brier"] < 0.25


def test_transplant_counterfactual_from_the_posterior(fitted, cohort):
    few = cohort.subset(np.arange(N) < 3)
    ds = fitted.transplant_counterfactual(few, [12, 60], at=4.0, replicates=50, max_draws=30)
    assert list(ds["scenario"].to_numpy()) == ["transplant", "no_transplant"]
    assert ds["overall_survival"].shape == (3, 2, 2, 3) and ds["os_difference"].shape == (3, 2, 3)
    mean = ds["overall_survival"].sel(estimate="mean")
    np.testing.assert_allclose(ds["os_difference"].sel(estimate="mean"),
                               mean.sel(scenario="transplant") - mean.sel(scenario="no_transplant"), atol=1e-12)
    with pytest.raises(Exception, match="later than the landmark"):
        fitted.transplant_counterfactual(few, [3], at=4.0)

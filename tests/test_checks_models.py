"""Model checks on real fits: misspecification caught by LOO and by the posterior-predictive
check, calibration of a correct model, bounded SBC, real data against lifelines, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from relapse_model.checks.loo import compare_models
from relapse_model.checks.model_checks import calibration, posterior_predictive
from relapse_model.cli import main
from relapse_model.cohort.bundled import load_bundled
from relapse_model.models import RelapseModel
from tests.conftest import ROOT
from tests.model_helpers import competing_params, simulated_cohort

SMALL = dict(draws=300, tune=300, chains=2, progressbar=False)
COVS = ("early_relapse", "age_per_10y", "hsct_cr1", "flt3_itd")
CONFIG = dict(stemness=None, include_mrd=False, relapse_covariates=list(COVS), hierarchy=True)


@pytest.fixture(scope="module")
def cure_data():
    """400 patients (COG-like covariates) simulated WITH a cure fraction of about 45%."""
    base = load_bundled("cog_like").subset(np.arange(800) < 400)
    truth = competing_params(COVS, cure_intercept=0.2, cure_beta=[-1.0, -0.2, -0.6, -0.5],
                             relapse=(0.3, 1.8), death=(-0.5, 7.0), n_studies=2)
    return simulated_cohort(base, truth, seed=314, censor=(36.0, 120.0))


@pytest.fixture(scope="module")
def both_fits(cure_data):
    right = RelapseModel(**CONFIG).fit(cure_data, random_seed=1, **SMALL)
    wrong = RelapseModel(cure=False, **CONFIG).fit(cure_data, random_seed=1, **SMALL)
    return right, wrong


@pytest.mark.slow
def test_loo_prefers_the_cure_model_on_data_with_a_cure_fraction(both_fits):
    right, wrong = both_fits
    table = compare_models({"cure": right, "no cure": wrong})
    assert table.index[0] == "cure"
    diff, dse = table.loc["no cure", "elpd_diff"], table.loc["no cure", "dse"]
    assert diff < -2 * dse, (diff, dse)


@pytest.mark.slow
def test_standard_comparison_on_two_processes_gives_the_same_fits_and_table(both_fits, cure_data):
    """``check --compare --workers 2``: each variant fitted in its own process reproduces the
    in-process fit bit for bit, and so the LOO table."""
    from relapse_model.checks.loo import standard_comparison
    table, fits = standard_comparison(cure_data, seed=1, fit_kwargs=SMALL, workers=2,
                                      variants={"cure": CONFIG, "no cure": {**CONFIG, "cure": False}})
    right, wrong = both_fits
    for name, fit in (("cure", right), ("no cure", wrong)):
        theirs, ours = fits[name].posterior["posterior"].to_dataset(), fit.posterior["posterior"].to_dataset()
        assert all(np.array_equal(theirs[v].to_numpy(), ours[v].to_numpy()) for v in ours.data_vars), name
    pd.testing.assert_frame_equal(table, compare_models({"cure": right, "no cure": wrong}), check_exact=True)
    assert table.index[0] == "cure"


@pytest.mark.slow
def test_posterior_predictive_check_shows_the_missing_plateau(both_fits, cure_data):
    right, wrong = both_fits
    ok = posterior_predictive(right, cure_data, n_replicates=100, seed=2)["all"]
    bad = posterior_predictive(wrong, cure_data, n_replicates=100, seed=2)["all"]
    outside_ok = float(ok["efs_fraction_outside"].sel(group="all"))
    outside_bad = float(bad["efs_fraction_outside"].sel(group="all"))
    # measured: 0% of times outside the 95% band for the cure model, 52% without a cure fraction
    # (the no-cure model overstates early EFS to reach the plateau level)
    assert outside_ok <= 0.25, outside_ok
    assert outside_bad >= 0.3 and outside_bad >= outside_ok + 0.3, (outside_ok, outside_bad)
    assert float(bad["efs_p_value"].sel(group="all").min()) < 0.01


@pytest.mark.slow
def test_correct_model_is_calibrated(both_fits, cure_data):
    right, _ = both_fits
    table, fit = calibration(right, cure_data, 36.0, kind="efs")
    assert fit.p_value > 0.001, (fit.slope, fit.intercept, fit.chi2)
    assert abs(fit.slope - 1.0) < 3 * fit.slope_se + 0.1
    assert table["n"].sum() == len(cure_data)


SBC_MODEL = dict(stemness=None, include_mrd=False, relapse_covariates=["early_relapse"], death_covariates=["hsct_cr1"])


@pytest.mark.slow
@pytest.mark.extended
def test_bounded_sbc_ranks_are_consistent_with_uniform():
    """10 replications on the 200 BFM-like patients (make test-extended; make sbc runs 100)."""
    from relapse_model.checks.sbc import run_sbc
    result = run_sbc(load_bundled("bfm_like"), 10, seed=3, model_kwargs=SBC_MODEL, draws=100, tune=150, chains=2)
    table = result.uniformity(bins=4)
    assert len(result.ranks) == 10 and result.ranks.to_numpy().max() <= result.n_posterior
    assert table["p_value"].min() > 0.001 / len(table), table
    assert result.pooled_p_value() > 0.001


@pytest.mark.slow
def test_short_sbc_puts_no_true_value_at_the_edge_of_its_posteriors():
    """make test's SBC: 5 replications on 100 BFM-like patients, same model and sampler settings.
    Five ranks per parameter cannot reach the per-parameter chi-square threshold above, so the
    check per parameter is: at most 3 of its 5 ranks in the outer 10% of 0..L (with uniform ranks
    4 or 5 of 5 there has probability 4.6e-4); the pooled chi-square over all ranks is kept."""
    from relapse_model.checks.sbc import run_sbc
    bfm = load_bundled("bfm_like")
    result = run_sbc(bfm.subset(np.arange(len(bfm)) < 100), 5, seed=3, model_kwargs=SBC_MODEL,
                     draws=100, tune=150, chains=2)
    ranks, n = result.ranks, result.n_posterior + 1          # ranks take the n values 0..L
    assert len(ranks) == 5 and ranks.to_numpy().min() >= 0 and ranks.to_numpy().max() <= result.n_posterior
    at_edge = ((ranks < 0.05 * n) | (ranks >= 0.95 * n)).sum()
    assert (at_edge <= 3).all(), ranks.loc[:, at_edge > 3]
    assert result.pooled_p_value() > 0.001


@pytest.mark.slow
def test_real_data_gbsg2_weibull_matches_cox_and_kaplan_meier():
    from benchmarks.real_data import gbsg2_comparison
    out = gbsg2_comparison(draws=200, tune=200, chains=2)
    assert (out["hazard_ratios"]["difference / posterior SD"].abs() < 1.0).all()
    km = out["survival"]["Kaplan-Meier (95% CI)"].str.extract(r"\((\S+)-(\S+)\)").astype(float)
    model = out["survival"]["Weibull PH + cure"].str.extract(r"^(\S+) ").astype(float)[0]
    assert ((model >= km[0] - 0.03) & (model <= km[1] + 0.03)).all(), out["survival"]


def test_cli_check_writes_figures_and_tables(tmp_path, small_fit_path, runner):
    result = runner.invoke(main, ["check", str(small_fit_path), "--cohort", str(ROOT / "cohorts" / "bfm_like.csv"),
                                  "--out", str(tmp_path), "--replicates", "20", "--horizons", "12,60"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    for expected in ("convergence.csv", "loo.csv", "ppc_all.png", "ppc_risk_group.png", "ppc_mrd.png",
                     "ppc_stemness.png", "ppc_hsct_cr1.png", "calibration_efs_60m.png", "calibration_summary.csv"):
        assert expected in names
    summary = pd.read_csv(tmp_path / "calibration_summary.csv")
    assert set(summary["endpoint"]) == {"event-free survival", "relapse incidence"} and len(summary) == 4
    # the terminal shows every check, not only calibration, each table within 100 columns, blanks blank
    for title in ("Convergence diagnostics", "PSIS-LOO", "Posterior-predictive check", "Calibration"):
        assert title in result.stdout
    assert "max R-hat" in result.stdout and "ELPD (SE)" in result.stdout and "adverse risk" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    assert "nan" not in result.stdout and "\u2026" not in result.stdout
    as_json = runner.invoke(main, ["check", str(small_fit_path), "--cohort", str(ROOT / "cohorts" / "bfm_like.csv"),
                                   "--out", str(tmp_path / "j"), "--replicates", "10", "--horizons", "12", "--json"])
    payload = json.loads(as_json.stdout)
    assert {"convergence", "loo", "posterior_predictive", "calibration"} <= set(payload)
    assert payload["loo"][0]["elpd_loo"] < 0 and len(payload["convergence"]) == 5
    assert {row["group"] for row in payload["posterior_predictive"]} >= {"all", "adverse", "favourable"}
    wrong = runner.invoke(main, ["check", str(small_fit_path), "--cohort", str(ROOT / "cohorts" / "cog_like.csv"),
                                 "--out", str(tmp_path / "x")])
    assert wrong.exit_code == 2 and "differs from the one the fit was made with" in wrong.stderr


@pytest.mark.slow
def test_prior_sensitivity_and_cross_validation(small_fit):
    from relapse_model.checks.model_checks import cross_validate
    from relapse_model.checks.sensitivity import prior_sensitivity
    cohort = load_bundled("bfm_like")
    weak = RelapseModel(ROOT / "priors" / "weak.toml").fit(cohort, draws=150, tune=150, chains=2, random_seed=11,
                                                           progressbar=False)
    out = prior_sensitivity(small_fit, weak, cohort)
    effects = out["effects"].set_index("covariate")
    # mrd_unknown has a flat N(0, 1) prior in both files' spirit: the data dominate, it barely moves;
    # under weak priors the informative early-relapse prior is gone, so that effect moves more
    assert np.isfinite(effects["shift (reference posterior SDs)"]).all()
    probs = out["probabilities"]
    assert set(probs["quantity"]) >= {"relapse_incidence", "event_free_survival", "cure_probability"}
    assert (probs["difference"].abs() < 0.2).all()      # headline probabilities are data-driven here
    cv = cross_validate(small_fit, cohort, k=2, seed=1, horizons=(12.0, 36.0),
                        fit_kwargs={"draws": 100, "tune": 100})
    mean = cv[cv["fold"] == "mean"].iloc[0]
    assert 0.6 < mean["harrell_c"] < 0.95 and 0.6 < mean["uno_c"] < 0.95
    assert 0.0 < mean["integrated_brier"] < 0.25
    # the folds fitted on two processes: the same numbers, bit for bit
    on_workers = cross_validate(small_fit, cohort, k=2, seed=1, horizons=(12.0, 36.0),
                                fit_kwargs={"draws": 100, "tune": 100}, workers=2)
    pd.testing.assert_frame_equal(on_workers, cv, check_exact=True)

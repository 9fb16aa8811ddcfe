"""Virtual trials through the pathway model: agents on transitions, response endpoints, stratified
tests, single-arm designs. A hand-built posterior (true parameters jittered) stands in for a fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pathway_helpers import (
    HandBuiltPathwayModel,
    fake_cohort,
    jittered_parameters,
    true_parameters,
)
from scipy import stats

from relapse_model.designs import multistage_oc
from relapse_model.errors import InputError
from relapse_model.models.pathway.paths import MRD_NEGATIVE, MRD_POSITIVE, RESPONSE
from relapse_model.simulate import analyses, pathway_arms
from relapse_model.simulate import proportions as prop
from relapse_model.simulate.engine import (
    operating_characteristics,
    prepare_population,
    simulate_trials,
)
from relapse_model.simulate.spec import load_trial_spec, parse_spec, with_overrides

RESPONSE_TRIAL = {"endpoint": "response", "analysis.timing": "assessed", "analysis.primary": "proportions",
                  "analysis.events": None, "sample_size": 200}


@pytest.fixture(scope="module")
def model():
    return HandBuiltPathwayModel()


def _two_arm(**changes):
    return with_overrides(load_trial_spec("reports/trials/cpx351_vs_flag.toml"), changes)


def _one_patient_paths(model, offsets, n=200_000, seed=0):
    """Paths of one patient under one draw, ``n`` times, with the given log effects."""
    cohort = fake_cohort(1, seed=3)
    spec = _two_arm(**RESPONSE_TRIAL)
    pop = prepare_population(model, spec, cohort)
    full = {e: np.full((1, n), offsets.get(e, 0.0)) for e in pathway_arms.OFFSET_OF_EFFECT}
    return pathway_arms.trial_paths(pop.params, pop.eta, pop.assessment, np.random.default_rng(seed),
                                    np.zeros(1, int), np.zeros((1, n), int), full)


def _odds(p):
    return p / (1 - p)


def test_response_odds_ratio_of_an_agent_is_the_odds_ratio_of_each_patient(model):
    base = _one_patient_paths(model, {})
    treated = _one_patient_paths(model, {"response_or": np.log(2.0)})
    p0, p1 = (base.response == RESPONSE).mean(), (treated.response == RESPONSE).mean()
    se = np.sqrt(1 / (p0 * (1 - p0) * base.response.size) + 1 / (p1 * (1 - p1) * treated.response.size))
    assert abs(np.log(_odds(p1) / _odds(p0)) - np.log(2.0)) < 3 * se


def test_mrd_negative_odds_ratio_acts_among_responders_only(model):
    base = _one_patient_paths(model, {})
    treated = _one_patient_paths(model, {"mrd_negative_or": np.log(3.0)})

    def neg_vs_pos(paths):
        neg, pos = (paths.mrd == MRD_NEGATIVE).sum(), (paths.mrd == MRD_POSITIVE).sum()
        return neg / pos, 1 / neg + 1 / pos

    (o0, v0), (o1, v1) = neg_vs_pos(base), neg_vs_pos(treated)
    assert abs(np.log(o1 / o0) - np.log(3.0)) < 3 * np.sqrt(v0 + v1)
    assert (base.response == RESPONSE).mean() == (treated.response == RESPONSE).mean()  # same draws


def test_effects_change_nothing_for_patients_they_do_not_reach(model):
    spec = _two_arm(**{"arms.1.add": ["gilteritinib"], **RESPONSE_TRIAL})
    pop = prepare_population(model, spec)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, pop.n, (30, 200))
    acted = pop.target["gilteritinib"][idx] & (rng.random(idx.shape) < 0.5)
    effects = {e: np.where(acted, 0.7, 0.0) for e in pathway_arms.OFFSET_OF_EFFECT}
    zero = {e: np.zeros(idx.shape) for e in pathway_arms.OFFSET_OF_EFFECT}
    draw = np.arange(30) % pop.params.n_draws
    a = pathway_arms.trial_paths(pop.params, pop.eta, pop.assessment, np.random.default_rng(1), draw, idx, effects)
    b = pathway_arms.trial_paths(pop.params, pop.eta, pop.assessment, np.random.default_rng(1), draw, idx, zero)
    for field in ("response", "mrd", "relapse", "death", "transplant"):
        x, y = getattr(a, field)[..., 0], getattr(b, field)[..., 0]
        assert np.array_equal(x[~acted], y[~acted], equal_nan=True), field
    assert not np.array_equal(a.death[..., 0][acted], b.death[..., 0][acted], equal_nan=True)


@pytest.mark.parametrize("endpoint", ["efs", "os", "relapse"])
def test_endpoints_read_off_the_path(model, endpoint):
    paths = _one_patient_paths(model, {}, n=2000)
    time, cause = pathway_arms.event_times(paths, endpoint)
    death = np.nan_to_num(paths.death[..., 0], nan=np.inf)
    assert np.all(time <= death)
    if endpoint == "os":
        assert np.array_equal(time, death)
    else:
        refractory = paths.response[..., 0] == 1
        assert np.all(time[refractory] == paths.assessment[..., 0][refractory])
        assert np.all(cause[np.isfinite(paths.relapse[..., 0])] == pathway_arms.FAILURE)


def test_type_one_error_of_a_response_trial_is_alpha(model):
    ds = simulate_trials(model, _two_arm(**RESPONSE_TRIAL), seed=4, n_trials=3000, scenarios=("no_effect",),
                         curves=False)
    rate = float(ds["reject"].mean())
    assert abs(rate - 0.025) < 3 * np.sqrt(0.025 * 0.975 / 3000), rate
    assert abs(float(ds["response_control"].mean()) - float(ds["response_experimental"].mean())) < 0.01


def test_agent_raises_the_response_rate_and_flows_into_survival(model):
    ds = simulate_trials(model, _two_arm(**{"analysis.events": 150}), seed=2, n_trials=500,
                         scenarios=("power", "no_effect"))
    oc = operating_characteristics(ds).set_index("scenario")
    assert oc.loc["power", "P(success)"] > oc.loc["no_effect", "P(success)"] + 0.1
    assert oc.loc["power", "median HR"] < 0.95
    efs = ds["arm_event_free_survival"].sel(estimate="mean", time=37.0)
    assert float(efs.isel(arm=1)) > float(efs.isel(arm=0))
    for key in ("arm_event_free_survival", "arm_overall_survival"):
        curve = ds[key].sel(estimate="mean").to_numpy()
        assert np.all((curve >= 0) & (curve <= 1)) and np.all(np.diff(curve, axis=-1) <= 0)


def test_results_are_identical_whatever_the_chunk_size_or_number_of_workers(model):
    spec = _two_arm(**RESPONSE_TRIAL)
    a = simulate_trials(model, spec, seed=3, n_trials=600, chunk_trials=250, curves=False)
    b = simulate_trials(model, spec, seed=3, n_trials=600, chunk_trials=2000, curves=False)
    assert a.equals(b)
    single = load_trial_spec("reports/trials/venetoclax_single_arm.toml")
    c = simulate_trials(model, single, seed=3, n_trials=600, chunk_trials=250)
    d = simulate_trials(model, single, seed=3, n_trials=600, chunk_trials=2000)
    assert c.equals(d)
    e = simulate_trials(model, single, seed=3, n_trials=600, chunk_trials=250, workers=2)
    assert c.equals(e)


def test_stratified_logrank_is_the_sum_over_strata():
    rng = np.random.default_rng(0)
    time, event = rng.exponential(size=(50, 80)), rng.random((50, 80)) < 0.7
    arm, strata = rng.integers(0, 2, (50, 80)), rng.integers(0, 3, (50, 80))
    one = analyses.stratified_logrank(time, event, arm, np.zeros_like(strata))
    assert np.allclose(one.z, analyses.logrank(time, event, arm).z)
    parts = [analyses.logrank(time, event, arm, strata == s) for s in range(3)]
    strat = analyses.stratified_logrank(time, event, arm, strata)
    o_e, var = sum(p.o_minus_e for p in parts), sum(p.variance for p in parts)
    assert np.allclose(strat.z, o_e / np.sqrt(var))
    assert not np.allclose(strat.z, analyses.logrank(time, event, arm).z)


def test_two_proportion_z_and_cmh_agree_with_scipy():
    rng = np.random.default_rng(1)
    success, arm = rng.random((40, 60)) < 0.4, rng.integers(0, 2, (40, 60))
    mask = np.ones_like(success)
    counts = prop.arm_counts(success, arm, mask)
    z = prop.two_proportion_z(counts)
    cmh_one = prop.cmh_z(success, arm, np.zeros_like(arm), mask)
    for t in range(40):
        table = [[counts.x1[t], counts.n1[t] - counts.x1[t]], [counts.x0[t], counts.n0[t] - counts.x0[t]]]
        chi2 = stats.chi2_contingency(table, correction=False)[0]
        assert z[t] ** 2 == pytest.approx(chi2)
        assert cmh_one[t] ** 2 == pytest.approx(chi2 * (59 / 60))     # CMH uses n - 1 in the variance
    strata = rng.integers(0, 2, (40, 60))
    num = var = 0.0
    for s in (0, 1):      # the textbook formula, one 2x2 table per stratum, first trial
        keep = strata[0] == s
        x1, n1 = (success[0] & keep & (arm[0] == 1)).sum(), (keep & (arm[0] == 1)).sum()
        n, m = keep.sum(), (success[0] & keep).sum()
        num += x1 - n1 * m / n
        var += n1 * (n - n1) * m * (n - m) / (n ** 2 * (n - 1))
    assert prop.cmh_z(success, arm, strata, mask)[0] == pytest.approx(num / np.sqrt(var))


def test_posterior_probability_of_a_higher_rate_is_exact():
    from scipy.special import betaln

    def exact(x0, n0, x1, n1):      # Miller's closed form for integer Beta parameters
        a0, b0, a1, b1 = 1 + x0, 1 + n0 - x0, 1 + x1, 1 + n1 - x1
        i = np.arange(a1)
        return float(np.exp(betaln(a0 + i, b0 + b1) - np.log(b1 + i) - betaln(1 + i, b1) - betaln(a0, b0)).sum())

    cases = [(3, 10, 7, 10), (20, 50, 30, 50), (1, 5, 0, 5), (60, 100, 62, 100), (150, 300, 180, 300)]
    got = prop.prob_higher(prop.ArmCounts(*(np.array([c[k] for c in cases], float) for k in (0, 1, 2, 3))))
    assert np.allclose(got, [exact(*c) for c in cases], atol=1e-9)


def test_single_arm_simulation_equals_the_exact_binomial_operating_characteristics():
    # one draw and one kind of patient: the true response rate is known exactly
    model = HandBuiltPathwayModel(true_parameters())
    cohort = fake_cohort(1, seed=3)
    spec = with_overrides(load_trial_spec("reports/trials/venetoclax_single_arm.toml"),
                          {"dropout.rate": 0.0, "design.p0": 0.3, "design.delta": None, "design.p1": 0.5,
                           "population.eligible": []})
    pop = prepare_population(model, spec, cohort)
    rate = float(1 / (1 + np.exp(pop.eta["refractory"]) + np.exp(pop.eta["early_death"]))[0, 0])
    ds = simulate_trials(model, spec, seed=0, n_trials=4000, scenarios=("no_effect",), cohort=cohort)
    exact = multistage_oc(list(ds.attrs["looks"]), list(ds.attrs["futility_bounds"]), rate)
    simulated = float(ds["reject"].mean())
    assert abs(simulated - exact.prob_reject[0]) < 3 * np.sqrt(exact.prob_reject[0] * (1 - exact.prob_reject[0]) / 4000)
    assert float(ds["n_enrolled"].mean()) == pytest.approx(exact.expected_n[0], rel=0.02)


def test_single_arm_null_from_the_model_is_the_standard_care_rate(model):
    spec = load_trial_spec("reports/trials/venetoclax_single_arm.toml")
    ds = simulate_trials(model, spec, seed=1, n_trials=500)
    assert ds.attrs["p0_source"] == "model"
    assert ds.attrs["standard_care_rate_lower"] < ds.attrs["p0"] < ds.attrs["standard_care_rate_upper"]
    assert ds.attrs["p1"] == pytest.approx(ds.attrs["p0"] + 0.2)
    oc = operating_characteristics(ds).set_index("scenario")
    # doing nothing, the observed response rate is about the null (less the early stops' bias)
    assert abs(oc.loc["no_effect", "mean response rate"] - ds.attrs["p0"]) < 0.06
    assert oc.loc["no_effect", "exact type-I at p0"] <= 0.05
    assert oc.loc["power", "P(success)"] > oc.loc["no_effect", "P(success)"]


@pytest.mark.parametrize("changes, message", [
    ({"endpoint": "response"}, "endpoint 'response' is read at the response assessment: use analysis.timing = "
                               "'assessed'"),
    ({"endpoint": "response", "analysis.timing": "assessed", "analysis.events": None},
     "analysis.primary = 'cox' is for time-to-event endpoints"),
    ({"analysis.primary": "proportions"}, "analysis.primary = 'proportions' is for response endpoints, not 'efs'"),
    ({"stratify": "early_relapse", "analysis.primary": "rmst"}, "analysis.primary = 'rmst' has no stratified form"),
])
def test_bad_endpoint_and_analysis_combinations_name_the_key(changes, message):
    with pytest.raises(InputError, match="trial.toml: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        raw = with_overrides(load_trial_spec("reports/trials/cpx351_vs_flag.toml"), {}).model_dump(
            by_alias=True, exclude_none=True)
        for key, value in changes.items():
            node = raw
            *head, last = key.split(".")
            for part in head:
                node = node[part]
            if value is None:
                node.pop(last, None)
            else:
                node[last] = value
        parse_spec(raw, "trial.toml")


@pytest.mark.parametrize("design, message", [
    ({"p0": 0.3, "p1": 0.2}, "p1 = 0.2 must be above p0 = 0.3"),
    ({"p0": 1.3, "p1": 0.2}, "p0 = 1.3 must be inside"),
    ({"p0": "model", "p1": 0.5, "delta": 0.2}, "exactly one of 'p1' or 'delta'"),
    ({"p0": 0.2, "p1": 0.4, "method": "exact"}, "method 'exact' needs the maximum sample size 'n'"),
])
def test_bad_single_arm_designs_name_the_key(design, message):
    import tomllib
    raw = tomllib.loads(Path("reports/trials/venetoclax_single_arm.toml").read_text())
    raw["design"] = design
    with pytest.raises(InputError, match="sa.toml: key 'design': .*" + message):
        parse_spec(raw, "sa.toml")


def test_pathway_endpoints_and_designs_need_a_pathway_fit(small_fit):
    with pytest.raises(InputError, match="'response' needs a fit of the pathway model"):
        prepare_population(small_fit, _two_arm(**RESPONSE_TRIAL))
    with pytest.raises(InputError, match="single-arm response trial needs a fit of the pathway model"):
        simulate_trials(small_fit, load_trial_spec("reports/trials/venetoclax_single_arm.toml"))


def test_an_agent_without_effects_for_the_model_is_refused(tmp_path, monkeypatch):
    import relapse_model.simulate.agents as agents_module
    folder = tmp_path / "agents"
    folder.mkdir()
    text = Path("priors/agents/venetoclax.toml").read_text()
    (folder / "venetoclax.toml").write_text(text[:text.index("\n[pathway]\n")] + text[text.index("\n[one_step]\n"):])
    monkeypatch.setattr(agents_module, "AGENTS_DIR", folder)
    model = HandBuiltPathwayModel(jittered_parameters(5))
    spec = with_overrides(load_trial_spec("reports/trials/venetoclax_single_arm.toml"), {})
    with pytest.raises(InputError, match=r"agent venetoclax: has no \[pathway\] table of effects"):
        prepare_population(model, spec)


def test_agent_response_rates_match_simulated_responses(model):
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.simulate.agent_response import agent_response_rates

    cohort = load_bundled("bfm_like")
    table = agent_response_rates(model, cohort, ["venetoclax", "revumenib"]).set_index("agent")
    assert table.loc["revumenib", "patients"] < table.loc["venetoclax", "patients"] == len(cohort.data)
    spec = _two_arm(**RESPONSE_TRIAL)
    pop = prepare_population(model, spec, cohort)
    n_draws = pop.params.n_draws
    idx = np.tile(np.arange(pop.n), (n_draws * 50, 1))
    zero = {e: np.zeros(idx.shape) for e in pathway_arms.OFFSET_OF_EFFECT}
    paths = pathway_arms.trial_paths(pop.params, pop.eta, pop.assessment, np.random.default_rng(5),
                                     np.repeat(np.arange(n_draws), 50), idx, zero)
    simulated = (paths.response == RESPONSE).mean()
    assert abs(simulated - table.loc["venetoclax", "standard care"]) < 3 * 0.5 / np.sqrt(idx.size)
    row = table.loc["venetoclax"]
    assert row["standard care lower"] < row["standard care"] < row["standard care upper"]
    assert row["with agent (prior predictive)"] > row["standard care"]       # response OR median 1.4
    assert row["published"] == 0.70


def test_report_describes_single_arm_and_response_designs(model):
    from relapse_model.report.design import design_table, plain_language

    single = load_trial_spec("reports/trials/venetoclax_single_arm.toml")
    ds = simulate_trials(model, single, seed=2, n_trials=250)
    oc = operating_characteristics(ds)
    table = design_table(single, dict(ds.attrs)).set_index("design")["value"]
    assert table["null response rate p0"].startswith(f"{ds.attrs['p0']:.1%} from the fitted model")
    assert table["primary endpoint"] == "response (CR2 / CRi) at the re-induction assessment"
    sentences = plain_language(oc, single)
    assert len(sentences) == 3 and "declare venetoclax active with probability" in sentences[0]
    two = _two_arm(**RESPONSE_TRIAL, stratify="early_relapse")
    assert design_table(two).set_index("design")["value"]["analysis"].startswith(
        "Cochran-Mantel-Haenszel test stratified by early_relapse, one-sided alpha 0.025")
    mams = load_trial_spec("reports/trials/mams_response.toml")
    ds = simulate_trials(model, mams, seed=2, n_trials=250)
    table = design_table(mams, dict(ds.attrs)).set_index("design")["value"]
    assert f"Dunnett's critical value z >= {ds.attrs['critical_value']:.3f}" in table["analysis"]
    sentences = plain_language(operating_characteristics(ds), mams)
    assert len(sentences) == 3 and "the family-wise error; analytic value 0.0" in sentences[2]
    tte = _two_arm(**{"analysis.primary": "logrank", "stratify": "early_relapse", "endpoint": "os"})
    table = design_table(tte).set_index("design")["value"]
    assert table["analysis"].startswith("log-rank test stratified by early_relapse")
    assert table["primary endpoint"] == "overall survival"


def _master(**changes):
    return with_overrides(load_trial_spec("reports/trials/pedal_master.toml"), changes)


def test_every_bundled_trial_spec_is_valid():
    names = {load_trial_spec(p).name for p in sorted(Path("reports/trials").glob("*.toml"))}
    assert {"pedal_master", "venetoclax_single_arm", "dnx_response", "go_cd33"} <= names


def test_master_protocol_routes_each_patient_to_one_subtrial():
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.simulate.master import route

    data = load_bundled("bfm_like").data
    spec = _master()
    first = route(spec, data)
    menin = spec.subtrials[0].eligible
    in_menin = np.logical_or.reduce([c.mask(data) for c in menin])
    assert np.all(first[in_menin] == 0)             # eligible for menin and others: the first listed
    assert set(np.unique(first)) == {0, 1, 2, 3}    # "rest" takes everyone else
    again = route(_master(routing="random"), data, seed=4)
    assert np.array_equal(again, route(_master(routing="random"), data, seed=4))
    assert not np.array_equal(again, first) and np.all(again >= 0)
    with pytest.raises(InputError, match=r"pedal_master: key 'routing': \d+ patient\(s\) of the population are "
                                         r"eligible for several subtrials \(flt3 and cd33; menin and cd33"):
        route(with_overrides(spec, {"routing": None}), data)
    nobody = with_overrides(spec, {"subtrials.1.eligible": [{"column": "study", "equals": "no such study"}]})
    with pytest.raises(InputError, match=r"key 'subtrials.1.eligible': no patient of the population is routed to "
                                         r"subtrial 'flt3'"):
        route(nobody, data)


def test_master_protocol_subtrials_are_the_trials_run_alone_with_shared_draws(model):
    from dataclasses import replace

    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.simulate.engine import child_seed
    from relapse_model.simulate.master import route, subtrial_results

    spec = _master()
    ds = simulate_trials(model, spec, seed=6, n_trials=500)
    oc = operating_characteristics(ds)
    shares = __import__("json").loads(ds.attrs["routing_shares"])
    assert sum(shares.values()) == pytest.approx(1.0)
    # the cd33 subtrial alone: its routed patients, accrual at screening rate x share, the same draws
    cohort = load_bundled("bfm_like")
    assigned = route(spec, cohort.data)
    trial = with_overrides(spec.subtrials[2].trial, {"accrual.rate": spec.screening_rate * shares["cd33"]})
    draws = np.random.default_rng(np.random.SeedSequence(6, spawn_key=(50,))).integers(0, model.params.n_draws, 500)
    pop = replace(prepare_population(model, trial, cohort.subset(assigned == 2)), forced_draws=draws)
    alone = simulate_trials(model, trial, seed=child_seed(6, 2), n_trials=500, population=pop, curves=False)
    mine = subtrial_results(ds, "cd33")
    assert np.array_equal(mine["reject"].to_numpy(), alone["reject"].to_numpy())
    assert np.array_equal(mine["draw"].to_numpy(), np.broadcast_to(draws, mine["draw"].shape))
    for scenario in ("assurance", "no_effect"):
        rows = oc[oc["scenario"] == scenario].set_index("subtrial")
        any_success = np.logical_or.reduce([subtrial_results(ds, n)["reject"].sel(scenario=scenario).to_numpy()
                                            for n in shares])
        assert rows.loc["protocol", "P(success)"] == pytest.approx(any_success.mean())
        assert rows.loc["protocol", "P(success)"] >= rows.drop("protocol")[
            "P(success)"].max()
    assert simulate_trials(model, spec, seed=6, n_trials=500).equals(ds)


def test_bad_master_protocols_name_the_key():
    import tomllib
    raw = tomllib.loads(Path("reports/trials/pedal_master.toml").read_text())
    raw["subtrials"][0]["trial"]["accrual"] = {"rate": 2.0}
    with pytest.raises(InputError, match="m.toml: subtrial 'menin': leave out 'population' and 'accrual'"):
        parse_spec(raw, "m.toml")
    raw = tomllib.loads(Path("reports/trials/pedal_master.toml").read_text())
    raw["subtrials"][1]["eligible"] = "rest"
    with pytest.raises(InputError, match="m.toml: .*only the last subtrial may take eligible = \"rest\""):
        parse_spec(raw, "m.toml")
    raw = tomllib.loads(Path("reports/trials/pedal_master.toml").read_text())
    raw["subtrials"][0]["trial"]["design"]["p1"] = 0.4
    with pytest.raises(InputError, match=r"m.toml: key 'subtrials.0.trial.single_arm.design': .*exactly one of"):
        parse_spec(raw, "m.toml")


def _borrowing_trial(**changes):
    return _two_arm(**{**RESPONSE_TRIAL, "analysis.primary": "bayes", "allocation": [1, 2], "sample_size": 150,
                       **changes})


def test_borrowed_control_prior_posterior_probability_and_conflict_check_equal_the_designs_module():
    from scipy import integrate

    from relapse_model.designs import BetaMixture, prior_data_conflict, robustify
    from relapse_model.designs.borrowing import prob_greater

    prior = robustify(BetaMixture((0.4, 0.6), (60.0, 90.0), (40.0, 50.0)), 0.7)
    counts = prop.ArmCounts(np.array([20.0, 35.0, 5.0]), np.array([40.0, 50.0, 30.0]),
                            np.array([60.0, 70.0, 20.0]), np.array([80.0, 100.0, 60.0]))
    got = prop.prob_higher_than_mixture(counts, prior)
    for t in range(3):
        post = prior.posterior(int(counts.x0[t]), int(counts.n0[t]))
        a1, b1 = 1 + counts.x1[t], 1 + counts.n1[t] - counts.x1[t]
        exact = sum(w * integrate.quad(lambda q, a=a, b=b: stats.beta.pdf(q, a1, b1) * stats.beta.cdf(q, a, b), 0, 1,
                                       epsabs=1e-14, epsrel=1e-13, limit=500, points=[a / (a + b)])[0]
                    for w, a, b in zip(post.weights, post.a, post.b))
        assert got[t] == pytest.approx(exact, abs=1e-10)
        assert got[t] == pytest.approx(float(prob_greater((a1, b1), post)), abs=1e-5)    # designs' coarser rule
        assert prop.conflict_p_value(counts.x0[t:t + 1], counts.n0[t:t + 1], prior)[0] == pytest.approx(
            prior_data_conflict(prior, int(counts.x0[t]), int(counts.n0[t])).p_value, abs=1e-12)


def test_borrowing_weight_zero_is_the_design_without_borrowing(model):
    plain = simulate_trials(model, _borrowing_trial(), seed=2, n_trials=500, curves=False)
    zero = simulate_trials(model, _borrowing_trial(**{"analysis.borrowing": {"weight": 0.0}}), seed=2, n_trials=500,
                           curves=False)
    for key in ("reject", "prob_benefit", "z", "response_control"):
        assert np.array_equal(plain[key].to_numpy(), zero[key].to_numpy(), equal_nan=True), key
    assert zero.attrs["control_prior_ess"] == pytest.approx(2.0) and zero.attrs["informative_prior_ess"] > 50


def test_borrowing_under_drift_shows_type_one_inflation_and_conflict(model):
    def null(weight, drift):
        spec = _borrowing_trial(**{"analysis.borrowing": {"weight": weight},
                                   "population.drift_response_log_or": drift})
        oc = operating_characteristics(simulate_trials(model, spec, seed=4, n_trials=2000, scenarios=("no_effect",),
                                                       curves=False)).iloc[0]
        return oc["P(success)"], oc["prior-data conflict (p < 0.05)"]

    no_borrow, _ = null(0.0, 0.5)
    borrow, conflict = null(0.9, 0.5)
    assert borrow > no_borrow + 0.03            # a better current control than the model's: inflated
    _, calm = null(0.9, 0.0)
    assert conflict > calm + 0.05 and calm < 0.1


@pytest.mark.parametrize("changes, message", [
    ({"analysis.borrowing": {"weight": 1.5}}, "Input should be less than or equal to 1"),
    ({"analysis.borrowing": {"weight": 0.5}, "analysis.primary": "proportions"},
     "analysis.borrowing gives the control arm a prior: it needs primary = 'bayes'"),
])
def test_bad_borrowing_names_the_key(changes, message):
    with pytest.raises(InputError, match=message):
        _borrowing_trial(**changes)


@pytest.mark.parametrize("changes, message", [
    ({"analysis.primary": "cox"}, "analysis.borrowing gives the control arm a prior: it needs primary = 'bayes'"),
    ({"analysis.borrowing": {"weight": 0.5, "vague": [2, 2]}}, "analysis.borrowing.vague is the Beta prior"),
    ({"analysis.borrowing": {"weight": 0.5, "edges": [0, 6, 6]}}, "edges = .*must start at 0, increase"),
    ({"stratify": "early_relapse"}, "unstratified piecewise-exponential analysis: leave out stratify"),
])
def test_bad_time_to_event_borrowing_names_the_key(changes, message):
    with pytest.raises(InputError, match=message):
        _efs_borrowing(**changes)
    with pytest.raises(InputError, match="edges and vague_events are for time-to-event endpoints"):
        _borrowing_trial(**{"analysis.borrowing": {"weight": 0.5, "vague_events": 2.0}})


def _efs_borrowing(**changes):
    return _two_arm(**{"analysis.primary": "bayes", "allocation": [1, 2], "analysis.borrowing": {"weight": 0.9},
                       **changes})


def test_efs_borrowing_weight_zero_agrees_with_the_cox_rule_and_records_the_prior(model):
    plain = simulate_trials(model, _efs_borrowing(**{"analysis.borrowing": None}), seed=3, n_trials=500,
                            curves=False, scenarios=("power", "no_effect"))
    zero = simulate_trials(model, _efs_borrowing(**{"analysis.borrowing": {"weight": 0.0}}), seed=3, n_trials=500,
                           curves=False, scenarios=("power", "no_effect"))
    for key in ("events", "n_enrolled", "log_hr"):        # the same trials, analysed differently
        assert np.array_equal(plain[key].to_numpy(), zero[key].to_numpy(), equal_nan=True), key
    assert (plain["reject"] == zero["reject"]).mean() > 0.95
    assert float(abs(plain["prob_benefit"] - zero["prob_benefit"]).mean()) < 0.03
    assert zero.attrs["control_prior_ess"] == pytest.approx(1.0) and zero.attrs["informative_prior_ess"] > 100
    assert zero.attrs["control_prior_ess_unit"] == "events" and len(zero.attrs["control_prior_hazards"]) == 5
    from relapse_model.report.design import design_table
    table = design_table(_efs_borrowing(**{"analysis.borrowing": {"weight": 0.0}}), zero.attrs).set_index("design")
    assert table.loc["analysis", "value"].startswith("piecewise-exponential proportional-hazards model")
    assert "weight 0 on its posterior of the standard-care hazards on the pieces 0-3, 3-6" in table.loc[
        "control arm's analysis prior", "value"] and "worth 1 event; ESS of the mixture 1.0 events" in table.loc[
        "control arm's analysis prior", "value"]


def test_efs_borrowing_under_drift_shows_type_one_inflation_and_conflict(model):
    def null(weight, drift):
        spec = _efs_borrowing(**{"analysis.borrowing": {"weight": weight}, "population.drift_log_hr": drift})
        oc = operating_characteristics(simulate_trials(model, spec, seed=4, n_trials=2000, scenarios=("no_effect",),
                                                       curves=False)).iloc[0]
        return oc["P(success)"], oc["prior-data conflict (p < 0.05)"]

    vague, _ = null(0.0, -0.3)
    borrowed, _ = null(0.9, -0.3)           # the current control does better than the model says
    assert vague < 0.025 + 3 * np.sqrt(0.025 * 0.975 / 2000) and borrowed > vague + 0.08
    calm_rate, calm = null(0.9, 0.0)
    assert calm_rate < 0.025 + 3 * np.sqrt(0.025 * 0.975 / 2000) and calm < 0.08
    _, conflict = null(0.9, 0.4)
    assert conflict > calm + 0.05


def _mams(**changes):
    return with_overrides(load_trial_spec("reports/trials/mams_response.toml"), changes)


@pytest.mark.parametrize("multiplicity", ["dunnett", "none"])
def test_multi_arm_family_wise_error_is_the_analytic_dunnett_value(model, multiplicity):
    from relapse_model.designs import dunnett_fwer

    spec = _mams(interim=None, multiplicity=multiplicity, sample_size=400)
    ds = simulate_trials(model, spec, seed=8, n_trials=4000, scenarios=("no_effect",))
    analytic = dunnett_fwer(ds.attrs["critical_value"], 3, 1.0, method="integral")
    assert ds.attrs["analytic_fwer"] == pytest.approx(analytic)
    assert analytic == pytest.approx(0.025 if multiplicity == "dunnett" else 1 - (1 - 0.025) ** 3, abs=0.02)
    simulated = float(ds["any_reject"].mean())
    assert abs(simulated - analytic) < 3 * np.sqrt(analytic * (1 - analytic) / 4000), (simulated, analytic)
    oc = operating_characteristics(ds)
    assert oc.iloc[-1]["arm"] == "any arm" and oc.iloc[-1]["analytic FWER"] == pytest.approx(analytic)


def test_multi_arm_allocation_and_arm_dropping(model):
    from relapse_model.simulate import mechanics

    arm = mechanics.allocate_arms(np.random.default_rng(0), 50, 96, [2, 1, 1])
    assert np.all([(arm == a).sum(axis=1) == n for a, n in ((0, 48), (1, 24), (2, 24))])
    harsh = simulate_trials(model, _mams(**{"interim.futility": [10.0]}), seed=1, n_trials=250,
                            scenarios=("power",))
    assert bool(harsh["dropped"].all()) and not bool(harsh["reject"].any())
    full = simulate_trials(model, _mams(), seed=1, n_trials=250, scenarios=("power",))
    assert float(harsh["n_enrolled"].mean()) < float(full["n_enrolled"].mean()) <= 240
    assert float(harsh["duration"].mean()) < float(full["duration"].mean())


def test_multi_arm_efficacy_stopping_keeps_the_family_wise_error_and_stops_arms_early(model):
    from relapse_model.designs.multiarm import mams_efficacy_bounds

    spec = _mams(efficacy_stopping="obf", sample_size=400, **{"interim.fractions": [0.5, 1.0],
                                                              "interim.futility": None})
    null = simulate_trials(model, spec, seed=8, n_trials=4000, scenarios=("no_effect",))
    bounds = null.attrs["efficacy_bounds"]
    assert np.allclose(bounds, mams_efficacy_bounds([0.5, 1.0], 0.025, 3, 1.0, "obf"))
    assert bounds[0] > bounds[1] > 2.0 and null.attrs["analytic_fwer"] == pytest.approx(0.025, abs=0.001)
    simulated = float(null["any_reject"].mean())
    assert abs(simulated - 0.025) < 3 * np.sqrt(0.025 * 0.975 / 4000), simulated
    power = simulate_trials(model, spec, seed=8, n_trials=500, scenarios=("power",))
    early = power["stopped_for_efficacy"].to_numpy()
    assert early.any() and np.all(power["reject"].to_numpy()[early])      # declared at the interim
    z0 = power["z"].isel(look=0).to_numpy()
    assert np.array_equal(early[0], z0[0] >= bounds[0])
    full = simulate_trials(model, _mams(sample_size=400, **{"interim.futility": [-10.0]}), seed=8, n_trials=500,
                           scenarios=("power",))
    assert float(power["n_enrolled"].mean()) < float(full["n_enrolled"].mean())   # stopped arms enrol no more
    from relapse_model.report.design import design_table
    looks = design_table(spec, power.attrs).set_index("design").loc["interim looks", "value"]
    assert f"declared and stops when its z >= {bounds[0]:.3f} (obf shape" in looks


@pytest.mark.parametrize("changes, message", [
    ({"efficacy_stopping": "pocock", "interim": None}, "efficacy_stopping = 'pocock' stops arms at interim looks"),
    ({"arms": [{"name": "a"}, {"name": "b"}]}, "key 'arms': List should have at least 3 items"),
    ({"allocation": [1, 1]}, "allocation needs one positive integer per arm"),
    ({"allocation": [2, 1, 1, 2]}, "multiplicity = 'dunnett' needs the same allocation"),
    ({"analysis.primary": "bayes"}, "a multi-arm trial takes 'proportions'"),
    ({"interim.futility": None}, "give interim.futility or efficacy_stopping"),
])
def test_bad_multi_arm_trials_name_the_key(changes, message):
    with pytest.raises(InputError, match=message):
        _mams(**changes)


def test_programme_phases_share_the_posterior_draw_and_the_agent_effect(model):
    spec = load_trial_spec("reports/trials/venetoclax_programme.toml")
    ds = simulate_trials(model, spec, seed=5, n_trials=500)
    a = ds.sel(scenario="assurance")
    assert np.array_equal(a["phase2__draw"], a["phase3__draw"])
    assert np.array_equal(a["phase2__venetoclax__response_or"], a["phase3__venetoclax__response_or"])
    assert a["phase2__venetoclax__response_or"].std() > 0.1          # drawn from the prior, once per programme
    oc = operating_characteristics(ds).set_index("scenario")
    for scenario in ("assurance", "no_effect"):
        d = ds.sel(scenario=scenario)
        both = d["phase2__go"].to_numpy() & d["phase3__reject"].to_numpy()
        assert oc.loc[scenario, "P(success)"] == pytest.approx(both.mean())
        assert oc.loc[scenario, "P(success)"] <= oc.loc[scenario, "P(phase 2 go)"]
    assert oc.loc["no_effect", "P(success)"] < 0.01
    # a go is more often followed by phase 3 success than phase 3 succeeds unconditionally
    assert oc.loc["assurance", "P(phase 3 success | go)"] > float(a["phase3__reject"].mean())
    design = __import__("relapse_model.report.design", fromlist=["design_table"]).design_table(spec, dict(ds.attrs))
    assert design["design"].str.startswith("phase 2: ").sum() > 3 and "phase 3: analysis" in set(design["design"])


def test_a_programme_takes_the_same_agents_to_phase_three():
    import tomllib
    raw = tomllib.loads(Path("reports/trials/venetoclax_programme.toml").read_text())
    raw["phase3"]["arms"][1]["add"] = ["cpx351"]
    with pytest.raises(InputError, match="p.toml: .*phase2 tests venetoclax but phase3 cpx351"):
        parse_spec(raw, "p.toml")


def test_an_agent_effect_on_a_transition_the_model_lacks_names_the_file_and_key(tmp_path):
    from relapse_model.simulate.agents import load_agent

    text = Path("priors/agents/venetoclax.toml").read_text().replace(
        "early_death_or = {", "early_death_hr = {", 1)
    path = tmp_path / "venetoclax.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=r"venetoclax.toml: key 'pathway.early_death_hr': Extra inputs are not "
                                         r"permitted"):
        load_agent(path)


def test_simulate_command_exits_2_with_one_line_on_a_bad_master_protocol(small_fit_path, tmp_path, runner):
    from relapse_model.cli import main

    text = Path("reports/trials/pedal_master.toml").read_text().replace('routing = "first"\n', "")
    spec = tmp_path / "master.toml"
    spec.write_text(text)
    result = runner.invoke(main, ["simulate", str(spec), "--fit", str(small_fit_path), "--out",
                                  str(tmp_path / "m.nc")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()      # checked before any progress bar or warning is shown
    assert lines == ["error: pedal_master: a master protocol design needs a fit of the pathway model "
                     "(relapse-model fit ... --model pathway)"]
    from relapse_model.simulate.engine import precheck
    with pytest.raises(InputError, match=r"^pedal_master: key 'routing': "):      # on a pathway fit
        precheck(HandBuiltPathwayModel(jittered_parameters(5)), parse_spec(
            __import__("tomllib").loads(text), str(spec)))


def test_stratified_cox_equals_lifelines():
    import pandas as pd
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(3)
    n_trials, n = 4, 120
    arm, strata = rng.integers(0, 2, (n_trials, n)), rng.integers(0, 3, (n_trials, n))
    time = np.round(rng.exponential(np.exp(0.6 * strata - 0.4 * arm)), 1) + 0.1     # ties included
    event = rng.random((n_trials, n)) < 0.8
    got = analyses.cox_two_arm(time, event, arm, strata=strata)
    for t in range(n_trials):
        frame = pd.DataFrame({"time": time[t], "event": event[t].astype(int), "arm": arm[t], "s": strata[t]})
        fit = CoxPHFitter().fit(frame, "time", "event", strata=["s"])
        assert got.log_hr[t] == pytest.approx(fit.params_["arm"], abs=1e-6)
        assert got.se[t] == pytest.approx(fit.standard_errors_["arm"], rel=1e-4)
    one = analyses.cox_two_arm(time, event, arm, strata=np.zeros_like(strata))
    assert np.allclose(one.log_hr, analyses.cox_two_arm(time, event, arm).log_hr)


def test_stratified_randomisation_is_tested_with_a_stratified_cox_model(model):
    spec = _two_arm(**{"stratify": "early_relapse", "analysis.primary": "cox", "analysis.events": 150})
    ds = simulate_trials(model, spec, seed=2, n_trials=2000, scenarios=("no_effect",), curves=False)
    rate = float(ds["reject"].mean())
    assert abs(rate - 0.025) < 3 * np.sqrt(0.025 * 0.975 / 2000), rate

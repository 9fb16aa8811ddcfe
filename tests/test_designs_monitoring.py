"""Lee & Liu predictive-probability and BOP2-style monitoring: published value, brute force, MC."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from relapse_model.designs import (
    bop2_design,
    calibrate_bop2,
    predictive_design,
    predictive_probability,
    search_predictive_design,
    simulate_multistage,
)
from relapse_model.errors import InputError


def test_lee_liu_published_predictive_probability():
    # Lee & Liu (2008) Clinical Trials 5:93-106, p. 97 (also the ph2bayes::predprob example):
    # 16 responses in 23 patients, N = 40, Beta(0.6, 0.4) prior, p0 = 0.6, theta_T = 0.9: 0.5656
    pp = predictive_probability(16, 23, 40, 0.6, 0.9, prior=(0.6, 0.4))
    assert round(float(pp), 4) == 0.5656


def test_futility_boundaries_match_ph2bayes():
    # ph2bayes::stopbound_pred(0.05, "futility", 40, 0.6, 1.4, 0.3, 0.85), example output on
    # rdrr.io/cran/ph2bayes/man/stopbound_pred.html: the first n at which each futility bound
    # (largest y with PP <= 0.05) applies, for bounds 0..9 (the printed output is cut after 29)
    peer = {0: 4, 1: 8, 2: 11, 3: 14, 4: 17, 5: 20, 6: 22, 7: 25, 8: 27, 9: 29}
    d = predictive_design(0.3, 0.5, 40, theta_t=0.85, theta_l=0.05, prior=(0.6, 1.4), first_look=1)
    first: dict[int, int] = {}
    for n, f in zip(d.looks[:-1], d.futility[:-1]):
        if f >= 0:
            first.setdefault(f, n)
    assert {k: first[k] for k in peer} == peer
    assert d.futility[:3] == (-1, -1, -1)  # no stop possible at n = 1..3 ("NA")


def test_predictive_probability_by_direct_sum():
    a, b, n, x, big_n, p0, tt = 0.5, 1.5, 14, 5, 30, 0.25, 0.85
    total = 0.0
    for y in range(big_n - n + 1):
        log_m = (np.log(special.comb(big_n - n, y)) + special.betaln(a + x + y, b + big_n - x - y)
                 - special.betaln(a + x, b + n - x))
        post = 1 - special.betainc(a + x + y, b + big_n - x - y, p0)
        total += np.exp(log_m) * (post >= tt)
    assert predictive_probability(x, n, big_n, p0, tt, prior=(a, b)) == pytest.approx(total, abs=1e-12)


def _simulate_pp_rule(design, p, n_sim, seed):
    """Monte Carlo of the design by recomputing PP on every simulated path (not the bounds)."""
    rng = np.random.default_rng(seed)
    a, b = design.prior
    big_n = design.n_max
    resp = rng.random((n_sim, big_n)) < p
    x = np.cumsum(resp, axis=1)
    alive = np.ones(n_sim, dtype=bool)
    declared = np.zeros(n_sim, dtype=bool)
    size = np.full(n_sim, big_n, dtype=float)
    tt, tl = design.params["theta_t"], design.params["theta_l"]
    for n in design.looks:
        xn = x[:, n - 1]
        if n == big_n:
            post = stats.beta.sf(design.p0, a + xn, b + n - xn)
            declared |= alive & (post >= tt)
            break
        # PP recomputed from its definition for every possible count, then looked up per path
        pp = predictive_probability(np.arange(n + 1), n, big_n, design.p0, tt,
                                    prior=design.prior)[xn]
        stop = alive & (pp < tl)
        size[stop] = n
        alive &= ~stop
    se = np.sqrt(declared.mean() * (1 - declared.mean()) / n_sim)
    return declared.mean(), se, size.mean(), size.std(ddof=1) / np.sqrt(n_sim)


def test_predictive_design_exact_vs_monte_carlo():
    d = predictive_design(0.2, 0.4, 30, theta_t=0.9, theta_l=0.05, prior=(0.2, 0.8), first_look=5)
    for p, exact_rej, exact_en in [(0.2, d.type1, d.expected_n_p0), (0.4, d.power, d.expected_n_p1)]:
        rej, se, en, en_se = _simulate_pp_rule(d, p, 20_000, seed=11)
        assert abs(rej - exact_rej) < 4 * se
        assert abs(en - exact_en) < 4 * en_se
    # the same design through the count boundaries and the generic simulator
    sim = simulate_multistage(d.looks, d.futility, [0.2, 0.4], n_sim=20_000, seed=3)
    assert np.all(np.abs(sim.prob_reject - [d.type1, d.power]) < 4 * sim.prob_reject_se)


def test_efficacy_stopping_with_theta_u():
    d = predictive_design(0.2, 0.4, 30, theta_t=0.9, theta_l=0.05, theta_u=0.99, prior=(0.2, 0.8),
                          first_look=5)
    interim = [(n, e) for n, e in zip(d.looks[:-1], d.efficacy[:-1]) if e <= n]
    assert interim  # some looks can stop early declaring activity
    for n, e in interim:
        pp = predictive_probability(np.arange(n + 1), n, 30, 0.2, 0.9, prior=(0.2, 0.8))
        assert np.all(pp[e:] > 0.99) and np.all(pp[:e] <= 0.99)
    oc = d.oc([0.2, 0.4])
    assert oc.prob_reject[0] == pytest.approx(d.type1) and oc.prob_reject[1] == pytest.approx(d.power)
    eff = [e if e <= n else None for n, e in zip(d.looks, d.efficacy)]
    sim = simulate_multistage(d.looks, d.futility, [0.2, 0.4], efficacy=eff, n_sim=20_000, seed=8)
    assert np.all(np.abs(sim.prob_reject - oc.prob_reject) < 4 * sim.prob_reject_se)
    assert np.all(np.abs(sim.expected_n - oc.expected_n) < 4 * sim.expected_n_se)
    # early efficacy stops shorten trials under the alternative
    no_eff = predictive_design(0.2, 0.4, 30, 0.9, 0.05, prior=(0.2, 0.8), first_look=5)
    assert d.expected_n_p1 < no_eff.expected_n_p1
    frame = d.boundaries()
    assert list(frame.columns) == ["n", "stop_if_at_most", "declare_if_at_least"]
    assert frame["declare_if_at_least"].iloc[-1] == d.futility[-1] + 1


def test_predictive_boundaries_follow_definition():
    d = predictive_design(0.3, 0.5, 25, theta_t=0.9, theta_l=0.1, prior=(0.3, 0.7), first_look=8)
    for n, f in zip(d.looks[:-1], d.futility[:-1]):
        pp = predictive_probability(np.arange(n + 1), n, 25, 0.3, 0.9, prior=(0.3, 0.7))
        assert np.all(pp[: f + 1] < 0.1) and np.all(pp[f + 1:] >= 0.1)
    post = stats.beta.sf(0.3, 0.3 + np.arange(26), 0.7 + 25 - np.arange(26))
    r = d.futility[-1]
    assert post[r] < 0.9 <= post[r + 1]


def test_predictive_search_meets_constraints_and_is_minimax():
    res = search_predictive_design(0.2, 0.4, alpha=0.1, power=0.9, n_range=range(30, 41),
                                   prior=(0.2, 0.8), theta_t_grid=[0.85, 0.9, 0.95],
                                   theta_l_grid=[0.001, 0.01, 0.05, 0.1])
    d = res.design
    assert d.type1 <= 0.1 and d.power >= 0.9
    assert (res.candidates["type1"] <= 0.1).all() and (res.candidates["power"] >= 0.9).all()
    assert d.expected_n_p0 == pytest.approx(res.candidates["expected_n_p0"].min())
    # recomputing the chosen design from its thresholds gives the same OCs
    again = predictive_design(0.2, 0.4, d.n_max, d.params["theta_t"], d.params["theta_l"],
                              prior=(0.2, 0.8))
    assert again.type1 == pytest.approx(d.type1) and again.power == pytest.approx(d.power)
    # no grid point is feasible at any smaller N of the range
    for n_max in range(30, d.n_max):
        for tt in (0.85, 0.9, 0.95):
            for tl in (0.001, 0.01, 0.05, 0.1):
                e = predictive_design(0.2, 0.4, n_max, tt, tl, prior=(0.2, 0.8))
                assert not (e.type1 <= 0.1 and e.power >= 0.9)
    assert all(len(line) <= 100 for line in str(res).splitlines())


def test_bop2_boundaries_exact_and_monte_carlo():
    d = bop2_design(0.2, 0.4, [10, 20, 30, 40], lam=0.9, gamma=1.0, prior=(0.2, 0.8))
    for n, f in zip(d.looks, d.futility):
        post = stats.beta.sf(0.2, 0.2 + np.arange(n + 1), 0.8 + n - np.arange(n + 1))
        cut = 0.9 * (n / 40) ** 1.0
        assert np.all(post[: f + 1] < cut) and np.all(post[f + 1:] >= cut)
    sim = simulate_multistage(d.looks, d.futility, [0.2, 0.4], n_sim=40_000, seed=5)
    assert np.all(np.abs(sim.prob_reject - [d.type1, d.power]) < 4 * sim.prob_reject_se)
    assert np.all(np.abs(sim.expected_n - [d.expected_n_p0, d.expected_n_p1])
                  < 4 * sim.expected_n_se)


def test_bop2_calibration_maximises_power_under_alpha():
    lam = [0.7, 0.8, 0.85, 0.9, 0.95]
    gam = [0.0, 0.5, 1.0, 2.0]
    res = calibrate_bop2(0.2, 0.4, [10, 20, 30, 40], alpha=0.1, lam_grid=lam, gamma_grid=gam,
                         prior=(0.2, 0.8))
    best = res.design
    assert best.type1 <= 0.1
    brute = [bop2_design(0.2, 0.4, [10, 20, 30, 40], l_, g, prior=(0.2, 0.8))
             for l_ in lam for g in gam]
    feasible = [d for d in brute if d.type1 <= 0.1]
    assert best.power == pytest.approx(max(d.power for d in feasible), abs=1e-12)
    assert len(res.candidates) == len(feasible)


@pytest.mark.parametrize("call, message", [
    (lambda: predictive_design(0.4, 0.2, 30, 0.9, 0.05), "p1 = 0.2 must be greater than p0 = 0.4"),
    (lambda: predictive_design(0.2, 0.4, 30, 1.0, 0.05), "theta_t = 1.0"),
    (lambda: predictive_design(0.2, 0.4, 30, 0.9, 0.05, prior=(0, 1)), "prior a = 0"),
    (lambda: predictive_design(0.2, 0.4, 30, 0.9, 0.05, looks=[10, 20]), "must equal n_max"),
    (lambda: bop2_design(0.2, 0.4, [10, 20], lam=0.9, gamma=-1), "gamma = -1"),
    (lambda: calibrate_bop2(0.2, 0.4, [10, 20], alpha=float("inf")), "alpha = inf"),
    (lambda: predictive_probability(5, 4, 20, 0.2, 0.9), "0 <= x <= n <= n_max"),
])
def test_bad_input(call, message):
    with pytest.raises(InputError, match=message):
        call()

"""Exact multi-stage OCs against path enumeration and Monte Carlo simulation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from relapse_model.designs import multistage_oc, simulate_multistage
from relapse_model.errors import InputError


def enumerate_paths(looks, futility, efficacy, p):
    """Sum over all 2^N response sequences, applying the rules look by look."""
    n_max = looks[-1]
    reject = pet = en = 0.0
    for seq in itertools.product((0, 1), repeat=n_max):
        x = np.cumsum(seq)
        prob = p ** x[-1] * (1 - p) ** (n_max - x[-1])
        for k, n_k in enumerate(looks):
            xk = x[n_k - 1]
            if k == len(looks) - 1:
                reject += prob * (xk > futility[k])
                en += prob * n_k
                break
            if xk <= futility[k]:
                pet += prob
                en += prob * n_k
                break
            if efficacy is not None and efficacy[k] is not None and xk >= efficacy[k]:
                reject += prob
                pet += prob
                en += prob * n_k
                break
    return reject, pet, en


@pytest.mark.parametrize("looks, futility, efficacy", [
    ([4, 8, 12], [0, 2, 4], None),
    ([3, 7, 12], [-1, 2, 5], [3, 6, None]),
    ([5, 12], [1, 3], None),
])
def test_exact_equals_enumeration(looks, futility, efficacy):
    grid = [0.1, 0.3, 0.55]
    oc = multistage_oc(looks, futility, grid, efficacy=efficacy)
    for i, p in enumerate(grid):
        reject, pet, en = enumerate_paths(looks, futility, efficacy, p)
        assert oc.prob_reject[i] == pytest.approx(reject, abs=1e-12)
        assert oc.pet[i] == pytest.approx(pet, abs=1e-12)
        assert oc.expected_n[i] == pytest.approx(en, abs=1e-10)
    # stopping probabilities add up to one at every rate
    np.testing.assert_allclose((oc.stop_futility + oc.stop_efficacy).sum(axis=1), 1.0, atol=1e-12)


def test_exact_within_monte_carlo_error():
    looks, fut, eff = [10, 20, 35], [1, 4, 9], [7, 11, None]
    grid = [0.15, 0.3, 0.45]
    exact = multistage_oc(looks, fut, grid, efficacy=eff)
    sim = simulate_multistage(looks, fut, grid, efficacy=eff, n_sim=40_000, seed=20260101)
    assert np.all(np.abs(sim.prob_reject - exact.prob_reject) < 4 * sim.prob_reject_se + 1e-12)
    assert np.all(np.abs(sim.pet - exact.pet) < 4 * sim.pet_se + 1e-12)
    assert np.all(np.abs(sim.expected_n - exact.expected_n) < 4 * sim.expected_n_se + 1e-12)


def test_simulation_reproducible_under_seed():
    a = simulate_multistage([10, 29], [1, 5], [0.1, 0.3], n_sim=2000, seed=7)
    b = simulate_multistage([10, 29], [1, 5], [0.1, 0.3], n_sim=2000, seed=7)
    c = simulate_multistage([10, 29], [1, 5], [0.1, 0.3], n_sim=2000, seed=8)
    np.testing.assert_array_equal(a.prob_reject, b.prob_reject)
    assert not np.array_equal(a.expected_n, c.expected_n)


def test_vectorised_grid_and_edges():
    grid = np.linspace(0, 1, 11)
    oc = multistage_oc([10, 29], [1, 5], grid)
    assert oc.prob_reject[0] == 0.0 and oc.prob_reject[-1] == pytest.approx(1.0)
    assert np.all(np.diff(oc.prob_reject) >= -1e-15)  # monotone in p
    one = multistage_oc([10, 29], [1, 5], 0.3)
    assert one.prob_reject[0] == pytest.approx(oc.prob_reject[3])
    frame = oc.to_frame()
    assert list(frame.columns) == ["p", "prob_reject", "pet", "expected_n"] and len(frame) == 11
    assert all(len(line) <= 100 for line in str(oc).splitlines())


@pytest.mark.parametrize("kwargs, message", [
    (dict(looks=[10, 5], futility=[1, 2], p=0.2), "strictly increasing"),
    (dict(looks=[10, 20], futility=[1], p=0.2), "1 bounds but there are 2 looks"),
    (dict(looks=[10, 20], futility=[1, 2], p=1.3), "rates must be between 0 and 1"),
    (dict(looks=[10, 20], futility=[1, 2], p=[0.2, float("nan")]), "NaN"),
    (dict(looks=[10, 20], futility=[1, 2.5], p=0.2), "integers"),
    (dict(looks=[10, 20], futility=[1, 2], p=0.2, efficacy=[1, None]), "must exceed"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(InputError, match=message):
        multistage_oc(**kwargs)

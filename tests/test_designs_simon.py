"""Simon's two-stage designs: published rows, a peer package's OCs and a brute-force search."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import pytest

from relapse_model.designs import SimonDesign, simon_two_stage, two_stage_oc
from relapse_model.errors import InputError

DATA = Path(__file__).parent / "data" / "simon_1989.csv"
CLINFUN = Path(__file__).parent / "data" / "clinfun_ph2simon.csv"


def test_published_simon_rows():
    ref = pd.read_csv(DATA, comment="#")
    assert len(ref) == 7
    for row in ref.itertuples():
        d = simon_two_stage(row.p0, row.p1, row.alpha, 1 - row.beta, kind=row.kind)
        assert (d.r1, d.n1, d.r, d.n) == (row.r1, row.n1, row.r, row.n), row
        assert d.actual_alpha <= row.alpha and d.actual_power >= 1 - row.beta
        if not math.isnan(row.en0):
            assert d.expected_n_p0 == pytest.approx(row.en0, abs=1e-8)
            assert d.pet_p0 == pytest.approx(row.pet0, abs=1e-8)


def test_clinfun_vignette_rows_optimal_and_minimax():
    ref = pd.read_csv(CLINFUN, comment="#")
    assert set(ref["kind"]) == {"optimal", "minimax"}
    for row in ref.itertuples():
        d = simon_two_stage(row.p0, row.p1, row.alpha, 1 - row.beta, kind=row.kind)
        assert (d.r1, d.n1, d.r, d.n) == (row.r1, row.n1, row.r, row.n), row
        assert d.expected_n_p0 == pytest.approx(row.en0, abs=6e-6)
        assert d.pet_p0 == pytest.approx(row.pet0, abs=6e-8)


# IDDI-BE/PhIIdesign, inst/tinytest/test-simon2stage.R: p0 = 0.1, pa = 0.3 designs with their
# EN(p0), PET(p0), alpha and beta (computed by that package, an independent implementation).
PEER = pd.DataFrame({
    "r1": [1, 2, 1, 1, 1, 1, 1], "n1": [14, 15, 14, 12, 11, 11, 10],
    "r": [4, 4, 5, 5, 5, 5, 5], "n": [21, 22, 25, 26, 27, 28, 29],
    "en0": [16.9075960163903, 16.2884274837447, 18.5690794543276, 16.773968474954, 15.8422899168,
            16.1449330366, 15.0141203471],
    "pet0": [0.58462914051567, 0.815938930893609, 0.58462914051567, 0.659002251789, 0.6973568802,
             0.6973568802, 0.7360989291],
    "alpha": [0.0511412111636123, 0.0543042568921355, 0.0323533353291089, 0.0359671496394093,
              0.0395005174857133, 0.0450489137027961, 0.0470863066438917],
    "beta": [0.203705615682959, 0.200846440508983, 0.202576987295816, 0.195219552505977,
             0.193804599302928, 0.177745666977773, 0.194937086849675],
})


def test_two_stage_oc_matches_peer_package():
    for row in PEER.itertuples():
        oc = two_stage_oc(row.r1, row.n1, row.r, row.n, [0.1, 0.3])
        assert oc.expected_n[0] == pytest.approx(row.en0, abs=1e-8)
        assert oc.pet[0] == pytest.approx(row.pet0, abs=1e-8)
        assert oc.prob_reject[0] == pytest.approx(row.alpha, abs=1e-10)
        assert 1 - oc.prob_reject[1] == pytest.approx(row.beta, abs=1e-10)


def _brute_force(p0, p1, alpha, power, n_max, kind):
    """Plain loops over (n, n1, r1, r) with math.comb: independent of the vectorised search."""
    def pmf(x, m, p):
        return math.comb(m, x) * p ** x * (1 - p) ** (m - x)

    def cdf(k, m, p):
        return 0.0 if k < 0 else sum(pmf(i, m, p) for i in range(min(k, m) + 1))

    best = None
    for n in range(2, n_max + 1):
        best_n = None
        for n1 in range(1, n):
            n2 = n - n1
            c0 = [cdf(k, n2, p0) for k in range(n + 1)]
            c1 = [cdf(k, n2, p1) for k in range(n + 1)]
            f0 = [pmf(x, n1, p0) for x in range(n1 + 1)]
            f1 = [pmf(x, n1, p1) for x in range(n1 + 1)]
            for r1 in range(n1):
                pet = sum(f0[: r1 + 1])
                en = n1 + (1 - pet) * n2
                if best_n is not None and en >= best_n[0]:
                    continue
                chosen = None
                for r in range(r1, n):  # alpha and power both fall as r grows
                    a = sum(f0[x] * (1 - (c0[r - x] if r - x >= 0 else 0.0))
                            for x in range(r1 + 1, n1 + 1))
                    if a > alpha:
                        continue
                    b = sum(f1[x] * (1 - (c1[r - x] if r - x >= 0 else 0.0))
                            for x in range(r1 + 1, n1 + 1))
                    if b < power:
                        break
                    chosen = r  # keep the largest feasible r, as clinfun's f2bdry does
                if chosen is not None:
                    best_n = (en, r1, n1, chosen, n)
        if best_n is None:
            continue
        if best is None or best_n[0] < best[0] - 1e-12:
            best = best_n
        if kind == "minimax":
            break
    return best[1:]


@pytest.mark.parametrize("p0, p1, alpha, power, n_max", [
    (0.1, 0.3, 0.05, 0.8, 32),
    (0.2, 0.5, 0.1, 0.9, 30),
    (0.6, 0.85, 0.05, 0.8, 30),
])
def test_search_equals_brute_force(p0, p1, alpha, power, n_max):
    for kind in ("optimal", "minimax"):
        d = simon_two_stage(p0, p1, alpha, power, kind=kind, n_max=n_max)
        assert (d.r1, d.n1, d.r, d.n) == _brute_force(p0, p1, alpha, power, n_max, kind)


def test_minimax_rows_and_their_properties():
    # minimax designs of the Table-1 settings (p1 = p0 + 0.2, alpha 0.05, beta 0.2): the smallest
    # n of any feasible design, below the optimal n, with the constraints met
    for p0 in (0.1, 0.2, 0.3, 0.5, 0.7):
        mm = simon_two_stage(p0, p0 + 0.2, kind="minimax")
        opt = simon_two_stage(p0, p0 + 0.2, kind="optimal")
        assert mm.n <= opt.n and mm.expected_n_p0 >= opt.expected_n_p0
        assert mm.actual_alpha <= 0.05 and mm.actual_power >= 0.8
        with pytest.raises(InputError, match="no design"):
            simon_two_stage(p0, p0 + 0.2, kind="minimax", n_max=mm.n - 1)
    mm = simon_two_stage(0.1, 0.3, kind="minimax")
    assert (mm.r1, mm.n1, mm.r, mm.n) == (1, 15, 5, 25)


def test_search_is_fast():
    settings = [(0.05, 0.15, 0.05, 0.8), (0.2, 0.35, 0.05, 0.9), (0.5, 0.65, 0.05, 0.9),
                (0.7, 0.9, 0.05, 0.8)]
    for p0, p1, a, pw in settings:
        t0 = time.perf_counter()
        simon_two_stage(p0, p1, a, pw, n_max=100)
        assert time.perf_counter() - t0 < 1.0


def test_result_object():
    d = simon_two_stage(0.1, 0.3)
    assert isinstance(d, SimonDesign)
    assert all(len(line) <= 100 for line in str(d).splitlines())
    assert "1 responses of 10" in str(d) and repr(d) == str(d)
    assert d.to_frame().loc[0, "n"] == 29 and d.to_dict()["r"] == 5
    assert d.oc([0.1, 0.3]).prob_reject[1] == pytest.approx(d.actual_power)
    with pytest.raises(AttributeError):
        d.n = 30  # frozen


@pytest.mark.parametrize("kwargs, message", [
    (dict(p0=0.3, p1=0.2), "p1 = 0.2 must be greater than p0 = 0.3"),
    (dict(p0=0.0, p1=0.2), "p0 = 0.0 must be strictly between 0 and 1"),
    (dict(p0=0.1, p1=1.2), "p1 = 1.2 must be strictly between 0 and 1"),
    (dict(p0=float("nan"), p1=0.2), "p0 = nan must be a finite number"),
    (dict(p0=0.1, p1=0.3, alpha=1.5), "alpha = 1.5"),
    (dict(p0=0.1, p1=0.3, power=0), "power = 0"),
    (dict(p0=0.1, p1=0.3, kind="best"), "kind = 'best'"),
    (dict(p0=0.1, p1=0.3, n_max=10.5), "n_max = 10.5 must be an integer"),
    (dict(p0=0.1, p1=0.12), "increase n_max"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        simon_two_stage(**kwargs)
    assert str(e.value).startswith("simon_two_stage: ")

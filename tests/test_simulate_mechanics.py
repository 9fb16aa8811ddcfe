"""Trial mechanics: accrual rates, allocation ratios, dropout, data cuts and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from relapse_model.simulate import mechanics as mech


def test_constant_accrual_is_a_poisson_process():
    entry = mech.accrual_times(np.random.default_rng(1), 2000, 100, 4.0)
    assert entry.shape == (2000, 100)
    assert np.all(np.diff(entry, axis=1) > 0) and np.all(entry > 0)
    gaps = np.diff(entry, axis=1, prepend=0.0)
    assert gaps.mean() == pytest.approx(1 / 4.0, rel=0.01)  # SE ~0.2%
    by_10 = (entry <= 10.0).sum(axis=1)  # Poisson(40) while < 100 have entered
    assert by_10.mean() == pytest.approx(40.0, abs=3 * np.sqrt(40 / 2000))
    assert by_10.var() == pytest.approx(40.0, rel=0.1)


def test_piecewise_accrual_rates_and_pause():
    # 2/month for 6 months, a 3-month pause, then 10/month.
    entry = mech.accrual_times(np.random.default_rng(2), 4000, 80, [2.0, 0.0, 10.0], [6.0, 9.0])
    first = (entry <= 6.0).sum(axis=1)
    assert first.mean() == pytest.approx(12.0, abs=3 * np.sqrt(12 / 4000))
    assert not np.any((entry > 6.0) & (entry <= 9.0))
    later = ((entry > 9.0) & (entry <= 11.0)).sum(axis=1)
    assert later.mean() == pytest.approx(20.0, abs=3 * np.sqrt(20 / 4000))


def test_accrual_rejects_bad_rates():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="breaks"):
        mech.accrual_times(rng, 1, 5, [1.0, 2.0])
    with pytest.raises(ValueError, match="last"):
        mech.accrual_times(rng, 1, 5, [1.0, 0.0], [3.0])


@pytest.mark.parametrize("ratio", [(1, 1), (1, 2), (2, 3)])
def test_permuted_blocks_give_the_exact_ratio_in_every_block(ratio):
    size = 2 * sum(ratio)
    arm = mech.allocate(np.random.default_rng(3), 500, 10 * size + 3, ratio)
    blocks = arm[:, :10 * size].reshape(500, 10, size)
    np.testing.assert_array_equal(blocks.sum(axis=2), 2 * ratio[1])
    # Every position within a block is arm 1 with probability ratio[1] / sum(ratio).
    np.testing.assert_allclose(blocks.mean(axis=(0, 1)), ratio[1] / sum(ratio), atol=0.03)
    assert len({tuple(b) for b in blocks[:50].reshape(-1, size)}) > 5  # not one fixed order


def test_simple_randomisation_ratio():
    arm = mech.allocate(np.random.default_rng(4), 1000, 300, (1, 2), method="simple")
    assert arm.mean() == pytest.approx(2 / 3, abs=3 * np.sqrt(2 / 9 / 300_000))
    assert arm.sum(axis=1).std() > 3  # unlike blocks, per-trial totals vary


def test_stratified_blocks_balance_within_each_stratum():
    rng = np.random.default_rng(5)
    n_trials, n = 200, 120
    strata = rng.choice(np.array(["favourable", "intermediate", "adverse"]), (n_trials, n))
    arm = mech.allocate(rng, n_trials, n, (1, 1), block_size=4, strata=strata)
    for i in range(n_trials):
        for s in np.unique(strata[i]):
            seq = arm[i][strata[i] == s]  # allocations of this stratum in entry order
            full = seq[: seq.size // 4 * 4].reshape(-1, 4)
            np.testing.assert_array_equal(full.sum(axis=1), 2)
            assert abs(2 * seq.sum() - seq.size) <= 2  # an incomplete block is off by <= 2


def test_allocation_rejects_bad_block_size():
    with pytest.raises(ValueError, match="multiple"):
        mech.allocate(np.random.default_rng(0), 1, 10, (1, 2), block_size=4)


def test_dropout_rate():
    drop = mech.dropout_times(np.random.default_rng(6), (1000, 100), 0.02)
    assert drop.mean() == pytest.approx(50.0, rel=0.01)
    assert np.isinf(mech.dropout_times(np.random.default_rng(6), (2, 3), 0.0)).all()


def test_same_seed_same_trials():
    def run(seed):
        rng = np.random.default_rng(seed)
        entry = mech.accrual_times(rng, 50, 40, [1.0, 3.0], [2.0])
        arm = mech.allocate(rng, 50, 40, (1, 2), strata=rng.integers(0, 3, (50, 40)))
        events = mech.exponential_event_times(rng, arm, 10.0, 0.7)
        drop = mech.dropout_times(rng, (50, 40), 0.01)
        return entry, arm, events, drop, mech.analysis_time_events(entry, events, drop, 20)

    a, b, c = run(11), run(11), run(12)
    for x, y, z in zip(a[:4] + tuple(a[4]), b[:4] + tuple(b[4]), c[:4] + tuple(c[4])):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_calendar_cut_by_hand():
    entry = np.array([[0.0, 2.0, 5.0, 9.0]])
    event_time = np.array([[3.0, 10.0, 1.0, 0.5]])
    drop = np.array([[np.inf, 4.0, 2.0, np.inf]])
    d = mech.analysis_time_calendar(entry, event_time, drop, 6.0)
    # P1 event at 3; P2 drops out at 4 (before its event at 10); P3 event at 1 (calendar 6 = cut,
    # counted); P4 enters after the cut.
    np.testing.assert_array_equal(d.time, [[3.0, 4.0, 1.0, 0.0]])
    np.testing.assert_array_equal(d.event, [[True, False, True, False]])
    np.testing.assert_array_equal(d.mask, [[True, True, True, False]])
    early = mech.analysis_time_calendar(entry, event_time, drop, 4.0)
    np.testing.assert_array_equal(early.time, [[3.0, 2.0, 0.0, 0.0]])
    np.testing.assert_array_equal(early.event, [[True, False, False, False]])


def test_event_driven_cut_counts_exactly_d_events():
    rng = np.random.default_rng(7)
    n_trials, n = 500, 100
    entry = mech.accrual_times(rng, n_trials, n, 5.0)
    arm = mech.allocate(rng, n_trials, n)
    events = mech.exponential_event_times(rng, arm, 8.0)
    drop = mech.dropout_times(rng, (n_trials, n), 0.05)  # heavy dropout: some trials fall short
    d = mech.analysis_time_events(entry, events, drop, 60)
    reached = np.isfinite(d.cut)
    assert 0 < reached.sum() < n_trials
    np.testing.assert_array_equal(d.event[reached].sum(axis=1), 60)
    # Trials that never reach 60 events are analysed with all their follow-up.
    never = ~reached
    np.testing.assert_array_equal(d.event[never], (events <= drop)[never])
    assert np.all(d.event[never].sum(axis=1) < 60)
    # A calendar cap applies to the trials that are slower than it.
    capped = mech.analysis_time_events(entry, events, drop, 60, max_time=20.0)
    np.testing.assert_array_equal(capped.cut, np.minimum(d.cut, 20.0))
    assert np.isinf(mech.event_cut_times(entry, events, drop, n + 1)).all()


def test_information_looks_are_nested():
    rng = np.random.default_rng(8)
    entry = mech.accrual_times(rng, 300, 200, 10.0)
    arm = mech.allocate(rng, 300, 200)
    events = mech.exponential_event_times(rng, arm, 10.0, 0.8)
    looks = mech.information_looks(entry, events, None, 150, [1 / 3, 0.6, 1.0])
    counts = [lk.event.sum(axis=1) for lk in looks]
    for c, target in zip(counts, (50, 90, 150)):
        np.testing.assert_array_equal(c, target)
    cuts = np.array([lk.cut for lk in looks])
    assert np.all(np.diff(cuts, axis=0) > 0)
    assert np.all(looks[0].mask <= looks[1].mask) and np.all(looks[1].mask <= looks[2].mask)
    with pytest.raises(ValueError, match="increase"):
        mech.information_looks(entry, events, None, 150, [0.6, 0.5])

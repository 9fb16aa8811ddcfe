"""Aalen-Johansen state occupation time (``python -m benchmarks.bench_aalen_johansen``).

- competing risks (0 -> 1, 0 -> 2), 10,000 patients, against scikit-survival's
  ``cumulative_incidence_competing_risks`` on the same data (the ratio);
- the pathway model's five states (re-induction -> remission or relapsed/refractory at the
  assessment, remission -> transplanted, -> relapsed/refractory, any -> dead), 10,000 patients,
  times to 0.01 month (a few thousand distinct event times); target well under 1 s.
"""

from __future__ import annotations

import numpy as np
from sksurv.nonparametric import cumulative_incidence_competing_risks

from benchmarks.timing import best_of
from relapse_model.common.aalen_johansen import Transitions, state_occupation


def competing_risks(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cause (0 = censored) and time, on a 0.01 grid."""
    time = np.round(rng.exponential(12.0, n), 2) + 0.01
    return np.where(rng.random(n) < 0.8, rng.integers(1, 3, n), 0), time


def five_states(n: int, rng: np.random.Generator) -> tuple[Transitions, np.ndarray]:
    """Paths 0 -> {1, 3} at a fixed assessment, 1 -> 2 -> 3 -> 4 with exits to 4, uncensored until death
    or a uniform follow-up."""
    censor = np.round(rng.uniform(12.0, 96.0, n), 2)
    rows, t = [], np.full(n, 1.5)
    state = np.where(rng.random(n) < 0.7, 1, 3)
    rows.append((np.arange(n), t.copy(), np.zeros(n, int), state.copy()))
    for _ in range(3):
        t = t + np.round(rng.exponential(10.0, n), 2) + 0.01
        nxt = np.where(state == 1, rng.choice([2, 3, 4], n), np.where(state == 2, rng.choice([3, 4], n), 4))
        move = (state < 4) & (t <= censor)
        rows.append((np.flatnonzero(move), t[move], state[move], nxt[move]))
        state = np.where(move, nxt, state)
        censor = np.where(move & (nxt == 4), t, censor)
    p, tt, a, b = (np.concatenate(c) for c in zip(*rows))
    order = np.lexsort((tt, p))
    return Transitions(p[order], tt[order], a[order], b[order]), censor


def main(n: int = 10_000) -> None:
    rng = np.random.default_rng(1)
    cause, time = competing_risks(n, rng)
    idx = np.flatnonzero(cause > 0)
    tr = Transitions(idx, time[idx], np.zeros(len(idx), int), cause[idx])
    grid = np.unique(time)
    t_aj = best_of(lambda: state_occupation(np.zeros(n, int), tr, time, 3, grid))
    t_sk = best_of(lambda: cumulative_incidence_competing_risks(cause, time))
    print(f"competing risks, {n} patients, {len(np.unique(time[idx]))} event times: "
          f"state_occupation {t_aj * 1e3:.1f} ms, sksurv {t_sk * 1e3:.1f} ms (ratio {t_aj / t_sk:.2f})")
    transitions, censor = five_states(n, rng)
    months = np.arange(0.0, 97.0, 0.5)
    t_5 = best_of(lambda: state_occupation(np.zeros(n, int), transitions, censor, 5, months))
    print(f"five states, {n} patients, {len(transitions)} transitions, {len(np.unique(transitions.time))} event "
          f"times: {t_5 * 1e3:.1f} ms (target well under 1 s): {'ok' if t_5 < 0.5 else 'SLOW'}")


if __name__ == "__main__":
    main()

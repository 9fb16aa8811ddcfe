"""Simon two-stage search time (``python -m benchmarks.bench_designs``).

No R is available here, so there is no clinfun timing to compare with: the script reports the
wall time of :func:`relapse_model.designs.simon_two_stage` (best of 3) for optimal and minimax
searches with ``n_max = 100`` over settings with small and large response rates, including ones
that need n close to 100 and ones with no feasible design (the whole range is then ruled out).
Target: every search <= 1 s.
"""

from __future__ import annotations

from benchmarks.timing import best_of
from relapse_model.designs import simon_two_stage
from relapse_model.errors import InputError

#: (p0, p1, alpha, power)
SETTINGS = [
    (0.05, 0.15, 0.05, 0.80),
    (0.10, 0.30, 0.05, 0.80),
    (0.20, 0.40, 0.10, 0.90),
    (0.30, 0.45, 0.05, 0.80),
    (0.45, 0.60, 0.05, 0.90),
    (0.60, 0.75, 0.05, 0.90),
    (0.70, 0.90, 0.05, 0.80),
    (0.50, 0.55, 0.05, 0.90),  # infeasible with n <= 100
]


def time_search(p0: float, p1: float, alpha: float, power: float, kind: str,
                n_max: int = 100) -> tuple[str, float]:
    """Design found (or "none") and the best-of-3 wall time of the search, in seconds."""
    def run():
        try:
            return simon_two_stage(p0, p1, alpha, power, kind=kind, n_max=n_max)
        except InputError:
            return None
    d = run()
    text = "none <= 100" if d is None else f"{d.r1}/{d.n1}, {d.r}/{d.n}"
    return text, best_of(run, repeat=3)


def main() -> None:
    print("Simon two-stage search, n_max = 100 (best of 3 runs)")
    print(f"{'p0':>5} {'p1':>5} {'alpha':>6} {'power':>6} {'kind':>8} {'design':>16} {'seconds':>8}")
    worst = 0.0
    for p0, p1, a, pw in SETTINGS:
        for kind in ("optimal", "minimax"):
            text, t = time_search(p0, p1, a, pw, kind)
            worst = max(worst, t)
            print(f"{p0:5.2f} {p1:5.2f} {a:6.2f} {pw:6.2f} {kind:>8} {text:>16} {t:8.3f}")
    print(f"slowest search: {worst:.3f} s (target <= 1 s): {'ok' if worst <= 1.0 else 'SLOW'}")


if __name__ == "__main__":
    main()

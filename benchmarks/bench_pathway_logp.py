"""Time of one evaluation of the pathway model's log-density and gradient (what NUTS pays per
leapfrog step), on the bundled 800-patient cohort, at the initial point.

    python -m benchmarks.bench_pathway_logp [cohort] [--profile]

Prints the median over ``repeats`` blocks of ``number`` evaluations (microseconds per evaluation);
``--profile`` also prints PyTensor's per-Op profile of the joint logp + gradient function.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np


def logp_dlogp(cohort_name: str = "cog_like", profile: bool = False):
    """(function of the raveled point, initial point) of the pathway model's logp and gradient."""
    import pytensor

    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models.pathway.model import PathwayModel

    cohort = load_bundled(cohort_name)
    model = PathwayModel().build(cohort)
    with pytensor.config.change_flags(profile=profile):
        fn = model.logp_dlogp_function(ravel_inputs=True)
    fn.set_extra_values({})
    point = model.initial_point(0)
    x0 = np.concatenate([np.ravel(point[v.name]) for v in fn._grad_vars])
    return fn, x0, len(cohort)


def time_evaluations(fn, x, number: int = 200, repeats: int = 7) -> tuple[list[float], list[float]]:
    """Microseconds per call of ``fn(x)`` (wall clock, and CPU time of this process, which other
    processes on a shared machine disturb less), one value per block of ``number`` calls."""
    fn(x)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(number):
            fn(x)
        wall.append((time.perf_counter() - t0) / number * 1e6)
        cpu.append((time.process_time() - c0) / number * 1e6)
    return wall, cpu


def main(argv: list[str]) -> None:
    profile = "--profile" in argv
    names = [a for a in argv if not a.startswith("--")]
    fn, x0, n = logp_dlogp(names[0] if names else "cog_like", profile)
    times, cpu = time_evaluations(fn, x0)
    logp, grad = fn(x0)
    print(f"{n} patients, {x0.size} parameters: logp {float(logp):.10f}, |grad| {np.linalg.norm(grad):.6f}")
    print(f"logp+grad: median {statistics.median(times):.1f} us per evaluation "
          f"(blocks: {', '.join(f'{t:.0f}' for t in times)}); CPU time median {statistics.median(cpu):.1f} us")
    if profile:
        fn._pytensor_function.profile.summary()


if __name__ == "__main__":
    main(sys.argv[1:])

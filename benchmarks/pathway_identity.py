"""Per-patient log-likelihood (and model logp / gradient) of the pathway model at random points,
to compare two versions of the code: run once per version (PYTHONPATH selects it).

    python -m benchmarks.pathway_identity save OUT.npz      # reference version
    python -m benchmarks.pathway_identity compare OUT.npz   # changed version
"""

from __future__ import annotations

import sys

import numpy as np

N_POINTS = 6


def evaluate(cohort_name: str = "cog_like", n_points: int = N_POINTS, seed: int = 20261201):
    """(points, pointwise log-likelihood (k, n), model logp (k,), gradient (k, d)) at random points."""
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models.pathway.model import PathwayModel

    model = PathwayModel().build(load_bundled(cohort_name))
    pointwise = model.compile_fn(model.logp(vars=model.observed_RVs, sum=False)[0])
    fn = model.logp_dlogp_function(ravel_inputs=True)
    fn.set_extra_values({})
    start = model.initial_point(0)
    rng = np.random.default_rng(seed)
    names = [v.name for v in fn._grad_vars]
    points, ll, lp, grads = [], [], [], []
    for k in range(n_points):
        scale = 0.0 if k == 0 else 0.3 * k
        point = {name: start[name] + scale * rng.standard_normal(np.shape(start[name])) for name in names}
        points.append(point)
        ll.append(pointwise(point))
        logp, grad = fn(np.concatenate([np.ravel(point[name]) for name in names]))
        lp.append(logp)
        grads.append(grad)
    return points, np.array(ll), np.array(lp), np.array(grads)


def main(argv: list[str]) -> None:
    action, path = argv
    if action == "save":
        points, ll, lp, grads = evaluate()
        flat = {f"point{k}/{name}": v for k, p in enumerate(points) for name, v in p.items()}
        np.savez(path, ll=ll, lp=lp, grads=grads, **flat)
        print(f"saved {ll.shape} pointwise log-likelihoods; logp {lp}")
        return
    ref = np.load(path)
    _, ll, lp, grads = evaluate()
    rel = np.abs(ll - ref["ll"]) / np.maximum(np.abs(ref["ll"]), 1e-300)
    print(f"pointwise log-likelihood: shape {ll.shape}, max relative difference {rel.max():.3e}")
    print(f"model logp: max relative difference {np.max(np.abs(lp - ref['lp']) / np.abs(ref['lp'])):.3e}")
    g_rel = np.abs(grads - ref["grads"]) / np.maximum(np.abs(ref["grads"]), 1e-8)
    print(f"gradient: max relative difference {g_rel.max():.3e}")
    assert rel.max() <= 1e-10, "pointwise log-likelihood changed"


if __name__ == "__main__":
    main(sys.argv[1:])

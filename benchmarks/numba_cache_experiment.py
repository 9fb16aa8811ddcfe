"""Minimal experiment behind the Numba cold-versus-warm finding (see sampling.sample_posterior).

(It runs ``nutpie.compile_pymc_model`` itself; the package now compiles through
``relapse_model.models.nutpie_numba.compile_for_nutpie``, whose callbacks are cached.)

nutpie compiles the model's logp+gradient with PyTensor's Numba backend and wraps it in a
``numba.cfunc`` that Numba can never cache (it captures dynamic globals), so that wrapper is
compiled in every process, against a logp that is either freshly compiled (empty cache) or loaded
from Numba's on-disk cache. This script evaluates, at 300 fixed points, (a) nutpie's cfunc and
(b) the PyTensor-jitted function called from Python, and prints a hash of the output bits:

    D=$(mktemp -d)   # run twice: the first run fills the cache, the second reuses it
    PYTENSOR_FLAGS=base_compiledir=$D NUMBA_CACHE_DIR=$D/numba python -m benchmarks.numba_cache_experiment
    PYTENSOR_FLAGS=base_compiledir=$D NUMBA_CACHE_DIR=$D/numba python -m benchmarks.numba_cache_experiment
    # add ,numba__fastmath=False to PYTENSOR_FLAGS for the reproducible variant

Measured (PyTensor 3.3.7, Numba 0.68, nutpie 0.16.11), default fastmath flags:
cold process: cfunc f9c0a71a…, jit f9c0a71a…; warm process: cfunc ef09f4e4…, jit ef09f4e4…
(the same in a second cache made by another cold process); a warm process whose cache lacked
the Python-call specialization compiled that one afresh: cfunc ef09f4e4… (cached), jit
f9c0a71a… (fresh). First differing value: logp -2110.256013103978 vs -2110.2560131039786.
Note PyTensor keeps its Numba cache under ``base_compiledir/numba``, not NUMBA_CACHE_DIR.
"""
import ctypes, hashlib, json, time
t0 = time.perf_counter()
import numpy as np, nutpie
from relapse_model.cohort.bundled import load_bundled
from relapse_model.models.model import RelapseModel
model = RelapseModel().build(load_bundled("cog_like"))
t1 = time.perf_counter()
c = nutpie.compile_pymc_model(model, backend="numba")
t2 = time.perf_counter()
n = c.n_dim
f = c.compiled_logp_func.ctypes
rng = np.random.default_rng(0)
h_c, h_py, h_init = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
x0 = np.asarray(c.initial_point_func(1), dtype=np.float64)  # seed 1
h_init.update(x0.tobytes())
out = np.zeros(n); lp = np.zeros(())
first_diffs = []
for i in range(300):
    x = np.ascontiguousarray(x0 + rng.normal(0, 0.3, size=n))
    P = ctypes.POINTER(ctypes.c_double)
    rc = f(n, x.ctypes.data_as(P), out.ctypes.data_as(P), lp.ctypes.data_as(P), c.user_data.ctypes.data)
    h_c.update(lp.tobytes()); h_c.update(out.tobytes())
    pyout = c.logp_func(x)
    for o in pyout: h_py.update(np.ascontiguousarray(o, dtype=np.float64).tobytes())
    if i < 3: first_diffs.append([float(lp), float(out[0]), float(out[-1]), float(np.asarray(pyout[0]))])
t3 = time.perf_counter()
print(json.dumps({"cfunc": h_c.hexdigest()[:16], "pytensor_jit": h_py.hexdigest()[:16],
                  "init_point": h_init.hexdigest()[:16], "first": first_diffs,
                  "compile_s": round(t2 - t1, 1), "first_eval_s": round(t3 - t2, 1)}))

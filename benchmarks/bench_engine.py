"""The posterior-driven trial engine end to end, and streaming a million trials in bounded memory.

Peers: the kernel-level log-rank comparison with lifelines is in bench_trials.py; here the whole
pipeline (resampling, posterior draws, outcome simulation, accrual, allocation, data cuts and
analysis) is timed, and peak memory is read from the OS for a 1,000,000-trial run.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_STREAM = """
import resource, sys, time
from relapse_model.models import RelapseModel
from relapse_model.simulate.engine import simulate_trials
from relapse_model.simulate.spec import load_trial_spec, with_overrides
m = RelapseModel.load(sys.argv[1])
spec = with_overrides(load_trial_spec("reports/trials/cpx351_vs_flag.toml"),
                      {"analysis.primary": "logrank", "analysis.estimates": []})
t0 = time.perf_counter()
ds = simulate_trials(m, spec, seed=1, n_trials=int(sys.argv[2]), scenarios=("power",), curves=False,
                     chunk_trials=10_000)
print(f"STREAM {time.perf_counter() - t0:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
      f"{float(ds['reject'].mean()):.4f}")
"""


def main(n_stream: int = 1_000_000) -> None:
    from relapse_model.cohort.bundled import load_bundled
    from relapse_model.models import RelapseModel
    from relapse_model.simulate.engine import simulate_trials
    from relapse_model.simulate.spec import load_trial_spec, with_overrides

    model = RelapseModel().fit(load_bundled("cog_like"), draws=250, tune=250, chains=2, random_seed=1,
                               progressbar=False)
    spec = with_overrides(load_trial_spec("reports/trials/cpx351_vs_flag.toml"),
                          {"analysis.primary": "logrank", "analysis.estimates": []})
    simulate_trials(model, spec, seed=0, n_trials=250, scenarios=("power",), curves=False)  # warm-up
    t0 = time.perf_counter()
    simulate_trials(model, spec, seed=1, n_trials=10_000, scenarios=("power",), curves=False)
    t_engine = time.perf_counter() - t0
    print(f"engine, 10,000 two-arm trials x 300 patients, log-rank at 200 events: {t_engine:.2f} s "
          f"({10_000 / t_engine:,.0f} trials/s; simulation and analysis, posterior-driven)")
    with tempfile.TemporaryDirectory(dir=".cache") as tmp:
        fit = Path(tmp) / "fit.nc"
        model.save(fit)
        done = subprocess.run([sys.executable, "-c", _STREAM, str(fit), str(n_stream)], capture_output=True,
                              text=True, check=True)
    secs, peak_mib, success = next(line.split()[1:] for line in done.stdout.splitlines() if line.startswith("STREAM"))
    print(f"streaming {n_stream:,} trials in chunks of 10,000: {float(secs):.0f} s, peak memory "
          f"{float(peak_mib):,.0f} MiB (target < 2048 MiB); P(success) {success}")
    print(f"this process peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

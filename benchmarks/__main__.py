"""Run every benchmark: ``make bench`` (or ``python -m benchmarks [cohort|trials|engine|model|new-data|pathway|master|stan]``).

``stan`` (rstan beside our samplers, needs R with rstan) is not in the default set.
"""

import sys

from benchmarks import bench_cohort, bench_trials

NAMES = ("cohort", "trials", "engine", "model", "new-data", "pathway", "master", "stan")

if __name__ == "__main__":
    which = set(sys.argv[1:]) or {"cohort", "trials", "engine", "model"}
    unknown = sorted(which - set(NAMES))
    if unknown:
        # options such as --only belong to one benchmark's module; silently ignoring them ran more
        print(f"python -m benchmarks: {' '.join(unknown)}: not a benchmark ({', '.join(NAMES)}); options go to "
              "the benchmark's module, e.g. python -m benchmarks.bench_model --only full", file=sys.stderr)
        sys.exit(2)
    if "cohort" in which:
        bench_cohort.main()
    if "trials" in which:
        bench_trials.main()
    if "engine" in which:
        from benchmarks import bench_engine
        bench_engine.main()
    if "model" in which:
        from benchmarks import bench_model
        bench_model.main()
    if "new-data" in which:
        from benchmarks import bench_new_data
        print(bench_new_data.main("competing"))
    if "pathway" in which:
        from benchmarks import bench_pathway
        bench_pathway.main()
    if "master" in which:
        from benchmarks import bench_master
        bench_master.main()
    if "stan" in which:
        from benchmarks import bench_stan
        bench_stan.main([])

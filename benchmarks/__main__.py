"""Run every benchmark: ``make bench`` (or ``python -m benchmarks``)."""

from benchmarks import bench_cohort

if __name__ == "__main__":
    bench_cohort.main()

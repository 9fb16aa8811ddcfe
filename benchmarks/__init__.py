"""Benchmarks: each reports a ratio against a peer run on the same data in the same process."""

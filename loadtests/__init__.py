"""Benchmarks and load scripts; run as modules (e.g. `python -m loadtests.bench_e2e`). Not tests."""

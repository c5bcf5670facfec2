"""Benchmarks (not part of the test suite): `make bench` writes build/reports/bench.md. See docs/benchmarks.md."""

"""Benchmarks of the running assistant; see docs/benchmarks.md for the results."""

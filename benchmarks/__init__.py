"""Benchmarks of netexplorer (``python -m benchmarks``); not part of the test suite."""

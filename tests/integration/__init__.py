"""Integration tests: need root and, for most, the lab (``scripts/lab up``)."""

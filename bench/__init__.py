"""Benchmarks: scripts that print figures (``python -m bench.ingest``), never timed tests."""

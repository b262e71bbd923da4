"""Benchmarks: scripts that print a table and write it as JSON (bench/results/<name>.json).

Run one with `.venv/bin/python -m bench.<name>`; see bench/README.md.
"""

"""Benchmarks of storage-jobs against direct baselines run side by side (``python -m bench``)."""

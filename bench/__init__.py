"""The benchmark (not a test): `python bench/compare.py` is the entry point; see bench/README.md."""

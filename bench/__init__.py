"""Benchmark of the rendered services against raw Litestar (``uv run python -m bench``; see bench/README.md)."""

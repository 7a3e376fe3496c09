"""Benchmarks, run with `python -m bench` (all) or `python -m bench.<name>` (one).

Each module exposes `main(argv: list[str] | None = None) -> int`. Benchmarks may read
../shared/data; the test suite never does, and no test asserts on speed.
"""

"""Run every benchmark module in this package, in name order; exit non-zero if any fails."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import bench

_log = logging.getLogger("bench")


def main() -> int:
    """Find each `bench.<module>` with a `main`, run it with no arguments, and sum the failures."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    failed = 0
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        run = getattr(module, "main", None)
        if run is None:
            continue
        _log.info("running bench.%s", info.name)
        try:
            if run([]) != 0:
                failed += 1
        except Exception:   # noqa: BLE001 - one broken benchmark must not hide the others
            _log.exception("bench.%s crashed", info.name)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

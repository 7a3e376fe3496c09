"""haidang.malloc: the arena cap of the long-running processes, applied in a child interpreter (the
cap is process-wide) the way `haidang serve` and `haidang web` apply it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from haidang.settings import ServiceSettings

CODE = "from haidang.malloc import limit_arenas; import sys; print(limit_arenas(int(sys.argv[1])))"


def applied(arenas: int, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run([sys.executable, "-c", CODE, str(arenas)], capture_output=True, text=True, check=True,
                          env=environ, timeout=60)
    return done.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena cap is a glibc setting")
def test_the_cap_is_applied_on_glibc_unless_the_operator_set_it() -> None:
    assert applied(2) == "True"
    assert applied(2, MALLOC_ARENA_MAX="4") == "False"      # the operator's variable wins
    assert applied(0) == "False"                            # 0: glibc's default


def test_the_shipped_default_caps_at_two() -> None:
    assert ServiceSettings().malloc_arenas == 2


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is a glibc function")
def test_free_memory_goes_back_to_the_system_after_a_job() -> None:
    """Many small blocks freed from the middle of the heap stay resident until trimmed."""
    code = ("import resource, sys; from haidang.malloc import release_free\n"
            "def rss():\n    return int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()\n"
            "keep, drop = [], []\n"
            "for i in range(100_000):\n    (keep if i % 50 == 0 else drop).append(bytes(1000))\n"
            "drop.clear(); before = rss(); released = release_free(); print(released, before - rss())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    released, freed = done.stdout.split()
    assert released == "True"
    assert int(freed) > 20 * 2**20        # most of the ~90 MB freed in the middle of the heap


def test_trimming_after_jobs_is_on_by_default() -> None:
    assert ServiceSettings().malloc_trim is True

"""glibc malloc arenas of the long-running processes (`haidang serve`, `haidang web`).

glibc gives each thread that allocates under contention an arena of its own, up to 8 per core,
and memory freed in one arena is not reused by another: the service's worker threads (source
polls, alert jobs, the web app) each hold partly empty arenas, so the resident size of a
`haidang serve` grew by about 2 MB a minute with no Python object growing
(`python -m bench.serve_memory`: +72 MB over 45 minutes and 540 polls with glibc's default,
about half that rate with 2 arenas). Capping the arenas before the threads start trades a little
lock contention, negligible beside crawling and parsing, for a much slower growth. The rest was
freed pages that stay resident inside the heaps until reused: `release_free` after each job hands
them back: with both, the floor of a 60-minute run stayed at 277 MB over 480 polls after warm-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os

__all__ = ["limit_arenas", "release_free"]

_log = logging.getLogger(__name__)
_M_ARENA_MAX = -8           # glibc's malloc.h


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (which has mallopt and malloc_trim), else None. Looked up
    once: `release_free` runs after every job."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def limit_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at `arenas` for threads started from now on (0: glibc's default).
    True when applied; False on a C library other than glibc (musl, macOS), which has no such knob.
    The MALLOC_ARENA_MAX environment variable, when set, is the operator's choice and wins."""
    if arenas <= 0 or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _glibc()
    if libc is None:
        return False
    applied = bool(libc.mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(arenas)))
    _log.debug("malloc arenas capped at %d: %s", arenas, applied)
    return applied


def release_free() -> bool:
    """Hand the free pages of every arena back to the system (glibc's malloc_trim), after a job.

    glibc returns memory to the system only from the top of the main heap; pages freed in the middle
    of a heap or in a thread's arena stay resident until reused. True when it released something."""
    libc = _glibc()
    return bool(libc.malloc_trim(ctypes.c_size_t(0))) if libc is not None else False

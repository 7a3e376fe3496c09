"""The cap on report builds running at once in one web process, with a bounded wait for a turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

__all__ = ["BuildSlots", "Busy"]

T = TypeVar("T")


class Busy:
    """What `BuildSlots.run` gives when no slot came free in time: nothing was run."""


class BuildSlots:
    """At most `slots` blocking jobs run at once; a job waits at most `wait_s` seconds for a slot.

    A deadline report costs seconds of a core and a couple of hundred MB (see README "Reports"), so
    uncapped, a few officers pressing "Tạo báo cáo" together (or one pressing it again and again)
    would fill the memory of the process that also serves the flag pages and the scheduler. The wait
    is bounded so a request never queues behind a long line: past it the caller answers 503 and the
    officer tries again. Waiters take their turns in order (anyio's limiter is FIFO).

    `limiter` is public so a test can hold its tokens; `wait_s` may be set to 0 (no wait at all).
    """

    def __init__(self, slots: int, wait_s: float) -> None:
        self.limiter = anyio.CapacityLimiter(slots)
        self.wait_s = wait_s

    async def run(self, job: Callable[[], T]) -> T | Busy:
        """`job()` in a worker thread once a slot is free, or Busy when none came free within
        `wait_s`. The slot is held until the thread ends, even if the request is cancelled meanwhile
        (a thread cannot be stopped, so the slot would otherwise lie about the work running)."""
        try:
            self.limiter.acquire_nowait()
        except anyio.WouldBlock:
            acquired = False
            with anyio.move_on_after(self.wait_s):
                await self.limiter.acquire()
                acquired = True
            if not acquired:
                return Busy()
        try:
            # The default thread limiter (Starlette's pool), not `self.limiter`: this task already holds
            # one of its tokens, and a borrower may hold only one.
            return await anyio.to_thread.run_sync(job)
        finally:
            self.limiter.release()

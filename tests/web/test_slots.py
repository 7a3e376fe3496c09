"""BuildSlots: at most N jobs at once, a bounded wait for a turn, and the slot given back however the
job ends."""

from __future__ import annotations

import threading

import anyio
import pytest

from haidang.web.slots import BuildSlots, Busy


def test_a_job_beyond_the_slots_is_not_run_and_gets_busy() -> None:
    ran: list[str] = []

    def job(name: str) -> str:
        ran.append(name)
        return name

    async def main() -> None:
        slots = BuildSlots(2, wait_s=0)
        assert slots.limiter.total_tokens == 2
        assert await slots.run(lambda: job("free")) == "free"
        holders = [object(), object()]
        for holder in holders:
            slots.limiter.acquire_on_behalf_of_nowait(holder)
        assert isinstance(await slots.run(lambda: job("over")), Busy)
        slots.limiter.release_on_behalf_of(holders[0])
        assert await slots.run(lambda: job("freed")) == "freed"
        assert slots.limiter.borrowed_tokens == 1

    anyio.run(main)
    assert ran == ["free", "freed"]


def test_a_failing_job_gives_its_slot_back() -> None:
    async def main() -> None:
        slots = BuildSlots(1, wait_s=0)

        def fail() -> None:
            raise OSError("disk full")

        with pytest.raises(OSError, match="disk full"):
            await slots.run(fail)
        assert slots.limiter.borrowed_tokens == 0

    anyio.run(main)


def test_the_slot_is_held_while_the_thread_runs_after_the_caller_is_cancelled() -> None:
    """A thread cannot be stopped: a cancelled request must not free a slot its build still uses."""
    started, release = threading.Event(), threading.Event()

    def job() -> str:
        started.set()
        release.wait(timeout=60)
        return "built"

    async def main() -> None:
        slots = BuildSlots(1, wait_s=0)
        request = anyio.CancelScope()

        async def serve() -> None:
            with request:
                await slots.run(job)

        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            await anyio.to_thread.run_sync(started.wait, 60)
            request.cancel()
            await anyio.wait_all_tasks_blocked()
            assert slots.limiter.borrowed_tokens == 1          # the job still runs, still counted
            assert isinstance(await slots.run(lambda: "second"), Busy)
            release.set()
        assert request.cancel_called and slots.limiter.borrowed_tokens == 0

    anyio.run(main)

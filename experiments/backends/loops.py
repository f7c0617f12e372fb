"""The two kinds of ``Loop`` a run executes on: simulated time and asyncio.

Rules: ``SimLoop`` never reads a real clock and runs blocking work inline, so a simulated
run stays deterministic; ``AsyncioLoop`` measures time with ``time.monotonic_ns`` from the
run's start and runs blocking work in a small thread pool, handing results back on the
loop thread. Both bound how long a program may run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from experiments.backends.base import Cancel, Program
from experiments.sim.events import NS_PER_S, Scheduler

T = TypeVar("T")


class SimLoop:
    """A ``Loop`` on the simulator's scheduler (time is simulated nanoseconds)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def now(self) -> int:
        """Simulated nanoseconds."""
        return self.scheduler.now

    def call_at(self, at: int, action: Callable[[], None]) -> Cancel:
        """Schedule ``action`` at simulated time ``at``."""
        return self.scheduler.call_at(at, action)

    def call_later(self, delay: int, action: Callable[[], None]) -> Cancel:
        """Schedule ``action`` after ``delay`` simulated ns."""
        return self.scheduler.call_later(delay, action)

    def run_blocking(
        self, work: Callable[[], T], done: Callable[[T | BaseException], None]
    ) -> None:
        """Run ``work`` now, inline (nothing on the simulator blocks)."""
        try:
            result: T | BaseException = work()
        except Exception as exc:  # handed to ``done``, as a thread would
            result = exc
        done(result)

    def execute(self, program: Program, *, limit_s: float, max_events: int | None) -> bool:
        """Run ``program`` until it finishes, ``limit_s`` simulated seconds pass, or the
        event budget runs out; True when it finished."""
        finished = False

        def finish() -> None:
            nonlocal finished
            finished = True

        program(self, finish)
        limit = int(limit_s * NS_PER_S)
        step = NS_PER_S // 10
        while not finished and self.scheduler.now < limit:
            if not self.scheduler.run_until(min(limit, self.scheduler.now + step),
                                            max_events=max_events):
                return False
            if not self.scheduler.pending and not finished:
                break
        return finished


class AsyncioLoop:
    """A ``Loop`` on a running asyncio event loop (time: monotonic ns since ``start``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: ThreadPoolExecutor) -> None:
        self.loop = loop
        self.executor = executor
        self.start_ns = time.monotonic_ns()
        self._start_loop_s = loop.time()

    def now(self) -> int:
        """Nanoseconds since the loop was made."""
        return time.monotonic_ns() - self.start_ns

    def call_at(self, at: int, action: Callable[[], None]) -> Cancel:
        """Run ``action`` at ``at`` ns after the start."""
        return self.loop.call_at(self._start_loop_s + at / NS_PER_S, action)

    def call_later(self, delay: int, action: Callable[[], None]) -> Cancel:
        """Run ``action`` after ``delay`` ns."""
        return self.loop.call_later(max(0, delay) / NS_PER_S, action)

    def run_blocking(
        self, work: Callable[[], T], done: Callable[[T | BaseException], None]
    ) -> None:
        """Run ``work`` in the thread pool; ``done`` runs on the loop thread."""
        future: Future[T] = self.executor.submit(work)

        def settle(finished: Future[T]) -> None:
            exc = finished.exception()
            result: T | BaseException = exc if exc is not None else finished.result()
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(done, result)

        future.add_done_callback(settle)


def run_on_asyncio(program: Program, *, limit_s: float, workers: int = 4) -> bool:
    """Run ``program`` on a fresh asyncio loop until it finishes or ``limit_s`` wall seconds
    pass; True when it finished. Blocking work goes to ``workers`` threads."""

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chaoslab-run") as pool:
            runner_loop = AsyncioLoop(loop, pool)

            def finish() -> None:
                if not finished.done():
                    finished.set_result(None)

            program(runner_loop, finish)
            try:
                await asyncio.wait_for(asyncio.shield(finished), timeout=limit_s)
            except TimeoutError:
                return False
            return True

    return asyncio.run(main())

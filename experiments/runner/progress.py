"""The live display of a run: elapsed time, operations per second, ok / fail / info, the
faults in force and the leader; plain lines when the output is not a terminal.

Rules: reads the engine's ``Progress`` (which the run's loop updates) and prints; never
touches the run. On a terminal a rich ``Live`` panel refreshes itself; otherwise one line
is printed every ``every_s`` seconds of run time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from experiments.runner.engine import Progress


def describe(progress: Progress, duration_s: float, rate: float) -> str:
    """One line: ``12.3/60 s  240 ops/s  ok 2900 fail 40 info 3  leader n2 (t4)  fault: ...``."""
    faults = "; ".join(progress.faults) or "none"
    leader = f"{progress.leader} (term {progress.term})" if progress.leader else "none agreed"
    return (
        f"{progress.phase:<11} {progress.now_s:6.1f}/{duration_s:g} s  {rate:6.0f} ops/s  "
        f"ok {progress.ok}  fail {progress.fail}  info {progress.info}  "
        f"leader {leader}  faults: {faults}"
    )


class LiveProgress:
    """A context manager whose ``update`` the engine calls after every status reading."""

    def __init__(self, console: Console, title: str, duration_s: float, *,
                 every_s: float = 5.0) -> None:
        self.console = console
        self.title = title
        self.duration_s = duration_s
        self.every_s = every_s
        self._live: Live | None = None
        self._last_print = -every_s
        self._window: list[tuple[float, int]] = []

    def __enter__(self) -> LiveProgress:
        if self.console.is_terminal:
            self._live = Live(Text(self.title), console=self.console, refresh_per_second=4,
                              transient=True)
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)
            self._live = None

    def _rate(self, progress: Progress) -> float:
        now = time.monotonic()
        self._window.append((now, progress.invoked))
        while len(self._window) > 2 and now - self._window[0][0] > 2.0:
            self._window.pop(0)
        first_t, first_n = self._window[0]
        return (progress.invoked - first_n) / (now - first_t) if now > first_t else 0.0

    def update(self, progress: Progress) -> None:
        """Show the latest progress."""
        line = describe(progress, self.duration_s, self._rate(progress))
        if self._live is not None:
            self._live.update(Text(f"{self.title}\n{line}"))
        elif progress.now_s - self._last_print >= self.every_s:
            self._last_print = progress.now_s
            self.console.print(line, highlight=False, soft_wrap=True)

    @property
    def callback(self) -> Callable[[Progress], None]:
        """``update``, for the engine."""
        return self.update

"""Sample a server process with py-spy while a benchmark point runs, and summarise it.

Rules: py-spy is an optional tool (``pip install py-spy``): without it, or without the
right to trace the process, profiling is skipped with a warning and never fails the
benchmark. The raw output (collapsed stacks, one ``frame;frame;... count`` line per
stack) is kept beside the JSON; the summary is pure: the share of samples whose
innermost frame is each function (self) and the share of samples that pass through
each of a few named layers (inclusive). Shares are of sampled stacks, not of CPU time:
py-spy leaves out threads it sees idle, but a thread blocked in native code (grpc's
completion-queue poller, ``epoll_wait``, ``fsync``) still counts as sampled.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger()
SAMPLE_RATE_HZ = 200
LAYERS: dict[str, tuple[str, ...]] = {
    "raft core": ("nodes/raft/",),
    "replica + kv": ("nodes/replica.py", "nodes/kv/"),
    "storage": ("nodes/storage/",),
    "server (services, transport, node)": ("nodes/server/",),
    "grpc": ("grpc/",),
    "asyncio": ("asyncio/",),
    "protobuf": ("protobuf/", "_pb2"),
}
"""Which frames belong to which layer, by a piece of their file path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileSummary:
    """The top of one profile.

    Attributes:
        samples: stacks sampled.
        top_self: (function, share of samples with it innermost), largest first.
        layers: (layer, share of samples that pass through it).
        raw: where the collapsed stacks were written.
    """

    samples: int
    top_self: list[tuple[str, float]]
    layers: list[tuple[str, float]]
    raw: str


class Sampler:
    """One py-spy ``record`` of a process for a fixed duration."""

    def __init__(self, pid: int, duration_s: float, out: Path) -> None:
        self._out = out
        self._process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("py-spy")
        if binary is None:
            log.warning("profile_skipped", reason="py-spy is not installed (pip install py-spy)")
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s))),
             "--rate", str(SAMPLE_RATE_HZ), "--format", "raw", "--nonblocking",
             "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, timeout_s: float = 30.0) -> ProfileSummary | None:
        """Wait for py-spy and summarise what it wrote (None if nothing was recorded)."""
        if self._process is None:
            return None
        try:
            _, err = self._process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            log.warning("profile_skipped", reason="py-spy did not finish in time")
            return None
        if self._process.returncode != 0 or not self._out.exists():
            log.warning("profile_skipped", reason=err.decode(errors="replace").strip()[-300:])
            return None
        return summarize(self._out.read_text(), raw=str(self._out))


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:12)`` → ``func (file.py)``; the line number is dropped."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(path.split('/')[-2:])})" if path else name


def summarize(collapsed: str, *, raw: str = "", top: int = 12) -> ProfileSummary:
    """Summarise collapsed stacks (pure).

    Args:
        collapsed: py-spy's raw output.
        raw: where it is stored, for the summary to point at.
        top: how many functions to keep.
    """
    self_counts: Counter[str] = Counter()
    layer_counts: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        self_counts[_frame_name(frames[-1])] += count
        for layer, marks in LAYERS.items():
            if any(mark in frame for frame in frames[1:] for mark in marks):
                layer_counts[layer] += count
    if total == 0:
        return ProfileSummary(samples=0, top_self=[], layers=[], raw=raw)
    return ProfileSummary(
        samples=total,
        top_self=[(name, count / total) for name, count in self_counts.most_common(top)],
        layers=[(layer, layer_counts[layer] / total) for layer in LAYERS],
        raw=raw,
    )

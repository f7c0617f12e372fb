"""A simulated message network between node ids.

Rules: every delivery decision (delay, drop, duplicate) is drawn from the
injected ``random.Random`` in send order, so a run is reproducible. A cut link
(``proxy.grudge.Grudge``) drops what crosses it, one way or both; messages
already in flight when a cut starts are dropped on arrival too, as a blackholed
TCP connection would lose them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

from experiments.sim.events import NS_PER_MS, Scheduler
from proxy.grudge import Grudge

Payload = TypeVar("Payload")


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConditions:
    """How one directed link behaves. Times in nanoseconds, probabilities in [0, 1]."""

    latency: int = 1 * NS_PER_MS
    jitter: int = 1 * NS_PER_MS
    """Each message's delay is ``latency`` plus a uniform draw in [0, jitter): reorders."""
    drop: float = 0.0
    duplicate: float = 0.0


@dataclass(slots=True)
class NetworkStats:
    """Counters for reports and tests."""

    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0


@dataclass(slots=True)
class SimNetwork(Generic[Payload]):
    """Delivers payloads between nodes through a scheduler, under faults."""

    scheduler: Scheduler
    rng: random.Random
    deliver: Callable[[int, int, Payload], None]
    """Called as ``deliver(src, dst, payload)`` when a message arrives."""
    default: LinkConditions = field(default_factory=LinkConditions)
    overrides: dict[tuple[int, int], LinkConditions] = field(default_factory=dict)
    down: set[int] = field(default_factory=set)
    """Nodes that neither send nor receive (crashed or paused)."""
    stats: NetworkStats = field(default_factory=NetworkStats)
    undelivered: dict[tuple[int, int], int] = field(default_factory=dict)
    """Messages lost per directed link (cut, lossy or to a node that is down): what the
    sender could not deliver, as a real node's transport counts it."""
    _grudge: Grudge = field(default_factory=Grudge)
    _cut: frozenset[tuple[int, int]] = frozenset()

    @property
    def grudge(self) -> Grudge:
        """The links currently cut."""
        return self._grudge

    @grudge.setter
    def grudge(self, grudge: Grudge) -> None:
        self._grudge = grudge
        self._cut = frozenset((link.src, link.dst) for link in grudge.cuts)

    def is_cut(self, src: int, dst: int) -> bool:
        """Whether the link ``src -> dst`` is cut now."""
        return (src, dst) in self._cut

    def lose(self, src: int, dst: int) -> None:
        """Count one message ``src`` could not deliver to ``dst``."""
        self.stats.dropped += 1
        link = (src, dst)
        self.undelivered[link] = self.undelivered.get(link, 0) + 1

    def conditions(self, src: int, dst: int) -> LinkConditions:
        """The conditions in force on the link ``src -> dst``."""
        return self.overrides.get((src, dst), self.default) if self.overrides else self.default

    def send(self, src: int, dst: int, payload: Payload) -> None:
        """Send one message; it may be delayed, dropped or duplicated."""
        stats = self.stats
        stats.sent += 1
        link = (src, dst)
        overrides = self.overrides
        cond = overrides.get(link, self.default) if overrides else self.default
        rng = self.rng
        drop = cond.drop
        if src in self.down or link in self._cut or (drop and rng.random() < drop):
            self.lose(src, dst)
            return
        duplicate = cond.duplicate
        arrive = partial(self._arrive, src, dst, payload)
        post_later = self.scheduler.post_later
        jitter = cond.jitter
        if duplicate and rng.random() < duplicate:
            stats.duplicated += 1
            for _ in range(2):
                post_later(cond.latency + (int(rng.random() * jitter) if jitter else 0), arrive)
            return
        post_later(cond.latency + (int(rng.random() * jitter) if jitter else 0), arrive)

    def _arrive(self, src: int, dst: int, payload: Payload) -> None:
        if dst in self.down or (src, dst) in self._cut:
            self.lose(src, dst)
            return
        self.stats.delivered += 1
        self.deliver(src, dst, payload)

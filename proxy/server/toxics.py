"""The standard toxics: one small frozen class per type, holding its attributes and its behaviour.

Rules: a toxic never touches sockets. It receives one item (a chunk, or None
for end of stream) and passes what should go on to ``emit`` (None = close the
link). It waits only through ``run.sleep`` so that an update or removal can
interrupt it (held data then goes out at once), draws randomness only from
``run.rng`` (seeded), and keeps per-link data in ``run.link_state`` (survives
updates) or per-start data in ``run.run_state``. Times are loop seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from proxy.server.decode import GoType, decode_struct
from proxy.server.streams import Chunk, Item

Emit = Callable[[Item], Awaitable[None]]


class Run(Protocol):
    """What a toxic sees of one start of itself on one link (see ``links.ToxicRun``)."""

    rng: random.Random
    link_state: Any
    run_state: Any

    def now(self) -> float:
        """Returns: the event loop's clock."""
        ...

    async def sleep(self, seconds: float | None) -> bool:
        """Wait (None = until interrupted); True if the full time passed, False if interrupted."""
        ...

    def arm_close_timer(self, seconds: float) -> None:
        """(Re)start a timer that closes the link when it fires."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Toxic:
    """Base of every toxic: attributes are the dataclass fields (all Go int64, default 0)."""

    TYPE: ClassVar[str] = ""
    GO_NAME: ClassVar[str] = ""
    #: Removing this toxic closes every connection of its proxy (Toxiproxy's timeout cleanup).
    CLOSES_ON_REMOVAL: ClassVar[bool] = False
    #: Connections opened while this toxic is in a chain get SO_LINGER 0 (so closing is an RST).
    SETS_LINGER: ClassVar[bool] = False

    def attributes(self) -> dict[str, int]:
        """Returns: the attributes as Toxiproxy shows them, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def new_link_state(self) -> Any:
        """Returns: per-link state kept across updates (None when the toxic keeps none)."""
        return None

    def new_run_state(self) -> Any:
        """Returns: state for one start of the toxic on a link (None when none is kept)."""
        return None

    def on_start(self, run: Run) -> None:
        """Called when the toxic starts on a link and its toxicity draw succeeded.

        Args:
            run: this start's handle.
        """

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Process one item; the default passes it through unchanged.

        Args:
            item: a chunk, or None at end of stream.
            run: this start's handle.
            emit: sends an item on to the rest of the chain.
        """
        await emit(item)


@dataclass(frozen=True, slots=True, kw_only=True)
class Noop(Toxic):
    """Passes everything through."""

    TYPE: ClassVar[str] = "noop"
    GO_NAME: ClassVar[str] = "toxics.NoopToxic"


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency(Toxic):
    """Each chunk leaves at its read time + latency ± jitter (ms); order and throughput kept."""

    TYPE: ClassVar[str] = "latency"
    GO_NAME: ClassVar[str] = "toxics.LatencyToxic"
    latency: int = 0
    jitter: int = 0

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Hold a chunk until its read time plus this toxic's delay."""
        if item is None:
            await emit(None)
            return
        delay_ms = self.latency
        if self.jitter > 0:
            delay_ms += run.rng.randrange(2 * self.jitter) - self.jitter
        wait = delay_ms / 1000 - (run.now() - item.stamp)
        if await run.sleep(wait):
            item = Chunk(data=item.data, stamp=item.stamp + wait)
        await emit(item)


@dataclass(slots=True)
class _Debt:
    seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Bandwidth(Toxic):
    """Paces bytes at ``rate`` KB/s (1 KB = 1000 B); rate 0 stalls without losing data."""

    TYPE: ClassVar[str] = "bandwidth"
    GO_NAME: ClassVar[str] = "toxics.BandwidthToxic"
    rate: int = 0

    def new_run_state(self) -> _Debt:
        """Returns: the time owed for bytes already let through."""
        return _Debt()

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Let a chunk through once the rate allows, in 100 ms slices when it is large."""
        if item is None:
            await emit(None)
            return
        data, stamp = item.data, item.stamp
        if self.rate <= 0:
            await run.sleep(None)
            await emit(item)
            return
        debt: _Debt = run.run_state
        debt.seconds += len(data) / (self.rate * 1000)
        piece = self.rate * 100
        while len(data) > piece:
            if not await run.sleep(0.1):
                await emit(Chunk(data=data, stamp=stamp))
                return
            await emit(Chunk(data=data[:piece], stamp=stamp))
            data = data[piece:]
            debt.seconds -= 0.1
        started = run.now()
        if await run.sleep(debt.seconds):
            debt.seconds -= run.now() - started
        await emit(Chunk(data=data, stamp=stamp))


@dataclass(frozen=True, slots=True, kw_only=True)
class SlowClose(Toxic):
    """Data passes; the source's end of stream reaches the destination ``delay`` ms late."""

    TYPE: ClassVar[str] = "slow_close"
    GO_NAME: ClassVar[str] = "toxics.SlowCloseToxic"
    delay: int = 0

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Delay the end of stream only."""
        if item is None:
            await run.sleep(self.delay / 1000)
        await emit(item)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout(Toxic):
    """Drops all data; with ``timeout`` > 0 closes after that many ms without data arriving."""

    TYPE: ClassVar[str] = "timeout"
    GO_NAME: ClassVar[str] = "toxics.TimeoutToxic"
    CLOSES_ON_REMOVAL: ClassVar[bool] = True
    timeout: int = 0

    def on_start(self, run: Run) -> None:
        """Start the close timer (when there is one)."""
        if self.timeout > 0:
            run.arm_close_timer(self.timeout / 1000)

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Drop a chunk (restarting the timer); pass the end of stream."""
        if item is None:
            await emit(None)
        elif self.timeout > 0:
            run.arm_close_timer(self.timeout / 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetPeer(Toxic):
    """On the first chunk or end of stream: drop it, wait ``timeout`` ms, close (an RST).

    It is an RST only on connections opened while it was in the chain (SETS_LINGER).
    """

    TYPE: ClassVar[str] = "reset_peer"
    GO_NAME: ClassVar[str] = "toxics.ResetToxic"
    SETS_LINGER: ClassVar[bool] = True
    timeout: int = 0

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Drop the item, wait (this wait cannot be interrupted, as in Toxiproxy), close."""
        await asyncio.sleep(max(self.timeout, 0) / 1000)
        await emit(None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Slicer(Toxic):
    """Cuts chunks into pieces of about ``average_size`` ± ``size_variation`` bytes.

    Sleeps ``delay`` µs after each piece. Unlike Toxiproxy, a piece is never
    empty and never smaller than one byte, so ``average_size`` 0 cannot split forever.
    """

    TYPE: ClassVar[str] = "slicer"
    GO_NAME: ClassVar[str] = "toxics.SlicerToxic"
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0

    def cut_points(self, size: int, rng: random.Random) -> list[int]:
        """Where to cut a chunk: halve until pieces fit, moving each cut by ± variation.

        Args:
            size: the chunk's length.
            rng: the seeded source for the variation.

        Returns:
            Increasing offsets from 0 to size; consecutive offsets bound one piece.
        """
        points = [0]
        pending = [(0, size)]
        while pending:
            start, end = pending.pop()
            length = end - start
            if length <= 1 or length - self.average_size <= self.size_variation:
                points.append(end)
                continue
            mid = start + length // 2
            if self.size_variation > 0:
                mid += rng.randrange(2 * self.size_variation) - self.size_variation
            mid = min(max(mid, start + 1), end - 1)
            pending.extend(((mid, end), (start, mid)))
        return points

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Emit the pieces one by one with the delay between them."""
        if item is None:
            await emit(None)
            return
        points = self.cut_points(len(item.data), run.rng)
        for start, end in itertools.pairwise(points):
            await emit(Chunk(data=item.data[start:end], stamp=item.stamp))
            interrupted = not await run.sleep(self.delay / 1_000_000)
            if interrupted and end < len(item.data):
                await emit(Chunk(data=item.data[end:], stamp=item.stamp))
                return


@dataclass(slots=True)
class _Sent:
    count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitData(Toxic):
    """Forwards up to ``bytes`` bytes on a link (cutting the chunk that crosses), then closes."""

    TYPE: ClassVar[str] = "limit_data"
    GO_NAME: ClassVar[str] = "toxics.LimitDataToxic"
    bytes: int = 0

    def new_link_state(self) -> _Sent:
        """Returns: the link's byte count, which survives updates."""
        return _Sent()

    async def pipe(self, item: Item, run: Run, emit: Emit) -> None:
        """Forward what is left of the allowance; close once it is used up."""
        if item is None:
            await emit(None)
            return
        sent: _Sent = run.link_state
        allowed = item.data[: max(0, self.bytes - sent.count)]
        if allowed:
            sent.count += len(allowed)
            await emit(Chunk(data=allowed, stamp=item.stamp))
        if self.bytes - sent.count <= 0:
            await emit(None)


TOXIC_TYPES: dict[str, type[Toxic]] = {
    cls.TYPE: cls
    for cls in (Noop, Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


def build(cls: type[Toxic], attributes: Any, base: Toxic | None = None) -> Toxic:
    """Decode a JSON ``attributes`` value into a toxic, as Go decodes into the toxic's struct.

    Args:
        cls: the toxic's class.
        attributes: the decoded JSON value (an object, or None for no change).
        base: the current toxic when updating (given keys change, others stay).

    Returns:
        The new toxic.

    Raises:
        DecodeError: when attributes is not an object or a value is not an int64.
    """
    fields = {f.name: GoType.INT64 for f in dataclasses.fields(cls)}
    values = decode_struct(attributes, struct=cls.GO_NAME, fields=fields)
    return dataclasses.replace(base, **values) if base is not None else cls(**values)

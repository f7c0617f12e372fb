"""Proxied connections: two links per connection, each pumping bytes through its toxic chain.

Rules: a link reads its source in chunks of at most 32 KB into a bounded queue
(Toxiproxy's 1024-chunk buffer) and one pump task passes each item through the
live chain in creation order, then writes it. The end of stream (or a toxic
closing the link) fully closes the destination socket, so the other link then
ends too: half-close is not preserved, as in Toxiproxy. Every wait a toxic
makes goes through its ToxicRun, so updates and removals interrupt it.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Callable
from typing import Any

import structlog

from proxy.server.chain import ToxicChain, ToxicEntry
from proxy.server.streams import CHUNK_SIZE, Chunk, Direction, Item
from proxy.server.toxics import Toxic

QUEUE_CHUNKS = 1024

_log = structlog.get_logger()


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class ToxicRun:
    """One start of one toxic on one link: its toxicity draw, its interrupt and its timer.

    A new run begins at connection open, when the toxic is added or updated, and
    when its neighbour after it is added or removed (the moments Toxiproxy draws).
    """

    __slots__ = (
        "_link",
        "_timer",
        "_waiter",
        "active",
        "interrupted",
        "link_state",
        "rng",
        "run_state",
        "toxic",
    )

    def __init__(self, *, link: Link, toxic: Toxic, active: bool, link_state: Any) -> None:
        self._link = link
        self.toxic = toxic
        self.active = active
        self.rng: random.Random = link.rng
        self.link_state = link_state
        self.run_state = toxic.new_run_state()
        self.interrupted = False
        self._waiter: asyncio.Future[bool] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def now(self) -> float:
        """Returns: the event loop's clock, in seconds."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float | None) -> bool:
        """Wait unless interrupted.

        Args:
            seconds: how long (None = until interrupted; <= 0 returns at once).

        Returns:
            True if the full time passed, False if the run was (or had been) interrupted.
        """
        if self.interrupted:
            return False
        if seconds is not None and seconds <= 0:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._waiter = future
        handle = None if seconds is None else loop.call_later(seconds, _resolve, future, True)
        try:
            return await future
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()

    def arm_close_timer(self, seconds: float) -> None:
        """(Re)start the timer that closes the link (the timeout toxic's).

        Args:
            seconds: time until the link closes unless re-armed or interrupted.
        """
        if self.interrupted:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._link.close)

    def interrupt(self) -> None:
        """End this run: wake its wait (held data goes on at once) and cancel its timer."""
        self.interrupted = True
        if self._waiter is not None:
            _resolve(self._waiter, False)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Link:
    """One direction of one connection: source socket → toxic chain → destination socket."""

    def __init__(
        self,
        *,
        direction: Direction,
        chain: ToxicChain,
        source: asyncio.StreamReader,
        dest: asyncio.StreamWriter,
        rng: random.Random,
        on_done: Callable[[Link], None],
    ) -> None:
        self.direction = direction
        self.rng = rng
        self.done = False
        self._chain = chain
        self._source = source
        self._dest = dest
        self._on_done = on_done
        self._runs: dict[int, ToxicRun] = {}
        self._link_states: dict[int, Any] = {}
        self._queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self._reader: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._finished = False

    @property
    def finished(self) -> bool:
        """Returns: True once the link has stopped and closed its destination."""
        return self._finished

    def start(self) -> None:
        """Start every toxic of the chain on this link, then the reader and the pump."""
        for entry in self._chain.in_direction(self.direction):
            self.begin(entry)
        self._reader = asyncio.create_task(self._read())
        self._pump = asyncio.create_task(self._run_pump())

    def begin(self, entry: ToxicEntry) -> None:
        """Start a toxic on this link with a fresh toxicity draw.

        Args:
            entry: a toxic of this link's chain.
        """
        if entry.seq not in self._link_states:
            self._link_states[entry.seq] = entry.toxic.new_link_state()
        run = ToxicRun(
            link=self,
            toxic=entry.toxic,
            active=self.rng.random() < entry.toxicity,
            link_state=self._link_states[entry.seq],
        )
        self._runs[entry.seq] = run
        if run.active and not self.done:
            entry.toxic.on_start(run)

    def restart(self, entry: ToxicEntry) -> None:
        """Interrupt a toxic's current run and start it again (update or neighbour change).

        Args:
            entry: a toxic of this link's chain.
        """
        old = self._runs.pop(entry.seq, None)
        if old is not None:
            old.interrupt()
        self.begin(entry)

    def end(self, entry: ToxicEntry) -> None:
        """Stop a removed toxic on this link (what it holds goes on at once).

        Args:
            entry: the removed toxic.
        """
        old = self._runs.pop(entry.seq, None)
        if old is not None:
            old.interrupt()
        self._link_states.pop(entry.seq, None)

    def close(self) -> None:
        """End the link now: close the destination (the other link then ends too)."""
        if self.done:
            return
        self.done = True
        current = asyncio.current_task()
        for task in (self._reader, self._pump):
            if task is not None and task is not current:
                task.cancel()
        if self._pump is None or self._pump is current:
            self._finish()

    def abort(self) -> None:
        """Stop the link's tasks without closing anything gracefully (the proxy went down)."""
        self.done = True
        for task in (self._reader, self._pump):
            if task is not None:
                task.cancel()
        self._finish()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self._source.read(CHUNK_SIZE)
                if not data:
                    break
                await self._queue.put(Chunk(data=data, stamp=loop.time()))
        except OSError:
            pass  # a reset or a closed socket reads as the end of the stream
        await self._queue.put(None)

    async def _run_pump(self) -> None:
        try:
            while not self.done:
                item = await self._queue.get()
                await self._through(-1, item)
        except OSError:
            pass  # the destination went away: the link is over
        finally:
            self._finish()

    async def _through(self, after: int, item: Item) -> None:
        """Send an item on from position ``after`` of the chain (creation order)."""
        if self.done:
            return
        entry = self._chain.next_after(self.direction, after)
        if entry is None:
            await self._deliver(item)
            return
        seq = entry.seq
        run = self._runs.get(seq)
        if run is None or not run.active:
            await self._through(seq, item)
            return

        async def emit(piece: Item) -> None:
            await self._through(seq, piece)

        await run.toxic.pipe(item, run, emit)

    async def _deliver(self, item: Item) -> None:
        if item is None:
            self.done = True
            return
        self._dest.write(item.data)
        await self._dest.drain()

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self.done = True
        if self._reader is not None:
            self._reader.cancel()
        for run in self._runs.values():
            run.interrupt()
        self._dest.close()
        self._on_done(self)


def _set_linger_zero(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Connection:
    """A client connection and its upstream connection, joined by two links."""

    def __init__(
        self,
        *,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        chain: ToxicChain,
        rng: random.Random,
        on_closed: Callable[[Connection], None],
        name: str,
    ) -> None:
        self.name = name
        self._writers = (client[1], upstream[1])
        self._on_closed = on_closed
        self._closed = False
        ends = {Direction.UPSTREAM: (client, upstream), Direction.DOWNSTREAM: (upstream, client)}
        self.links = {
            direction: Link(
                direction=direction,
                chain=chain,
                source=source[0],
                dest=dest[1],
                rng=rng,
                on_done=self._link_done,
            )
            for direction, (source, dest) in ends.items()
        }
        if any(entry.toxic.SETS_LINGER for entry in chain.entries()):
            for writer in self._writers:
                _set_linger_zero(writer)

    def start(self) -> None:
        """Start both links."""
        for link in self.links.values():
            link.start()

    def abort(self) -> None:
        """Close both sockets at once and stop both links (proxy disabled or deleted)."""
        for writer in self._writers:
            writer.transport.abort()
        for link in self.links.values():
            link.abort()

    def _link_done(self, link: Link) -> None:
        if self._closed or not all(other.finished for other in self.links.values()):
            return
        self._closed = True
        _log.debug("connection closed", connection=self.name, by=link.direction.value)
        self._on_closed(self)

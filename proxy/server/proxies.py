"""One proxy: its listener, its live connections and its toxic chain.

Rules: a proxy accepts, then dials its upstream (a failed dial closes the
client at once: accept-then-EOF, as Toxiproxy does). Stopping closes the
listener and every connection; the toxics stay. Toxic changes reach live
connections at once, with fresh toxicity draws where Toxiproxy makes them.
Callers serialise changes (the registry holds a lock).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import structlog

from proxy.server import errors, listen
from proxy.server.bodies import ProxySpec, ToxicSpec
from proxy.server.chain import ToxicChain, ToxicEntry
from proxy.server.links import Connection, Link
from proxy.server.streams import Direction
from proxy.server.toxics import Toxic

_log = structlog.get_logger()


class Proxy:
    """A named TCP proxy from ``listen`` to ``upstream``."""

    def __init__(self, spec: ProxySpec, rng: random.Random) -> None:
        self.name = spec.name
        self.listen = spec.listen
        self.upstream = spec.upstream
        self.enabled = False
        self.chain = ToxicChain()
        self._rng = rng
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._dialing: set[asyncio.Task[Any]] = set()
        self._log = _log.bind(proxy=spec.name)

    def spec(self) -> ProxySpec:
        """Returns: the proxy's current settings."""
        return ProxySpec(
            name=self.name, listen=self.listen, upstream=self.upstream, enabled=self.enabled
        )

    def to_json(self) -> dict[str, Any]:
        """Returns: the proxy as Toxiproxy 2.12 shows it (including its leaked ``Logger`` key)."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [entry.to_json() for entry in self.chain.entries()],
        }

    @property
    def connection_count(self) -> int:
        """Returns: how many proxied connections are open."""
        return len(self._connections)

    async def differs(self, spec: ProxySpec) -> bool:
        """Whether applying ``spec`` needs a restart (listen compared after resolving, as 2.12).

        Args:
            spec: the settings asked for.

        Returns:
            True if listen or upstream differ.

        Raises:
            ApiError: 500 when the listen address does not resolve.
        """
        try:
            wanted = await listen.canonical(spec.listen)
        except listen.AddressError as err:
            raise errors.internal(str(err)) from None
        return wanted != self.listen or spec.upstream != self.upstream

    async def start(self) -> None:
        """Bind the stored listen address and accept connections (no-op when running).

        Raises:
            ApiError: 500 with Go's ``listen tcp ...`` message when binding fails.
        """
        if self.enabled:
            return
        try:
            sock, shown = await listen.bind(self.listen)
        except listen.AddressError as err:
            self._log.warning("proxy failed to start", listen=self.listen, error=str(err))
            raise errors.internal(str(err)) from None
        self._server = await asyncio.start_server(self._on_client, sock=sock)
        self.listen = shown
        self.enabled = True
        self._log.info("proxy started", listen=self.listen, upstream=self.upstream)

    async def stop(self) -> None:
        """Close the listener and every connection (no-op when stopped)."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._dialing):
            task.cancel()
        for connection in list(self._connections):
            connection.abort()
        self._connections.clear()
        self._log.info("proxy stopped")

    async def apply(self, spec: ProxySpec) -> None:
        """Apply new settings: rebind when listen/upstream change, then start or stop.

        Args:
            spec: the settings asked for.

        Raises:
            ApiError: 500 when the address does not resolve or bind.
        """
        if await self.differs(spec):
            await self.stop()
            self.listen, self.upstream = spec.listen, spec.upstream
        if spec.enabled and not self.enabled:
            await self.start()
        elif not spec.enabled:
            await self.stop()

    def _links(self, direction: Direction) -> list[Link]:
        return [connection.links[direction] for connection in self._connections]

    def add_toxic(self, spec: ToxicSpec) -> ToxicEntry:
        """Add a toxic at the end of its chain; live connections get it at once.

        Args:
            spec: the checked toxic.

        Returns:
            The new toxic.
        """
        entry, previous = self.chain.append(
            name=spec.name,
            stream=spec.stream,
            direction=spec.direction,
            toxicity=spec.toxicity,
            toxic=spec.toxic,
        )
        for link in self._links(entry.direction):
            link.begin(entry)
            if previous is not None:
                link.restart(previous)
        self._log.info("toxic added", toxic=entry.name, attributes=entry.to_json())
        return entry

    def update_toxic(self, entry: ToxicEntry, toxic: Toxic, toxicity: float) -> None:
        """Change a toxic's attributes and toxicity; it restarts on every live link.

        Args:
            entry: the toxic.
            toxic: the new attributes.
            toxicity: the new toxicity.
        """
        entry.toxic, entry.toxicity = toxic, toxicity
        for link in self._links(entry.direction):
            link.restart(entry)
        self._log.info("toxic updated", toxic=entry.name, attributes=entry.to_json())

    def remove_toxic(self, entry: ToxicEntry) -> None:
        """Remove a toxic; what it holds goes on at once. Removing a timeout closes connections.

        Args:
            entry: the toxic.
        """
        previous = self.chain.remove(entry)
        links = self._links(entry.direction)
        for link in links:
            link.end(entry)
            if previous is not None:
                link.restart(previous)
        if entry.toxic.CLOSES_ON_REMOVAL:
            for link in links:
                link.close()
        self._log.info("toxic removed", toxic=entry.name)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        server = self._server
        client = str(writer.get_extra_info("peername"))
        self._dialing.add(task)
        try:
            target = listen.split(self.upstream)
            upstream = await asyncio.open_connection(target.host or "localhost", target.port)
        except (OSError, listen.AddressError) as err:
            self._log.warning("upstream dial failed", client=client, error=str(err))
            writer.close()
            return
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        finally:
            self._dialing.discard(task)
        if server is not self._server:
            writer.transport.abort()
            upstream[1].transport.abort()
            return
        connection = Connection(
            client=(reader, writer),
            upstream=upstream,
            chain=self.chain,
            rng=self._rng,
            on_closed=self._connections.discard,
            name=client,
        )
        self._connections.add(connection)
        connection.start()
        self._log.debug("connection opened", client=client, upstream=self.upstream)

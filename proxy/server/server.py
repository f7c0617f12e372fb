"""Run the embedded Toxiproxy-compatible server: in a loop, in a thread, or from a config file.

Rules: this module owns the server's lifecycle (bind, serve, stop) and the
seeded random source; what the API does lives in api/registry. Loopback by
default. Unlike Toxiproxy, ``seed`` really seeds every draw (toxicity, jitter,
slicer variation).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

import structlog
from aiohttp import web

from proxy.server import bodies
from proxy.server.api import make_app
from proxy.server.errors import ApiError, ConfigFileError
from proxy.server.registry import ProxyRegistry

#: The Toxiproxy release whose API this server matches (GET /version reports it).
VERSION = "2.12.0"
DEFAULT_PORT = 8474

_log = structlog.get_logger()
_T = TypeVar("_T")


def read_config(path: Path) -> bytes:
    """Read and check a ``toxiproxy -config`` file (the JSON array POST /populate takes).

    Args:
        path: the file.

    Returns:
        The file's bytes, known to decode into a valid proxy list (toxics in it are ignored).

    Raises:
        ConfigFileError: naming the file and what is wrong with it.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigFileError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        bodies.populate(data)
    except ApiError as err:
        raise ConfigFileError(f"{path}: {err.message}") from None
    return data


class EmbeddedToxiproxy:
    """A Toxiproxy-compatible server running in the current event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None) -> None:
        """Prepare (not start) a server.

        Args:
            host: the API's bind address (loopback by default).
            port: the API's port (0 picks a free one).
            seed: seeds every random draw; None seeds from the system.
        """
        self.host = host
        self.port = port
        self.seed = seed
        self.registry = ProxyRegistry(random.Random(seed))
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Returns: the API's base URL, e.g. ``http://127.0.0.1:8474``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind the API and serve it.

        Raises:
            OSError: when the API address cannot be bound.
        """
        runner = web.AppRunner(
            make_app(self.registry, version=VERSION), access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        _log.info("toxiproxy api serving", url=self.url, version=VERSION, seed=self.seed)

    async def populate(self, config: bytes) -> None:
        """Create the proxies of a config (as ``toxiproxy -config`` does before serving).

        Args:
            config: a checked config (see read_config).

        Raises:
            ApiError: the first proxy that could not be created (e.g. its port is taken).
        """
        proxies, failure = await self.registry.populate(config)
        if failure is not None:
            raise failure
        _log.info("config loaded", proxies=[p.name for p in proxies])

    async def stop(self) -> None:
        """Stop every proxy (closing its connections) and the API."""
        await self.registry.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        _log.info("toxiproxy api stopped", url=self.url)


class ServerThread:
    """An EmbeddedToxiproxy running in a background thread with its own event loop."""

    def __init__(self, server: EmbeddedToxiproxy) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="embedded-toxiproxy", daemon=True
        )

    @property
    def url(self) -> str:
        """Returns: the API's base URL."""
        return self.server.url

    def start(self, timeout: float = 30.0) -> Self:
        """Start the thread and the server in it.

        Args:
            timeout: how long to wait for the server to bind.

        Returns:
            This handle.
        """
        self._thread.start()
        try:
            self.call(self.server.start(), timeout)
        except BaseException:
            self._stop_loop(timeout)
            raise
        return self

    def call(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 30.0) -> _T:
        """Run a coroutine on the server's loop and wait for its result.

        Args:
            coroutine: e.g. ``server.populate(config)``.
            timeout: the most to wait, in seconds.

        Returns:
            The coroutine's result.
        """
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server and the thread (idempotent).

        Args:
            timeout: the most to wait, in seconds.
        """
        if not self._thread.is_alive():
            return
        try:
            self.call(self.server.stop(), timeout)
        finally:
            self._stop_loop(timeout)

    def _stop_loop(self, timeout: float) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(
    host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None, timeout: float = 30.0
) -> ServerThread:
    """Start an embedded server in a background thread (for tests and scripts).

    Args:
        host: the API's bind address.
        port: the API's port (0 picks a free one).
        seed: seeds every random draw.
        timeout: how long to wait for the server to bind.

    Returns:
        A started handle with ``.url``, ``.call(coro)`` and ``.stop()``; also a context manager.
    """
    return ServerThread(EmbeddedToxiproxy(host, port, seed=seed)).start(timeout)


async def serve_forever(server: EmbeddedToxiproxy, config: bytes | None = None) -> None:
    """Start a server, load a config, and serve until cancelled; then stop cleanly.

    Args:
        server: the server to run.
        config: a checked config to load first (see read_config).

    Raises:
        ApiError: when a proxy of the config cannot be created.
    """
    await server.start()
    try:
        if config is not None:
            await server.populate(config)
        await asyncio.Event().wait()
    finally:
        await server.stop()

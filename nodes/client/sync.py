"""The blocking client: the asyncio client run on a private event loop thread.

Rules: the same semantics as ``AsyncClient`` (it is one); each call blocks the
calling thread until its outcome. Safe to call from several threads. ``close``
stops the loop thread; use the client as a context manager.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from nodes.client.aio import AsyncClient
from nodes.client.outcome import FailpointRequest, FailpointState, NodeView, Outcome

T = TypeVar("T")


class Client:
    """Talk to a chaoslab cluster from blocking code.

    Args:
        addresses: client addresses of the nodes (``HOST:PORT``).
        client_factory: builds the inner asyncio client (e.g. one that maps addresses).
        **options: as ``AsyncClient`` (``timeout_s``, ``attempt_timeout_s``, ``seed``, ...).

    Raises:
        InvalidRequest: as ``AsyncClient``.
    """

    def __init__(
        self,
        addresses: Sequence[str],
        *,
        client_factory: Callable[..., AsyncClient] = AsyncClient,
        **options: Any,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="chaoslab-client", daemon=True
        )
        self._thread.start()
        self._closed = False
        try:
            self._client = client_factory(addresses, **options)
        except BaseException:
            self._stop_loop()
            raise

    @property
    def addresses(self) -> tuple[str, ...]:
        """The node addresses this client knows."""
        return self._client.addresses

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coroutine.close()
            msg = "the client is closed"
            raise RuntimeError(msg)
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def get(self, key: str, consistency: str = "linearizable") -> Outcome[str | None]:
        """Read ``key``; see ``AsyncClient.get``."""
        return self._call(self._client.get(key, consistency))

    def put(self, key: str, value: str) -> Outcome[None]:
        """Set ``key``; see ``AsyncClient.put``."""
        return self._call(self._client.put(key, value))

    def delete(self, key: str) -> Outcome[None]:
        """Remove ``key``; see ``AsyncClient.delete``."""
        return self._call(self._client.delete(key))

    def cas(self, key: str, old: str | None, new: str) -> Outcome[str | None]:
        """Compare-and-set; see ``AsyncClient.cas``."""
        return self._call(self._client.cas(key, old, new))

    def status(self, address: str) -> Outcome[NodeView | None]:
        """One node's status; see ``AsyncClient.status``."""
        return self._call(self._client.status(address))

    def health(self, address: str) -> Outcome[bool]:
        """One node's health; see ``AsyncClient.health``."""
        return self._call(self._client.health(address))

    def transfer_leader(self, address: str, to: int) -> Outcome[None]:
        """Move leadership; see ``AsyncClient.transfer_leader``."""
        return self._call(self._client.transfer_leader(address, to))

    def failpoint(
        self, address: str, request: FailpointRequest, metadata: Sequence[tuple[str, str]]
    ) -> Outcome[FailpointState | None]:
        """In-node faults; see ``AsyncClient.failpoint``."""
        return self._call(self._client.failpoint(address, request, metadata))

    def close(self) -> None:
        """Close the channels and stop the loop thread (idempotent)."""
        if self._closed:
            return
        self._call(self._client.close())
        self._closed = True
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

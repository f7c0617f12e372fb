"""The set of proxies and every operation the API offers on them.

Rules: one asyncio lock serialises every change (as Toxiproxy's collection
lock does); lookups come first, then the body is decoded, as in Toxiproxy,
so a request for an unknown proxy is a 404 whatever its body.
"""

from __future__ import annotations

import asyncio
import random

import structlog

from proxy.server import bodies, errors
from proxy.server.chain import ToxicEntry
from proxy.server.proxies import Proxy

_log = structlog.get_logger()


class ProxyRegistry:
    """Every proxy of one server, by name."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        """Args: name: a proxy name. Returns: the proxy. Raises: ApiError: 404 if unknown."""
        proxy = self._proxies.get(name)
        if proxy is None:
            raise errors.proxy_not_found()
        return proxy

    def proxies(self) -> list[Proxy]:
        """Returns: every proxy, by name."""
        return [self._proxies[name] for name in sorted(self._proxies)]

    def toxic(self, proxy_name: str, toxic_name: str) -> ToxicEntry:
        """Look up one toxic.

        Args:
            proxy_name: the proxy.
            toxic_name: the toxic.

        Returns:
            The toxic.

        Raises:
            ApiError: 404 for an unknown proxy or toxic.
        """
        entry = self.get(proxy_name).chain.find(toxic_name)
        if entry is None:
            raise errors.toxic_not_found()
        return entry

    async def create(self, body: bytes) -> Proxy:
        """POST /proxies.

        Args:
            body: the request body.

        Returns:
            The new proxy (started unless created disabled).

        Raises:
            ApiError: 400 bad body, 409 name taken, 500 bind failure.
        """
        spec = bodies.proxy_create(body)
        async with self._lock:
            if spec.name in self._proxies:
                raise errors.ApiError(409, errors.PROXY_EXISTS)
            proxy = Proxy(spec, self._rng)
            if spec.enabled:
                await proxy.start()
            self._proxies[spec.name] = proxy
        _log.info("proxy created", proxy=spec.name, listen=proxy.listen, upstream=proxy.upstream)
        return proxy

    async def populate(self, body: bytes) -> tuple[list[Proxy], errors.ApiError | None]:
        """POST /populate: add or replace each proxy; matching entries are left as they are.

        Args:
            body: the request body.

        Returns:
            The proxies made or kept so far, and the error that stopped the work (if any).

        Raises:
            ApiError: 400 when the body is bad (nothing is created then).
        """
        specs = bodies.populate(body)
        done: list[Proxy] = []
        async with self._lock:
            for spec in specs:
                try:
                    existing = self._proxies.get(spec.name)
                    if existing is not None:
                        if not await existing.differs(spec):
                            done.append(existing)
                            continue
                        await existing.stop()
                    proxy = Proxy(spec, self._rng)
                    if spec.enabled:
                        await proxy.start()
                except errors.ApiError as err:
                    return done, err
                self._proxies[spec.name] = proxy
                done.append(proxy)
        _log.info("proxies populated", proxies=[p.name for p in done])
        return done, None

    async def update(self, name: str, body: bytes) -> Proxy:
        """POST/PATCH /proxies/{name}.

        Args:
            name: the proxy.
            body: the request body.

        Returns:
            The proxy as it now is.

        Raises:
            ApiError: 404 unknown proxy, 400 bad body, 500 bad listen or bind failure.
        """
        async with self._lock:
            proxy = self.get(name)
            spec = bodies.proxy_update(body, proxy.spec())
            await proxy.apply(spec)
        _log.info("proxy updated", proxy=name, listen=proxy.listen, enabled=proxy.enabled)
        return proxy

    async def delete(self, name: str) -> None:
        """DELETE /proxies/{name}: stop it (closing its connections) and forget it.

        Args:
            name: the proxy.

        Raises:
            ApiError: 404 unknown proxy.
        """
        async with self._lock:
            proxy = self.get(name)
            await proxy.stop()
            del self._proxies[name]
        _log.info("proxy deleted", proxy=name)

    async def add_toxic(self, proxy_name: str, body: bytes) -> ToxicEntry:
        """POST /proxies/{name}/toxics.

        Args:
            proxy_name: the proxy.
            body: the request body.

        Returns:
            The new toxic.

        Raises:
            ApiError: 404 unknown proxy, 400 bad toxic, 409 name taken.
        """
        async with self._lock:
            proxy = self.get(proxy_name)
            spec = bodies.toxic_create(body, lambda name: proxy.chain.find(name) is not None)
            return proxy.add_toxic(spec)

    async def update_toxic(self, proxy_name: str, toxic_name: str, body: bytes) -> ToxicEntry:
        """POST/PATCH /proxies/{name}/toxics/{toxic}.

        Args:
            proxy_name: the proxy.
            toxic_name: the toxic.
            body: the request body.

        Returns:
            The toxic as it now is.

        Raises:
            ApiError: 404 unknown proxy or toxic, 400 bad body.
        """
        async with self._lock:
            proxy = self.get(proxy_name)
            entry = self.toxic(proxy_name, toxic_name)
            toxic, toxicity = bodies.toxic_update(body, entry)
            proxy.update_toxic(entry, toxic, toxicity)
            return entry

    async def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        """DELETE /proxies/{name}/toxics/{toxic}.

        Args:
            proxy_name: the proxy.
            toxic_name: the toxic.

        Raises:
            ApiError: 404 unknown proxy or toxic.
        """
        async with self._lock:
            proxy = self.get(proxy_name)
            proxy.remove_toxic(self.toxic(proxy_name, toxic_name))

    async def reset(self) -> None:
        """POST /reset: enable every proxy and remove every toxic (proxies stay).

        Raises:
            ApiError: 500 when a proxy cannot bind again (later proxies are then untouched).
        """
        async with self._lock:
            for proxy in self.proxies():
                await proxy.start()
                for entry in proxy.chain.entries():
                    proxy.remove_toxic(entry)
        _log.info("reset")

    async def close(self) -> None:
        """Stop every proxy (server shutdown); the proxies are forgotten."""
        async with self._lock:
            for proxy in self.proxies():
                await proxy.stop()
            self._proxies.clear()

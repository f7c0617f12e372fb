"""A typed, thread-safe wrapper over toxiproxy-python (``import toxiproxy``) with timeouts.

Rules: synchronous HTTP only (no asyncio); returns frozen values, never the client's
objects; every failure is a ``ProxyApiError`` (or subclass) naming the server URL, the
request and the server's own message. Nothing here knows about nodes or faults.

How the client's gaps are closed (extending it, not forking it):

* **Per-instance API address.** The client keeps host and port in the class attributes
  ``toxiproxy.api.APIConsumer.host/.port``, global to the process, and its ``Proxy`` and
  ``Toxiproxy`` objects call ``APIConsumer`` directly, so a subclass would not be used.
  Each call therefore holds one process-wide lock, points ``APIConsumer`` at this
  instance's server, runs the client call, and restores the previous values. Calls from
  several instances or threads are serialized (they are short and bounded by the timeout).
* **Timeouts and typed errors.** Under the same lock the client's ``requests`` module
  reference (``toxiproxy.api.requests``) is swapped for this instance's transport: a
  ``requests.Session`` that adds the timeout, turns connection failures into
  ``ToxiproxyUnreachable`` ("no Toxiproxy answers at URL") and every status >= 400 into a
  ``ProxyApiError`` carrying the status and the server's ``error`` text. So a 500 (e.g. a
  port clash on create) is a clear error, not the client's ``KeyError: 'name'``.
* **Calls the client lacks or gets wrong** go through the same transport directly:
  ``populate`` (the client's never calls POST /populate and re-creates proxies whose
  ``listen`` it compares as raw strings), ``update_toxic`` (PATCH; POST for servers older
  than 2.6 that answer 405), ``proxies`` (the client's drops the toxics), ``version``
  (parsed from every server version's format), ``add_toxic`` (the client's returns None).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import structlog
import toxiproxy
import toxiproxy.api
import toxiproxy.exceptions

from proxy.errors import ProxyError

log = structlog.get_logger()

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, Stream] = ("upstream", "downstream")
DEFAULT_URL = "http://127.0.0.1:8474"
DEFAULT_TIMEOUT_S = 5.0

_CLIENT_LOCK = threading.RLock()
"""Guards the client's process-global ``APIConsumer`` host/port and ``requests`` reference."""


class ProxyApiError(ProxyError):
    """The Toxiproxy server refused or failed a request (its fault or the caller's, by status).

    Attributes:
        status: the HTTP status, or None when no answer came.
        message: the server's ``error`` text (or why there was no answer).
        url: the server's base URL.
        request: ``"METHOD /path"``.
    """

    def __init__(self, *, status: int | None, message: str, url: str, request: str) -> None:
        self.status = status
        self.message = message
        self.url = url
        self.request = request
        who = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Toxiproxy at {url}: {request} failed ({who}): {message}")


class ProxyNotFound(ProxyApiError):
    """404: no such proxy or toxic."""


class ProxyConflict(ProxyApiError):
    """409: a proxy or toxic of that name already exists."""


class ProxyBadRequest(ProxyApiError):
    """400: the server rejected what we sent (the caller's fault)."""


class ToxiproxyUnreachable(ProxyApiError):
    """No answer: connection refused, reset or timed out."""


_BY_STATUS: dict[int, type[ProxyApiError]] = {
    400: ProxyBadRequest,
    404: ProxyNotFound,
    409: ProxyConflict,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Toxic:
    """A toxic, as sent to or read from the server."""

    type: str
    name: str = ""
    """Empty means the server's default, ``<type>_<stream>``."""
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)

    @property
    def effective_name(self) -> str:
        """The name the server will use."""
        return self.name or f"{self.type}_{self.stream}"

    def to_json(self) -> dict[str, Any]:
        """The request body for POST /proxies/{p}/toxics."""
        return {
            "name": self.effective_name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Toxic:
        """Build from a server's toxic object."""
        stream = str(body.get("stream", "downstream")).lower()
        return cls(
            type=str(body["type"]),
            name=str(body["name"]),
            stream="upstream" if stream == "upstream" else "downstream",
            toxicity=float(body.get("toxicity", 1.0)),
            attributes={str(k): int(v) for k, v in (body.get("attributes") or {}).items()},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyInfo:
    """A proxy as the server reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ProxyInfo:
        """Build from a server's proxy object (the leaked ``Logger`` key is ignored)."""
        return cls(
            name=str(body["name"]),
            listen=str(body["listen"]),
            upstream=str(body["upstream"]),
            enabled=bool(body["enabled"]),
            toxics=tuple(Toxic.from_json(t) for t in body.get("toxics") or ()),
        )


class _Transport:
    """Stands in for the ``requests`` module inside ``toxiproxy.api`` while a call runs."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def get(self, url: str, params: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, params=params, **kwargs)

    def post(
        self, url: str, data: Any = None, json: Any = None, **kwargs: Any
    ) -> requests.Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        path = url[len(self.base_url) :] if url.startswith(self.base_url) else url
        where = f"{method} {path}"
        kwargs.setdefault("timeout", self.timeout_s)
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as exc:
            why = (
                f"no answer within {self.timeout_s:g} s"
                if isinstance(exc, requests.Timeout)
                else f"no Toxiproxy answers at {self.base_url}"
            )
            raise ToxiproxyUnreachable(
                status=None,
                message=f"{why} ({type(exc).__name__})",
                url=self.base_url,
                request=where,
            ) from exc
        if response.status_code >= 400:
            error = _BY_STATUS.get(response.status_code, ProxyApiError)
            raise error(
                status=response.status_code,
                message=_error_text(response),
                url=self.base_url,
                request=where,
            )
        return response


def _error_text(response: requests.Response) -> str:
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text or response.reason or "(empty body)"
    if isinstance(body, dict):
        return str(body.get("error") or body.get("title") or text)
    return text


class ToxiproxyControl:
    """Control one Toxiproxy server (Shopify's or the embedded one) through its HTTP API.

    Args:
        url: the server's base URL, ``http://HOST:PORT``.
        timeout_s: the limit for each HTTP request.

    Raises:
        ValueError: for a URL that is not ``http://HOST:PORT``.
    """

    def __init__(self, url: str = DEFAULT_URL, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.path.strip("/"):
            msg = f"Toxiproxy URL {url!r}: expected http://HOST:PORT (the client speaks http only)"
            raise ValueError(msg)
        if timeout_s <= 0:
            msg = f"timeout_s={timeout_s}: must be positive"
            raise ValueError(msg)
        self.timeout_s = timeout_s
        self._host = parts.hostname
        self._port = parts.port or 8474
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"http://{host}:{self._port}"
        self._transport = _Transport(self.url, timeout_s)

    def __repr__(self) -> str:
        return f"ToxiproxyControl({self.url!r})"

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        """Point the client at this server, with this transport, for one call."""
        consumer = toxiproxy.api.APIConsumer
        with _CLIENT_LOCK:
            saved = consumer.host, consumer.port, toxiproxy.api.requests
            consumer.host, consumer.port = self._host, self._port
            toxiproxy.api.requests = self._transport
            try:
                yield toxiproxy.Toxiproxy()
            except toxiproxy.exceptions.ProxyExists as exc:  # raised by the client itself
                raise ProxyConflict(
                    status=409,
                    message="proxy already exists",
                    url=self.url,
                    request="POST /proxies",
                ) from exc
            finally:
                consumer.host, consumer.port, toxiproxy.api.requests = saved

    @staticmethod
    def _handle(name: str) -> Any:
        """A client ``Proxy`` handle; its methods use only the name, so no GET is needed."""
        return toxiproxy.Proxy(name=name, upstream="", listen="", enabled=True)

    def _json(self, response: requests.Response, request: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ProxyApiError(
                status=response.status_code,
                message=f"expected JSON, got {response.text[:80]!r}",
                url=self.url,
                request=request,
            ) from exc

    # -- server ---------------------------------------------------------------------------

    def version(self) -> str:
        """Return the server's version, e.g. ``2.12.0`` (any server version's format)."""
        with _CLIENT_LOCK:
            text = self._transport.get(self.url + "/version").text.strip()
        with contextlib.suppress(ValueError):
            body = json.loads(text.replace("\\n", ""))
            if isinstance(body, dict) and "version" in body:
                return str(body["version"]).strip()
        return text.strip('"').removeprefix("v")

    def is_running(self) -> bool:
        """Whether a server answers GET /version (within the timeout)."""
        try:
            self.version()
        except ProxyApiError:
            return False
        return True

    def reset(self) -> None:
        """POST /reset: re-enable every proxy and remove every toxic (proxies are kept)."""
        with self._client() as server:
            server.reset()
        log.debug("toxiproxy.reset", url=self.url)

    # -- proxies --------------------------------------------------------------------------

    def proxies(self) -> dict[str, ProxyInfo]:
        """Return every proxy by name, with its toxics."""
        with self._client():
            response = toxiproxy.api.APIConsumer.get("/proxies")
        body = self._json(response, "GET /proxies")
        return {name: ProxyInfo.from_json(value) for name, value in body.items()}

    def proxy(self, name: str) -> ProxyInfo:
        """Return one proxy, with its toxics.

        Raises:
            ProxyNotFound: if there is no such proxy.
        """
        with self._client():
            response = toxiproxy.api.APIConsumer.get(f"/proxies/{name}")
        return ProxyInfo.from_json(self._json(response, f"GET /proxies/{name}"))

    def create(
        self, name: str, upstream: str, *, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> ProxyInfo:
        """Create a proxy.

        Raises:
            ProxyConflict: if one of that name exists.
            ProxyApiError: e.g. 500 when the listen port is taken.
        """
        with self._client() as server:
            made = server.create(upstream=upstream, name=name, listen=listen, enabled=enabled)
        log.debug("toxiproxy.create", url=self.url, proxy=name, listen=made.listen)
        return ProxyInfo(
            name=made.name, listen=made.listen, upstream=made.upstream, enabled=made.enabled
        )

    def populate(self, configs: Sequence[Mapping[str, Any]]) -> list[ProxyInfo]:
        """POST /populate: create or replace proxies; entries that match are left alone.

        Args:
            configs: ``{"name", "upstream", "listen", "enabled"}`` objects, e.g. from
                ``proxy.topology.toxiproxy_config``.

        Returns:
            The proxies, in input order.
        """
        with _CLIENT_LOCK:
            response = self._transport.post(self.url + "/populate", json=list(configs))
        body = self._json(response, "POST /populate")
        log.debug("toxiproxy.populate", url=self.url, proxies=len(configs))
        return [ProxyInfo.from_json(p) for p in body.get("proxies") or ()]

    def delete(self, name: str) -> None:
        """Delete a proxy (closing its connections).

        Raises:
            ProxyNotFound: if there is no such proxy.
        """
        with self._client():
            self._handle(name).destroy()
        log.debug("toxiproxy.delete", url=self.url, proxy=name)

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a proxy. Disabling closes its listener and every connection.

        Raises:
            ProxyNotFound: if there is no such proxy.
        """
        with self._client():
            handle = self._handle(name)
            if enabled:
                handle.enable()
            else:
                handle.disable()
        log.debug("toxiproxy.set_enabled", url=self.url, proxy=name, enabled=enabled)

    # -- toxics ---------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[Toxic]:
        """Return a proxy's toxics (upstream first, then downstream).

        Raises:
            ProxyNotFound: if there is no such proxy.
        """
        return list(self.proxy(proxy).toxics)

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        """Add a toxic; it applies to live connections at once.

        Returns:
            The toxic as the server stored it.

        Raises:
            ProxyNotFound: if there is no such proxy.
            ProxyConflict: if the proxy already has a toxic of that name.
            ProxyBadRequest: if the server rejects the type, stream or attributes.
        """
        with self._client():
            response = toxiproxy.api.APIConsumer.post(
                f"/proxies/{proxy}/toxics", json=toxic.to_json()
            )
        made = Toxic.from_json(self._json(response, f"POST /proxies/{proxy}/toxics"))
        log.debug("toxiproxy.add_toxic", url=self.url, proxy=proxy, toxic=made.name)
        return made

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, int] | None = None,
        toxicity: float | None = None,
    ) -> Toxic:
        """Change a toxic's attributes (only the given keys) and/or toxicity, in place.

        Uses PATCH (Toxiproxy 2.6+); falls back to POST when the server answers 405.

        Raises:
            ProxyNotFound: if there is no such proxy or toxic.
        """
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = f"/proxies/{proxy}/toxics/{name}"
        with _CLIENT_LOCK:
            try:
                response = self._transport.request("PATCH", self.url + path, json=body)
            except ProxyApiError as exc:
                if exc.status != 405:
                    raise
                response = self._transport.post(self.url + path, json=body)
        log.debug("toxiproxy.update_toxic", url=self.url, proxy=proxy, toxic=name)
        return Toxic.from_json(self._json(response, f"PATCH {path}"))

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic (removing a ``timeout`` toxic closes the proxy's connections).

        Raises:
            ProxyNotFound: if there is no such proxy or toxic.
        """
        with self._client():
            self._handle(proxy).destroy_toxic(name)
        log.debug("toxiproxy.remove_toxic", url=self.url, proxy=proxy, toxic=name)

"""Toxiproxy's HTTP API on aiohttp: routes, statuses, bodies and headers as Toxiproxy sends them.

Rules: routing and rendering only; every operation lives in the registry.
Success bodies are compact JSON typed ``application/json``; errors are
``{"error": ..., "status": ...}`` plus a newline typed ``text/plain;
charset=utf-8`` (Go's http.Error); unknown paths get Go's 404 text, wrong
methods an empty 405. Matched routes get an ``X-Toxiproxy-Request-Id`` and
refuse ``Mozilla/`` user agents (403), as Toxiproxy's middleware does.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from proxy.server.decode import dump
from proxy.server.errors import ApiError
from proxy.server.registry import ProxyRegistry

REQUEST_ID_HEADER = "X-Toxiproxy-Request-Id"
MAX_BODY_BYTES = 16 * 1024 * 1024

_log = structlog.get_logger()
_REGISTRY: web.AppKey[ProxyRegistry] = web.AppKey("registry", ProxyRegistry)
_VERSION: web.AppKey[str] = web.AppKey("version", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _text(status: int, text: str) -> web.Response:
    return web.Response(
        status=status,
        body=text.encode(),
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _json(status: int, value: Any) -> web.Response:
    return web.Response(
        status=status, body=dump(value), headers={"Content-Type": "application/json"}
    )


def error_response(err: ApiError) -> web.Response:
    """Render an ApiError as Toxiproxy does.

    Args:
        err: the error.

    Returns:
        The response: JSON text, a newline, typed text/plain.
    """
    body = dump({"error": err.message, "status": err.status}).decode() + "\n"
    return _text(err.status, body)


def _request_id() -> str:
    """A 20-character id in the shape of the xid Toxiproxy's logger uses."""
    return base64.b32hexencode(os.urandom(12)).decode().lower().rstrip("=")


@web.middleware
async def _toxiproxy_manner(request: web.Request, handler: Handler) -> web.StreamResponse:
    route_error = request.match_info.http_exception
    if isinstance(route_error, web.HTTPMethodNotAllowed):
        return web.Response(status=405)
    if route_error is not None:
        return _text(404, "404 page not found\n")
    response: web.StreamResponse
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        response = _text(403, "User agent not allowed\n")
    else:
        try:
            response = await handler(request)
        except ApiError as err:
            response = error_response(err)
        except web.HTTPRequestEntityTooLarge:
            response = error_response(ApiError(413, "request body too large"))
        except Exception as err:
            _log.exception("request failed", method=request.method, path=request.path)
            response = error_response(ApiError(500, f"internal error: {err!r}"))
    response.headers[REQUEST_ID_HEADER] = _request_id()
    _log.debug("request", method=request.method, path=request.path, status=response.status)
    return response


def _registry(request: web.Request) -> ProxyRegistry:
    return request.app[_REGISTRY]


async def _proxy_index(request: web.Request) -> web.Response:
    return _json(200, {p.name: p.to_json() for p in _registry(request).proxies()})


async def _proxy_create(request: web.Request) -> web.Response:
    proxy = await _registry(request).create(await request.read())
    return _json(201, proxy.to_json())


async def _populate(request: web.Request) -> web.Response:
    try:
        proxies, failure = await _registry(request).populate(await request.read())
    except ApiError as err:
        proxies, failure = [], err
    payload: dict[str, Any] = {}
    if failure is not None:
        payload = {"error": failure.message, "status": failure.status}
    payload["proxies"] = [p.to_json() for p in proxies] or None
    return _json(failure.status if failure is not None else 201, payload)


async def _proxy_show(request: web.Request) -> web.Response:
    return _json(200, _registry(request).get(request.match_info["proxy"]).to_json())


async def _proxy_update(request: web.Request) -> web.Response:
    proxy = await _registry(request).update(request.match_info["proxy"], await request.read())
    return _json(200, proxy.to_json())


async def _proxy_delete(request: web.Request) -> web.Response:
    await _registry(request).delete(request.match_info["proxy"])
    return web.Response(status=204)


async def _toxic_index(request: web.Request) -> web.Response:
    proxy = _registry(request).get(request.match_info["proxy"])
    return _json(200, [entry.to_json() for entry in proxy.chain.entries()])


async def _toxic_create(request: web.Request) -> web.Response:
    entry = await _registry(request).add_toxic(request.match_info["proxy"], await request.read())
    return _json(200, entry.to_json())


async def _toxic_show(request: web.Request) -> web.Response:
    info = request.match_info
    return _json(200, _registry(request).toxic(info["proxy"], info["toxic"]).to_json())


async def _toxic_update(request: web.Request) -> web.Response:
    info = request.match_info
    entry = await _registry(request).update_toxic(
        info["proxy"], info["toxic"], await request.read()
    )
    return _json(200, entry.to_json())


async def _toxic_delete(request: web.Request) -> web.Response:
    info = request.match_info
    await _registry(request).remove_toxic(info["proxy"], info["toxic"])
    return web.Response(status=204)


async def _reset(request: web.Request) -> web.Response:
    await _registry(request).reset()
    return web.Response(status=204)


async def _version(request: web.Request) -> web.Response:
    body = f'{{"version": "{request.app[_VERSION]}"}}\n'.encode()
    return web.Response(body=body, headers={"Content-Type": "application/json;charset=utf-8"})


_PROXY = "/proxies/{proxy:[^/]+}"
_TOXIC = _PROXY + "/toxics/{toxic:[^/]+}"
_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/reset", _reset),
    ("GET", "/proxies", _proxy_index),
    ("POST", "/proxies", _proxy_create),
    ("POST", "/populate", _populate),
    ("GET", _PROXY, _proxy_show),
    ("POST", _PROXY, _proxy_update),
    ("PATCH", _PROXY, _proxy_update),
    ("DELETE", _PROXY, _proxy_delete),
    ("GET", _PROXY + "/toxics", _toxic_index),
    ("POST", _PROXY + "/toxics", _toxic_create),
    ("GET", _TOXIC, _toxic_show),
    ("POST", _TOXIC, _toxic_update),
    ("PATCH", _TOXIC, _toxic_update),
    ("DELETE", _TOXIC, _toxic_delete),
    ("GET", "/version", _version),
]


def make_app(registry: ProxyRegistry, *, version: str) -> web.Application:
    """Build the aiohttp application serving Toxiproxy's API over a registry.

    Args:
        registry: the proxies to serve.
        version: what GET /version reports.

    Returns:
        The application (not yet running).
    """
    app = web.Application(middlewares=[_toxiproxy_manner], client_max_size=MAX_BODY_BYTES)
    app[_REGISTRY] = registry
    app[_VERSION] = version
    for method, path, handler in _ROUTES:
        app.router.add_route(method, path, handler)
    return app

"""Request bodies of the Toxiproxy API, decoded and checked in Toxiproxy's order.

Rules: pure functions from bytes (and the current state they are checked
against) to specs or ApiErrors; no IO, no asyncio. The order of checks and the
messages are Toxiproxy's: clients and the contract tests depend on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.server import errors
from proxy.server.chain import ToxicEntry, to_float32
from proxy.server.decode import (
    DecodeError,
    GoType,
    decode_struct,
    json_kind,
    match_fields,
    parse,
)
from proxy.server.streams import Direction
from proxy.server.toxics import TOXIC_TYPES, Toxic, build

_PROXY_FIELDS = {
    "name": GoType.STRING,
    "listen": GoType.STRING,
    "upstream": GoType.STRING,
    "enabled": GoType.BOOL,
}
_TOXIC_FIELDS = {
    "name": GoType.STRING,
    "type": GoType.STRING,
    "stream": GoType.STRING,
    "toxicity": GoType.FLOAT32,
}
_POPULATE_TYPE = '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxySpec:
    """What a caller asked a proxy to be."""

    name: str
    listen: str
    upstream: str
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicSpec:
    """A checked request to add a toxic."""

    name: str
    stream: str
    direction: Direction
    toxicity: float
    toxic: Toxic


def _decode(body: bytes, decode: Callable[[Any], Any]) -> Any:
    try:
        return decode(parse(body))
    except DecodeError as err:
        raise errors.bad_request_body(str(err)) from None


def _proxy_fields(value: Any) -> dict[str, Any]:
    return decode_struct(value, struct="toxiproxy.Proxy", fields=_PROXY_FIELDS)


def proxy_create(body: bytes) -> ProxySpec:
    """Decode POST /proxies.

    Args:
        body: the request body.

    Returns:
        The proxy asked for (listen defaults to "", enabled to true).

    Raises:
        ApiError: 400 for a bad body or a missing name or upstream.
    """
    return _new_proxy(_decode(body, _proxy_fields))


def _new_proxy(fields: dict[str, Any], where: str = "") -> ProxySpec:
    """A new proxy's spec from decoded fields: name and upstream required, defaults filled."""
    for required in ("name", "upstream"):
        if not fields.get(required):
            raise errors.missing_field(required + where)
    return ProxySpec(
        name=fields["name"],
        listen=fields.get("listen", ""),
        upstream=fields["upstream"],
        enabled=fields.get("enabled", True),
    )


def proxy_update(body: bytes, current: ProxySpec) -> ProxySpec:
    """Decode POST/PATCH /proxies/{name}: omitted keys keep their values; the name is fixed.

    Args:
        body: the request body.
        current: the proxy as it is.

    Returns:
        The proxy as asked for.

    Raises:
        ApiError: 400 for a bad body.
    """
    fields = _decode(body, _proxy_fields)
    return ProxySpec(
        name=current.name,
        listen=fields.get("listen", current.listen),
        upstream=fields.get("upstream", current.upstream),
        enabled=fields.get("enabled", current.enabled),
    )


def _populate_items(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(
            f"json: cannot unmarshal {json_kind(value)} into Go value of type {_POPULATE_TYPE}"
        )
    return [_proxy_fields(item) for item in value]


def populate(body: bytes) -> list[ProxySpec]:
    """Decode POST /populate, checking every entry before anything is created.

    Args:
        body: the request body (a JSON array, or null for none).

    Returns:
        The proxies asked for, in input order.

    Raises:
        ApiError: 400 for a bad body, or ``missing required field: name at proxy N``.
    """
    items = _decode(body, _populate_items)
    return [
        _new_proxy(fields, f" at proxy {number}") for number, fields in enumerate(items, start=1)
    ]


def _attributes(value: Any) -> Any:
    return match_fields(value, {"attributes": None}).get("attributes") if value else None


def toxic_create(body: bytes, exists: Callable[[str], bool]) -> ToxicSpec:
    """Decode POST /proxies/{name}/toxics with Toxiproxy's checks in its order.

    The order is: body, stream, default name, type, duplicate name, attributes.

    Args:
        body: the request body.
        exists: whether a toxic name is taken on this proxy (either stream).

    Returns:
        The checked toxic.

    Raises:
        ApiError: 400 (body, stream, type, attributes) or 409 (name taken).
    """

    def first_pass(value: Any) -> tuple[dict[str, Any], Any]:
        fields = decode_struct(value, struct="toxics.ToxicWrapper", fields=_TOXIC_FIELDS)
        attributes = _attributes(value)
        decode_struct(attributes, struct="toxics.NoopToxic", fields={})
        return fields, attributes

    fields, attributes = _decode(body, first_pass)
    stream: str = fields.get("stream", "downstream")
    direction = Direction.parse(stream)
    if direction is None:
        raise errors.ApiError(400, errors.INVALID_STREAM)
    toxic_type: str = fields.get("type", "")
    name: str = fields.get("name") or f"{toxic_type}_{stream}"
    cls = TOXIC_TYPES.get(toxic_type)
    if cls is None:
        raise errors.ApiError(400, errors.INVALID_TOXIC_TYPE)
    if exists(name):
        raise errors.ApiError(409, errors.TOXIC_EXISTS)
    try:
        toxic = build(cls, attributes)
    except DecodeError as err:
        raise errors.bad_request_body(str(err)) from None
    return ToxicSpec(
        name=name,
        stream=stream,
        direction=direction,
        toxicity=to_float32(fields.get("toxicity", 1.0)),
        toxic=toxic,
    )


def toxic_update(body: bytes, entry: ToxicEntry) -> tuple[Toxic, float]:
    """Decode POST/PATCH /proxies/{name}/toxics/{toxic}: given attributes change, the rest stay.

    Args:
        body: the request body.
        entry: the toxic as it is.

    Returns:
        The updated toxic and toxicity (kept when absent).

    Raises:
        ApiError: 400 for a bad body or attribute.
    """

    def decode(value: Any) -> tuple[Toxic, float]:
        fields = decode_struct(
            value,
            struct="struct { Attributes interface {}; Toxicity float32 }",
            fields={"toxicity": GoType.FLOAT32},
        )
        toxic = build(type(entry.toxic), _attributes(value), base=entry.toxic)
        toxicity = to_float32(fields["toxicity"]) if "toxicity" in fields else entry.toxicity
        return toxic, toxicity

    result: tuple[Toxic, float] = _decode(body, decode)
    return result

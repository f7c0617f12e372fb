"""Decode request bodies the way Go's ``encoding/json`` decodes into Toxiproxy's structs.

Rules: pure functions, no IO. What Go accepts is accepted here and what Go
rejects is rejected, with a message in Go's shape: only the first JSON value
is read (trailing bytes are ignored), keys match fields case-insensitively
(an exact match wins), unknown keys are ignored, ``null`` leaves a field as
it was, and every field must have its Go type (an ``int64`` takes no ``1.0``
and no ``"1"``).
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from proxy.errors import ProxyError

_FLOAT32_MAX = 3.4028234663852886e38
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_WHITESPACE = " \t\r\n"


class DecodeError(ProxyError):
    """A body Go's decoder would refuse; ``str(err)`` is Go's message."""


class GoType(enum.Enum):
    """The Go field types Toxiproxy's request structs use."""

    STRING = "string"
    BOOL = "bool"
    FLOAT32 = "float32"
    INT64 = "int64"


class _Constant(ValueError):
    """Raised for NaN/Infinity, which JSON (and Go) do not have."""


def _reject_constant(name: str) -> None:
    raise _Constant(name)


def parse(body: bytes) -> Any:
    """Parse the first JSON value of a body, as ``json.Decoder.Decode`` does.

    Args:
        body: the raw request body (invalid UTF-8 becomes U+FFFD, as in Go).

    Returns:
        The decoded value (dicts keep key order; strings have no lone surrogates).

    Raises:
        DecodeError: when the body is empty or not JSON.
    """
    text = body.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    if start == len(text):
        raise DecodeError("EOF")
    decoder = json.JSONDecoder(object_pairs_hook=dict, parse_constant=_reject_constant)
    try:
        value, _ = decoder.raw_decode(text, start)
    except _Constant as err:
        msg = f"invalid character '{str(err)[0]}' looking for beginning of value"
        raise DecodeError(msg) from None
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip(_WHITESPACE)):
            raise DecodeError("unexpected EOF") from None
        where = "looking for beginning of value" if err.pos == start else f"at offset {err.pos}"
        raise DecodeError(f"invalid character {text[err.pos]!r} {where}") from None
    except RecursionError:
        raise DecodeError("exceeded max depth") from None
    return _clean(value)


def _clean(value: Any) -> Any:
    """Replace lone surrogates (which Go decodes as U+FFFD) everywhere in a value."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def json_kind(value: Any) -> str:
    """Name a JSON value's kind the way Go's type errors do.

    Args:
        value: a decoded JSON value.

    Returns:
        One of string, number, bool, object, array, null.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value: Any, where: str, go_type: str) -> DecodeError:
    shown = f"number {value}" if json_kind(value) == "number" else json_kind(value)
    return DecodeError(f"json: cannot unmarshal {shown} into Go {where} of type {go_type}")


def _convert(value: Any, go_type: GoType, where: str) -> Any:
    ok: bool
    match go_type:
        case GoType.STRING:
            ok = isinstance(value, str)
        case GoType.BOOL:
            ok = isinstance(value, bool)
        case GoType.FLOAT32:
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(float(value))
                and abs(float(value)) <= _FLOAT32_MAX
            )
        case GoType.INT64:
            ok = (
                isinstance(value, int)
                and not isinstance(value, bool)
                and _INT64_MIN <= value <= _INT64_MAX
            )
    if not ok:
        raise _type_error(value, where, go_type.value)
    return float(value) if go_type is GoType.FLOAT32 else value


def match_fields(obj: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Pair an object's keys with field names, case-insensitively, exact match preferred.

    Args:
        obj: a decoded JSON object.
        fields: the known field names (lower case, as Toxiproxy's JSON tags are).

    Returns:
        Field name to value for every key that names a field and is not null; for
        repeated keys the last one wins, as in Go.
    """
    out: dict[str, Any] = {}
    for key, value in obj.items():
        field = key if key in fields else key.lower()
        if field in fields and value is not None:
            out[field] = value
    return out


def decode_struct(
    value: Any, *, struct: str, fields: Mapping[str, GoType], context: str = ""
) -> dict[str, Any]:
    """Decode a JSON value into the fields of a flat Go struct.

    Args:
        value: a decoded JSON value (``null`` decodes to no fields).
        struct: the Go struct's qualified name, for messages (e.g. ``toxiproxy.Proxy``).
        fields: field name to Go type.
        context: a path prefix for nested structs (e.g. ``ToxicWrapper.attributes``).

    Returns:
        The fields present (and not null), converted to Python values.

    Raises:
        DecodeError: when the value is not an object or a field has the wrong type.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(value, "value", struct)
    prefix = context or struct.rpartition(".")[2]
    return {
        field: _convert(raw, fields[field], f"struct field {prefix}.{field}")
        for field, raw in match_fields(value, fields).items()
    }


def dump(value: Any) -> bytes:
    """Encode a value the way Go's ``json.Marshal`` does: compact, UTF-8, HTML-safe.

    Args:
        value: plain JSON data.

    Returns:
        The encoded bytes (no trailing newline).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8")

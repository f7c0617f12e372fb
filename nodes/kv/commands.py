"""KV commands: what a client asks for, validated, and their bytes in the Raft log.

Rules: no IO; commands are frozen value types that check their own limits
when built (so a client fails fast) and again when decoded at apply time
(so every replica rejects the same bytes the same way). The log format is
compact JSON, a versioned array: ``[1, op, key, args..., client_id, seq]``
with ``op`` one of ``get put del cas``; encoding is deterministic.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Literal

from nodes.errors import NodeError

MAX_KEY_BYTES = 1024
"""Longest key, in UTF-8 bytes."""
MAX_VALUE_BYTES = 1024 * 1024
"""Longest value, in UTF-8 bytes."""
FORMAT_VERSION = 1
ReadConsistency = Literal["linearizable", "stale"]
READ_CONSISTENCIES: tuple[ReadConsistency, ...] = ("linearizable", "stale")
"""What a Get may ask for: a linearizable read (the default) or a local, stale one."""
MAX_COMMAND_BYTES = 2 * MAX_VALUE_BYTES + MAX_KEY_BYTES + 4096
"""Encoded commands longer than this are rejected before parsing."""


class InvalidCommand(NodeError):
    """A command breaks a rule of the KV store (the client's fault)."""


class EmptyKey(InvalidCommand):
    """The key is the empty string."""


class KeyTooLarge(InvalidCommand):
    """The key exceeds ``MAX_KEY_BYTES``."""


class ValueTooLarge(InvalidCommand):
    """A value exceeds ``MAX_VALUE_BYTES``."""


class InvalidSession(InvalidCommand):
    """``client_id`` and ``seq`` must be given together, with ``seq >= 1``."""


class MalformedCommand(InvalidCommand):
    """Bytes in the log are not a command this version understands."""


def _check_key(key: str) -> None:
    if not key:
        msg = "key must not be empty"
        raise EmptyKey(msg)
    size = len(key.encode())
    if size > MAX_KEY_BYTES:
        msg = f"key is {size} bytes (UTF-8); the limit is {MAX_KEY_BYTES} bytes"
        raise KeyTooLarge(msg)


def _check_value(value: str, what: str) -> None:
    size = len(value.encode())
    if size > MAX_VALUE_BYTES:
        msg = f"{what} is {size} bytes (UTF-8); the limit is {MAX_VALUE_BYTES} bytes"
        raise ValueTooLarge(msg)


def _check_session(client_id: str | None, seq: int | None) -> None:
    if (client_id is None) != (seq is None):
        msg = f"client_id ({client_id!r}) and seq ({seq!r}) must be given together"
        raise InvalidSession(msg)
    if seq is not None and seq < 1:
        msg = f"seq must be >= 1, got {seq}"
        raise InvalidSession(msg)
    if client_id is not None and not client_id:
        msg = "client_id must not be empty"
        raise InvalidSession(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class _KeyCommand:
    """What every command has: a key and an optional client session."""

    key: str
    client_id: str | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        _check_key(self.key)
        _check_session(self.client_id, self.seq)


@dataclass(frozen=True, slots=True, kw_only=True)
class Get(_KeyCommand):
    """Read a key through the log."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete(_KeyCommand):
    """Remove a key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Put(_KeyCommand):
    """Set a key to a value."""

    value: str

    def __post_init__(self) -> None:
        _KeyCommand.__post_init__(self)
        _check_value(self.value, "value")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cas(_KeyCommand):
    """Set ``key`` to ``new`` if it currently holds ``expected`` (None: if it is absent)."""

    expected: str | None
    new: str

    def __post_init__(self) -> None:
        _KeyCommand.__post_init__(self)
        if self.expected is not None:
            _check_value(self.expected, "expected value")
        _check_value(self.new, "new value")


Command = Get | Put | Delete | Cas


def encode_command(command: Command) -> bytes:
    """Encode a command for the Raft log (deterministic: equal commands, equal bytes)."""
    session = [command.client_id, command.seq]
    body: list[object]
    match command:
        case Get(key=key):
            body = ["get", key]
        case Put(key=key, value=value):
            body = ["put", key, value]
        case Delete(key=key):
            body = ["del", key]
        case Cas(key=key, expected=expected, new=new):
            body = ["cas", key, expected, new]
    return json.dumps(
        [FORMAT_VERSION, *body, *session], ensure_ascii=False, separators=(",", ":")
    ).encode()


@functools.lru_cache(maxsize=4096)
def decode_command(data: bytes) -> Command:
    """Decode and validate a command from the Raft log.

    Results are cached (commands are immutable): replicas in one process (the
    simulator's) decode each entry once instead of once per node. Errors are not.

    Raises:
        InvalidCommand: ``MalformedCommand`` for bytes that are not a command,
            or the limit the decoded command breaks.
    """
    if len(data) > MAX_COMMAND_BYTES:
        msg = f"command is {len(data)} bytes; the limit is {MAX_COMMAND_BYTES}"
        raise MalformedCommand(msg)
    try:
        parsed = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        msg = f"command is not UTF-8 JSON: {exc}"
        raise MalformedCommand(msg) from exc
    if not isinstance(parsed, list) or len(parsed) < 2 or parsed[0] != FORMAT_VERSION:
        msg = f"command is not a version-{FORMAT_VERSION} array: {_preview(data)}"
        raise MalformedCommand(msg)
    op, *rest = parsed[1:]
    shapes: dict[object, int] = {"get": 3, "put": 4, "del": 3, "cas": 5}
    if op not in shapes or len(rest) != shapes[op]:
        msg = f"unknown operation or wrong argument count: {_preview(data)}"
        raise MalformedCommand(msg)
    *args, client_id, seq = rest
    if not all(
        isinstance(arg, str) or (op == "cas" and position == 1 and arg is None)
        for position, arg in enumerate(args)
    ):
        msg = f"arguments must be strings: {_preview(data)}"
        raise MalformedCommand(msg)
    if not (client_id is None or isinstance(client_id, str)) or not (
        seq is None or (isinstance(seq, int) and not isinstance(seq, bool))
    ):
        msg = f"client_id must be a string and seq an integer: {_preview(data)}"
        raise MalformedCommand(msg)
    if op == "get":
        return Get(key=args[0], client_id=client_id, seq=seq)
    if op == "put":
        return Put(key=args[0], value=args[1], client_id=client_id, seq=seq)
    if op == "del":
        return Delete(key=args[0], client_id=client_id, seq=seq)
    return Cas(key=args[0], expected=args[1], new=args[2], client_id=client_id, seq=seq)


def _preview(data: bytes) -> str:
    return repr(data[:80]) + ("..." if len(data) > 80 else "")

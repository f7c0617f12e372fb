"""The replicated KV state machine: apply committed commands, snapshot, restore.

Rules: no IO, no clocks, no randomness: every replica that applies the same
entries in the same order reaches the same state, results and snapshot
bytes. Client sessions make a retried command (same ``client_id`` and
``seq``) take effect at most once: the retry gets the original result; an
older ``seq`` gets ``StaleSequence``. The session table holds at most
``max_sessions`` clients; the least recently used one is evicted (recency is
log order, so every replica evicts the same client).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import structlog

from nodes.errors import NodeError
from nodes.kv.commands import Cas, Command, Delete, Get, InvalidCommand, Put, decode_command

_log = structlog.get_logger()
SNAPSHOT_VERSION = 1
DEFAULT_MAX_SESSIONS = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Ok:
    """The command took effect (``value``: what a get read; None for writes)."""

    value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NotFound:
    """get or delete of an absent key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Mismatch:
    """cas found another value (``current``; None when the key is absent) and wrote nothing."""

    current: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StaleSequence:
    """The client already had a newer command applied; this one was not (``last_seq``)."""

    last_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """The entry is not a valid command (it was skipped on every replica)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Noop:
    """An empty entry (e.g. a new leader's no-op): nothing to do."""


KvResult = Ok | NotFound | Mismatch | StaleSequence | Rejected | Noop


class ApplyOrderError(NodeError):
    """Entries were applied out of order (a bug in the caller, not bad data)."""


class InvalidSnapshot(NodeError):
    """Snapshot bytes given to ``restore`` are not a KV snapshot of this version."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Session:
    seq: int
    result: KvResult


class KvStateMachine:
    """Keys and values plus the client session table.

    Args:
        max_sessions: how many clients' last results to remember (at least 1).
        unsafe_disable_session_dedupe: UNSAFE lab switch (seeded bug "session
            dedupe disabled"): retried commands are applied again.
    """

    def __init__(
        self,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        unsafe_disable_session_dedupe: bool = False,
    ) -> None:
        if max_sessions < 1:
            msg = f"max_sessions must be at least 1, got {max_sessions}"
            raise ValueError(msg)
        self._max_sessions = max_sessions
        self._unsafe_no_dedupe = unsafe_disable_session_dedupe
        self._data: dict[str, str] = {}
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._applied = 0
        if unsafe_disable_session_dedupe:
            _log.warning(
                "kv_session_dedupe_disabled",
                detail="UNSAFE: retried commands are applied more than once",
            )

    @property
    def applied_index(self) -> int:
        """Index of the last applied entry."""
        return self._applied

    def get(self, key: str) -> str | None:
        """Read a key locally (for reads served by ReadIndex or, unsafely, stale)."""
        return self._data.get(key)

    def __len__(self) -> int:
        """Number of keys."""
        return len(self._data)

    def apply(self, index: int, data: bytes) -> KvResult:
        """Apply one committed entry.

        Args:
            index: the entry's log index; must exceed every index applied before.
            data: the encoded command (empty for a no-op entry).

        Returns:
            The command's result (invalid bytes give ``Rejected``, never an exception).

        Raises:
            ApplyOrderError: ``index`` is not above the last applied index.
        """
        if index <= self._applied:
            msg = f"apply({index}) after index {self._applied} was applied: indexes must increase"
            raise ApplyOrderError(msg)
        self._applied = index
        if not data:
            return Noop()
        try:
            command = decode_command(data)
        except InvalidCommand as exc:
            _log.warning("kv_command_rejected", index=index, reason=str(exc))
            return Rejected(reason=str(exc))
        client_id, seq = command.client_id, command.seq
        if client_id is None or seq is None:
            return self._execute(command)
        session = self._sessions.get(client_id)
        if session is not None and not self._unsafe_no_dedupe:
            if seq == session.seq:
                self._sessions.move_to_end(client_id)
                return session.result
            if seq < session.seq:
                return StaleSequence(last_seq=session.seq)
        result = self._execute(command)
        self._sessions[client_id] = _Session(seq=seq, result=result)
        self._sessions.move_to_end(client_id)
        self._evict()
        return result

    def _execute(self, command: Command) -> KvResult:
        match command:
            case Get(key=key):
                value = self._data.get(key)
                return NotFound() if value is None else Ok(value=value)
            case Put(key=key, value=value):
                self._data[key] = value
                return Ok()
            case Delete(key=key):
                if self._data.pop(key, None) is None:
                    return NotFound()
                return Ok()
            case Cas(key=key, expected=expected, new=new):
                current = self._data.get(key)
                if current != expected:
                    return Mismatch(current=current)
                self._data[key] = new
                return Ok()

    def _evict(self) -> None:
        while len(self._sessions) > self._max_sessions:
            evicted, _ = self._sessions.popitem(last=False)
            _log.debug("kv_session_evicted", client_id=evicted, applied=self._applied)

    def snapshot(self) -> bytes:
        """The whole state (data, sessions in recency order, applied index) as bytes.

        Equal states give equal bytes.
        """
        document = {
            "v": SNAPSHOT_VERSION,
            "applied": self._applied,
            "data": sorted(self._data.items()),
            "sessions": [
                [client, session.seq, _encode_result(session.result)]
                for client, session in self._sessions.items()
            ],
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def restore(self, data: bytes) -> None:
        """Replace the whole state by a snapshot's.

        Raises:
            InvalidSnapshot: the bytes are not a version-1 KV snapshot.
        """
        try:
            document = json.loads(data.decode())
            if document["v"] != SNAPSHOT_VERSION:
                msg = f"KV snapshot version {document['v']!r}, expected {SNAPSHOT_VERSION}"
                raise InvalidSnapshot(msg)
            applied = document["applied"]
            pairs = {str(key): str(value) for key, value in document["data"]}
            sessions = OrderedDict(
                (str(client), _Session(seq=int(seq), result=_decode_result(result)))
                for client, seq, result in document["sessions"]
            )
            if not isinstance(applied, int) or applied < 0:
                msg = f"KV snapshot applied index {applied!r} is not a non-negative integer"
                raise InvalidSnapshot(msg)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            msg = f"not a KV snapshot: {exc!r}"
            raise InvalidSnapshot(msg) from exc
        self._data = pairs
        self._sessions = sessions
        self._applied = applied
        self._evict()


def _encode_result(result: KvResult) -> list[Any]:
    match result:
        case Ok(value=value):
            return ["ok", value]
        case NotFound():
            return ["not_found"]
        case Mismatch(current=current):
            return ["mismatch", current]
        case StaleSequence(last_seq=last_seq):
            return ["stale", last_seq]
        case Rejected(reason=reason):
            return ["rejected", reason]
        case Noop():
            return ["noop"]


def _decode_result(encoded: list[Any]) -> KvResult:
    kind, *args = encoded
    decoded: KvResult
    if kind == "ok" and len(args) == 1:
        decoded = Ok(value=args[0])
    elif kind == "not_found" and not args:
        decoded = NotFound()
    elif kind == "mismatch" and len(args) == 1:
        decoded = Mismatch(current=args[0])
    elif kind == "stale" and len(args) == 1:
        decoded = StaleSequence(last_seq=int(args[0]))
    elif kind == "rejected" and len(args) == 1:
        decoded = Rejected(reason=str(args[0]))
    elif kind == "noop" and not args:
        decoded = Noop()
    else:
        msg = f"unknown session result {encoded!r}"
        raise ValueError(msg)
    return decoded

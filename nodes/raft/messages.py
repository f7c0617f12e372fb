"""Value types of the Raft core: log entries, hard state, snapshots, messages.

Rules: frozen, slotted, keyword-only dataclasses with no behaviour beyond
validation; no IO. These shapes are a contract: storage, the gRPC codec and
the simulator build on them, so fields are added, never renamed or removed.
The hot ones (built per message, entry or Ready) get ``fast_init``: the same
``__init__`` signature and result as the dataclass's, only cheaper.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

_T = TypeVar("_T")


def fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an ``__init__`` that sets each slot through its
    descriptor instead of ``object.__setattr__`` (about twice as fast, and it is paid
    for every message and Ready): the same keyword-only signature, defaults and result.

    Only for classes whose fields all have plain defaults or none (no
    ``default_factory``) and no ``__post_init__``. A class whose fields are not plain
    slots (compiled, e.g. by mypyc) is returned as it is.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or any(
        f.default_factory is not dataclasses.MISSING for f in fields
    ):
        msg = f"fast_init: {cls.__name__} has a default_factory or a __post_init__"
        raise TypeError(msg)
    if not all(isinstance(vars(cls).get(f.name), types.MemberDescriptorType) for f in fields):
        return cls
    setters = tuple(vars(cls)[f.name].__set__ for f in fields)
    defaults = {f"_d_{f.name}": f.default for f in fields if f.default is not dataclasses.MISSING}
    params = ", ".join(
        f.name if f.default is dataclasses.MISSING else f"{f.name}=_d_{f.name}" for f in fields
    )
    body = "\n".join(f"        _s_{f.name}(self, {f.name})" for f in fields)
    unpack = ", ".join(f"_s_{f.name}" for f in fields)
    source = (
        f"def _make(_setters, {', '.join(defaults) or '_'}):\n"
        f"    {unpack}, = _setters\n"
        f"    def __init__(self, *, {params}):\n{body}\n"
        "    return __init__\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, {}, namespace)  # generated from field names, as dataclasses does
    make: Callable[..., Callable[..., None]] = namespace["_make"]
    init = make(setters, *defaults.values()) if defaults else make(setters, None)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(vars(cls)["__init__"].__annotations__)
    type.__setattr__(cls, "__init__", init)
    return cls


NodeId = int
"""A node's id: a positive integer, unique in the cluster (n1 is 1)."""

NO_NODE: NodeId = 0
"""Stands for "nobody": no vote cast, no leader known."""


class EntryType(enum.Enum):
    """What a log entry carries."""

    NORMAL = "normal"
    """An application command (``data`` is opaque to the core)."""
    NOOP = "noop"
    """The empty entry a new leader appends to commit entries of earlier terms."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One log entry. Indexes start at 1; index 0 / term 0 is the empty log."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class HardState:
    """What must be durable before any message that depends on it is sent.

    ``commit`` need not be synced on its own (it can be recomputed), but term
    and vote must be durable before a vote or an append is acknowledged.
    """

    term: int = 0
    vote: NodeId = NO_NODE
    commit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMeta:
    """Where a snapshot sits in the log, and the voters it was taken with."""

    index: int
    term: int
    voters: tuple[NodeId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """A state-machine snapshot covering every entry up to ``meta.index``."""

    meta: SnapshotMeta
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoredState:
    """Everything a node recovers from its storage on start.

    ``entries`` are contiguous and follow ``snapshot.meta.index`` (or start
    at 1 when there is no snapshot).
    """

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: tuple[Entry, ...] = ()


class MessageType(enum.Enum):
    """The kinds of message Raft peers exchange (string values for the wire codec)."""

    VOTE = "vote"
    """A candidate asks for a vote (``term`` is the candidate's new term)."""
    VOTE_RESP = "vote_resp"
    """Answer to VOTE; ``reject`` says the vote was refused."""
    PRE_VOTE = "pre_vote"
    """Would you vote for me at ``term``? Changes nobody's term (PreVote, thesis 9.6)."""
    PRE_VOTE_RESP = "pre_vote_resp"
    """Answer to PRE_VOTE; a grant carries the asked-for term."""
    APP = "app"
    """AppendEntries: ``entries`` follow (``index``, ``log_term``); ``commit`` is the leader's."""
    APP_RESP = "app_resp"
    """Answer to APP or SNAP: ``index`` is the follower's last matching index, or on
    ``reject`` the rejected ``index`` plus a hint (``reject_hint``, ``log_term``)."""
    HEARTBEAT = "heartbeat"
    """Leader liveness; ``commit`` is min(follower match, leader commit); ``context``
    carries a pending read's context (ReadIndex)."""
    HEARTBEAT_RESP = "heartbeat_resp"
    """Answer to HEARTBEAT, echoing its ``context``."""
    SNAP = "snap"
    """InstallSnapshot: ``snapshot`` replaces the follower's log up to its index."""
    TIMEOUT_NOW = "timeout_now"
    """Leadership transfer: campaign at once, bypassing PreVote and leader leases."""
    READ_INDEX = "read_index"
    """A follower forwards a linearizable read (``context``) to the leader."""
    READ_INDEX_RESP = "read_index_resp"
    """The leader's answer: the read is safe once applied up to ``index``; on
    ``reject`` the read will never be served by this leader."""
    TRANSFER_LEADER = "transfer_leader"
    """A follower forwards a leadership-transfer request for ``target`` to the leader."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One Raft message from ``frm`` to ``to``; unused fields keep their defaults."""

    type: MessageType
    to: NodeId
    frm: NodeId
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""
    target: NodeId = NO_NODE
    """TRANSFER_LEADER: the node leadership should go to."""
    force: bool = False
    """VOTE: the campaign was forced by a leadership transfer (ignores leader leases)."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ReadState:
    """A linearizable read is safe to serve once the state machine applied ``index``."""

    index: int
    context: bytes

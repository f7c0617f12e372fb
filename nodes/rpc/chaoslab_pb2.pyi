from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper

DESCRIPTOR: _descriptor.FileDescriptor

class GetRequest(_message.Message):
    __slots__ = ("consistency", "key")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    key: str
    consistency: str
    def __init__(self, key: str | None = ..., consistency: str | None = ...) -> None: ...

class PutRequest(_message.Message):
    __slots__ = ("client_id", "key", "seq", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    client_id: str
    seq: int
    def __init__(self, key: str | None = ..., value: str | None = ..., client_id: str | None = ..., seq: int | None = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("client_id", "key", "seq")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    key: str
    client_id: str
    seq: int
    def __init__(self, key: str | None = ..., client_id: str | None = ..., seq: int | None = ...) -> None: ...

class CasRequest(_message.Message):
    __slots__ = ("client_id", "expected", "key", "new", "seq")
    KEY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    NEW_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    key: str
    expected: str
    new: str
    client_id: str
    seq: int
    def __init__(self, key: str | None = ..., expected: str | None = ..., new: str | None = ..., client_id: str | None = ..., seq: int | None = ...) -> None: ...

class KvReply(_message.Message):
    __slots__ = ("error", "leader_address", "leader_id", "node_id", "status", "value")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OK: _ClassVar[KvReply.Status]
        NOT_FOUND: _ClassVar[KvReply.Status]
        MISMATCH: _ClassVar[KvReply.Status]
        NOT_LEADER: _ClassVar[KvReply.Status]
        UNAVAILABLE: _ClassVar[KvReply.Status]
        UNKNOWN: _ClassVar[KvReply.Status]
        STALE_SEQUENCE: _ClassVar[KvReply.Status]
        REJECTED: _ClassVar[KvReply.Status]
    OK: KvReply.Status
    NOT_FOUND: KvReply.Status
    MISMATCH: KvReply.Status
    NOT_LEADER: KvReply.Status
    UNAVAILABLE: KvReply.Status
    UNKNOWN: KvReply.Status
    STALE_SEQUENCE: KvReply.Status
    REJECTED: KvReply.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    status: KvReply.Status
    value: str
    error: str
    node_id: int
    leader_id: int
    leader_address: str
    def __init__(self, status: KvReply.Status | str | None = ..., value: str | None = ..., error: str | None = ..., node_id: int | None = ..., leader_id: int | None = ..., leader_address: str | None = ...) -> None: ...

class EntryPb(_message.Message):
    __slots__ = ("data", "index", "noop", "term")
    TERM_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NOOP_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    term: int
    index: int
    noop: bool
    data: bytes
    def __init__(self, term: int | None = ..., index: int | None = ..., noop: bool | None = ..., data: bytes | None = ...) -> None: ...

class SnapshotPb(_message.Message):
    __slots__ = ("data", "index", "term", "voters")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    VOTERS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    index: int
    term: int
    voters: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, index: int | None = ..., term: int | None = ..., voters: _Iterable[int] | None = ..., data: bytes | None = ...) -> None: ...

class MessagePb(_message.Message):
    __slots__ = ("commit", "context", "entries", "force", "frm", "index", "log_term", "reject", "reject_hint", "snapshot", "target", "term", "to", "type")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    FRM_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LOG_TERM_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    REJECT_FIELD_NUMBER: _ClassVar[int]
    REJECT_HINT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    type: str
    to: int
    frm: int
    term: int
    log_term: int
    index: int
    entries: _containers.RepeatedCompositeFieldContainer[EntryPb]
    commit: int
    reject: bool
    reject_hint: int
    snapshot: SnapshotPb
    context: bytes
    target: int
    force: bool
    def __init__(self, type: str | None = ..., to: int | None = ..., frm: int | None = ..., term: int | None = ..., log_term: int | None = ..., index: int | None = ..., entries: _Iterable[EntryPb | _Mapping] | None = ..., commit: int | None = ..., reject: bool | None = ..., reject_hint: int | None = ..., snapshot: SnapshotPb | _Mapping | None = ..., context: bytes | None = ..., target: int | None = ..., force: bool | None = ...) -> None: ...

class MessageBatch(_message.Message):
    __slots__ = ("messages", "sender")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    sender: int
    messages: _containers.RepeatedCompositeFieldContainer[MessagePb]
    def __init__(self, sender: int | None = ..., messages: _Iterable[MessagePb | _Mapping] | None = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("data", "header")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: MessagePb
    data: bytes
    def __init__(self, header: MessagePb | _Mapping | None = ..., data: bytes | None = ...) -> None: ...

class DeliverReply(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    def __init__(self, accepted: int | None = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PeerInfo(_message.Message):
    __slots__ = ("address", "dropped", "id", "match", "next", "state")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    id: int
    address: str
    match: int
    next: int
    state: str
    dropped: int
    def __init__(self, id: int | None = ..., address: str | None = ..., match: int | None = ..., next: int | None = ..., state: str | None = ..., dropped: int | None = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("address", "applied_index", "commit_index", "first_index", "id", "last_index", "leader_address", "leader_id", "log_size", "peers", "role", "snapshot_index", "term", "unsafe_no_sync")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_SIZE_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_INDEX_FIELD_NUMBER: _ClassVar[int]
    UNSAFE_NO_SYNC_FIELD_NUMBER: _ClassVar[int]
    id: int
    role: str
    term: int
    leader_id: int
    leader_address: str
    commit_index: int
    applied_index: int
    first_index: int
    last_index: int
    log_size: int
    peers: _containers.RepeatedCompositeFieldContainer[PeerInfo]
    address: str
    snapshot_index: int
    unsafe_no_sync: bool
    def __init__(self, id: int | None = ..., role: str | None = ..., term: int | None = ..., leader_id: int | None = ..., leader_address: str | None = ..., commit_index: int | None = ..., applied_index: int | None = ..., first_index: int | None = ..., last_index: int | None = ..., log_size: int | None = ..., peers: _Iterable[PeerInfo | _Mapping] | None = ..., address: str | None = ..., snapshot_index: int | None = ..., unsafe_no_sync: bool | None = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthReply(_message.Message):
    __slots__ = ("healthy", "reason")
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    healthy: bool
    reason: str
    def __init__(self, healthy: bool | None = ..., reason: str | None = ...) -> None: ...

class TransferLeaderRequest(_message.Message):
    __slots__ = ("to",)
    TO_FIELD_NUMBER: _ClassVar[int]
    to: int
    def __init__(self, to: int | None = ...) -> None: ...

class TransferLeaderReply(_message.Message):
    __slots__ = ("accepted", "error")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    error: str
    def __init__(self, accepted: bool | None = ..., error: str | None = ...) -> None: ...

"""The KV state machine the Raft log drives, and the commands it understands.

Rules: import from here. No IO anywhere in this package.
"""

from nodes.kv.commands import (
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    Cas,
    Command,
    Delete,
    EmptyKey,
    Get,
    InvalidCommand,
    InvalidSession,
    KeyTooLarge,
    MalformedCommand,
    Put,
    ValueTooLarge,
    decode_command,
    encode_command,
)
from nodes.kv.machine import (
    DEFAULT_MAX_SESSIONS,
    ApplyOrderError,
    InvalidSnapshot,
    KvResult,
    KvStateMachine,
    Mismatch,
    Noop,
    NotFound,
    Ok,
    Rejected,
    StaleSequence,
)

__all__ = [
    "DEFAULT_MAX_SESSIONS",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "ApplyOrderError",
    "Cas",
    "Command",
    "Delete",
    "EmptyKey",
    "Get",
    "InvalidCommand",
    "InvalidSession",
    "InvalidSnapshot",
    "KeyTooLarge",
    "KvResult",
    "KvStateMachine",
    "MalformedCommand",
    "Mismatch",
    "Noop",
    "NotFound",
    "Ok",
    "Put",
    "Rejected",
    "StaleSequence",
    "ValueTooLarge",
    "decode_command",
    "encode_command",
]

"""The sans-IO Raft core: deterministic consensus driven by ticks and messages.

Rules: this package uses nothing but the standard library; no IO, clocks,
threads or global randomness anywhere in it (``testing`` included).
"""

from nodes.raft.config import Config
from nodes.raft.core import RaftCore
from nodes.raft.errors import (
    CompactionError,
    ConfigError,
    InvariantViolation,
    NotLeader,
    ProposalDropped,
    RaftError,
    RestoreError,
    UnknownNode,
)
from nodes.raft.messages import (
    NO_NODE,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    NodeId,
    ReadState,
    RestoredState,
    Snapshot,
    SnapshotMeta,
)
from nodes.raft.progress import ProgressState
from nodes.raft.ready import PeerStatus, Ready, Role, SoftState, Status

__all__ = [
    "NO_NODE",
    "CompactionError",
    "Config",
    "ConfigError",
    "Entry",
    "EntryType",
    "HardState",
    "InvariantViolation",
    "Message",
    "MessageType",
    "NodeId",
    "NotLeader",
    "PeerStatus",
    "ProgressState",
    "ProposalDropped",
    "RaftCore",
    "RaftError",
    "ReadState",
    "Ready",
    "RestoreError",
    "RestoredState",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "SoftState",
    "Status",
    "UnknownNode",
]

"""The ``ap`` consistency mode: every replica reads and writes locally, last-writer-wins on
hybrid logical clocks, anti-entropy after a partition heals. UNSAFE for linearizability.

Rules: import from here. Its own replication path, beside Raft (never through it): the
node server carries anti-entropy over the peer transport (``Peer.Sync``), the simulator
over its simulated peer links; both drive ``ApReplica``.
"""

from nodes.ap.hlc import HybridClock, Timestamp, TimestampError
from nodes.ap.log import ApLog, decode_versions, encode_versions
from nodes.ap.replica import ApReplica, ApStats, Prepared, SyncBatch
from nodes.ap.store import LwwStore, Version

__all__ = [
    "ApLog",
    "ApReplica",
    "ApStats",
    "HybridClock",
    "LwwStore",
    "Prepared",
    "SyncBatch",
    "Timestamp",
    "TimestampError",
    "Version",
    "decode_versions",
    "encode_versions",
]

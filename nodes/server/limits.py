"""Every size, count and time limit a node enforces, in one table (README "Limits").

Rules: constants only, each with the reason it has the value it has; the modules that
enforce a limit import it from here (the KV and codec limits are defined next to the
code that checks them and re-exported here, so this table is complete). Changing a
value here changes the node; the README's table must say the same.
"""

from __future__ import annotations

from nodes.kv.commands import MAX_COMMAND_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES
from nodes.rpc.codec import MAX_INDEX, MAX_NODE_ID, MAX_TERM, SNAPSHOT_CHUNK_BYTES

MIB = 1024 * 1024

# ---- client requests ---------------------------------------------------------------

MAX_CLIENT_MESSAGE_BYTES = 4 * MIB
"""gRPC receive (and send) limit of the client listener: a maximal cas (two 1 MiB
values) fits with room; a 16 MB put is RESOURCE_EXHAUSTED before it is parsed."""
MAX_CLIENT_ID_BYTES = 256
"""Longest session client id (UTF-8). Checked before proposing: the id is written to
every replica's log and session table."""
MAX_PENDING_WRITE_BYTES = 64 * MIB
"""Encoded bytes of this node's proposals still waiting for their outcome. Beyond it a
write is refused with UNAVAILABLE (certainly not applied) instead of piling up in the
log faster than the followers can take it."""
MAX_CONCURRENT_STREAMS = 256
"""Concurrent calls on one client or peer connection (HTTP/2 streams)."""

# ---- peers ---------------------------------------------------------------------------

MAX_PEER_MESSAGE_BYTES = 16 * MIB
"""gRPC receive limit of the peer listener (a Deliver batch, a Forward, a snapshot chunk)."""
MAX_PEER_BATCH_BYTES = 4 * MIB
"""A Deliver batch stops growing at this many (estimated) bytes, far below the receive
limit, so a batch of large appends never exceeds it and takes heartbeats down with it.
One message alone is always sent (an append holds at most ~1 MiB plus one entry)."""
MAX_PEER_BATCH_MESSAGES = 256
"""A Deliver batch holds at most this many messages."""
MAX_PEER_QUEUE_BYTES = 64 * MIB
"""Bytes waiting per peer; messages beyond it are dropped (Raft retransmits)."""
MAX_SNAPSHOT_BYTES = 256 * MIB
"""The largest snapshot a node receives (its data, streamed to disk as it arrives)."""
MAX_SYNC_VERSIONS = 4096
"""Versions in one ``ap`` anti-entropy call (a sender sends at most 256; a call of 4096
maximal values would pass the peer message limit and be refused before parsing)."""
MAX_CONCURRENT_SNAPSHOT_RECEIVES = 1
"""Snapshot streams received at once; more are refused (RESOURCE_EXHAUSTED, the leader
retries), so memory holds at most one snapshot however many streams arrive."""

# ---- connections -----------------------------------------------------------------------

HANDSHAKE_TIMEOUT_MS = 5_000
"""A connection that has not finished its HTTP/2 (and TLS) handshake by then is closed:
half-open connections do not pile up (setting ``handshake_timeout_ms``)."""
IDLE_TIMEOUT_MS = 60_000
"""A connection with no call for this long is closed, whether its client went quiet or
vanished (clients reconnect on their next call; setting ``idle_timeout_ms``). Peers are
never idle (heartbeats)."""

# ---- waiting ---------------------------------------------------------------------------

MAX_WAIT_S = 10.0
"""The longest a request waits for the cluster, whatever its deadline."""
DEFAULT_WAIT_S = 5.0
"""How long a request without a deadline waits."""

__all__ = [
    "DEFAULT_WAIT_S",
    "HANDSHAKE_TIMEOUT_MS",
    "IDLE_TIMEOUT_MS",
    "MAX_CLIENT_ID_BYTES",
    "MAX_CLIENT_MESSAGE_BYTES",
    "MAX_COMMAND_BYTES",
    "MAX_CONCURRENT_SNAPSHOT_RECEIVES",
    "MAX_CONCURRENT_STREAMS",
    "MAX_INDEX",
    "MAX_KEY_BYTES",
    "MAX_NODE_ID",
    "MAX_PEER_BATCH_BYTES",
    "MAX_PEER_BATCH_MESSAGES",
    "MAX_PEER_MESSAGE_BYTES",
    "MAX_PEER_QUEUE_BYTES",
    "MAX_PENDING_WRITE_BYTES",
    "MAX_SNAPSHOT_BYTES",
    "MAX_SYNC_VERSIONS",
    "MAX_TERM",
    "MAX_VALUE_BYTES",
    "MAX_WAIT_S",
    "MIB",
    "SNAPSHOT_CHUNK_BYTES",
]

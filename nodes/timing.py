"""The Raft timing every kind of node starts with unless told otherwise.

Rules: constants only, no imports. The node's configuration, the simulator, the local
cluster and the experiment files all default to these, so a cluster of any backend keeps
the same election and heartbeat rhythm (the compose file chooses a longer tick of its own).
"""

DEFAULT_TICK_MS = 10
"""One Raft tick, in milliseconds."""
DEFAULT_ELECTION_TICKS = 15
"""Election timeout in ticks: the core draws each timeout from [this, 2 x this)."""
DEFAULT_HEARTBEAT_TICKS = 3
"""A leader's heartbeat interval, in ticks."""

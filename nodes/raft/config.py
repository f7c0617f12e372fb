"""The Raft core's configuration, validated in one place.

Rules: a frozen value; ``Config.validate`` (run on construction) is the only
place that checks it and raises ``ConfigError`` naming the bad field. No IO.
"""

from __future__ import annotations

from dataclasses import dataclass

from nodes.raft.errors import ConfigError
from nodes.raft.messages import NodeId

MAX_ELECTION_STRETCH = 4
"""An adaptive election timeout's base never exceeds this many election_ticks."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """How one Raft node behaves. Times are in ticks (the driver decides a tick's length).

    Sane ratios: ``election_tick`` at least 5x ``heartbeat_tick`` (e.g. 10 and 1), so
    a few lost heartbeats do not start an election; a tick of 50-100 ms suits a LAN.
    """

    id: NodeId
    """This node's id (> 0); must be one of ``voters``."""
    voters: tuple[NodeId, ...]
    """Every voter of the cluster, this node included; distinct ids > 0."""
    election_tick: int = 10
    """Ticks without a leader before campaigning; the actual timeout is drawn from
    [base, 2 * base) on every reset, where base is election_tick unless the links are
    slow (see ``adaptive_election``). Also the CheckQuorum window, the leader lease and
    the leadership-transfer deadline. >= 2."""
    heartbeat_tick: int = 1
    """Ticks between leader heartbeats; >= 1 and < election_tick (ideally <= 1/5 of it)."""
    pre_vote: bool = True
    """Run a PreVote round before a real election, so a node that was partitioned away
    cannot force the cluster's term up when it comes back."""
    adaptive_election: bool = True
    """Stretch the election timeout (and the CheckQuorum window, and the lease in which
    (pre-)votes are ignored) to twice the longest recent silence between a leader and its
    followers, at most ``MAX_ELECTION_STRETCH`` x election_tick: heartbeats that arrive
    late but do arrive (a slow or jittery link) then no longer start elections, while a
    quiet fast cluster keeps election_tick and its fast failover. Silences are measured in
    ticks (a follower: between two messages of its leader; a leader: between two answers
    of a follower it counts as active; a (pre-)candidate: a whole campaign that timed out
    with fewer than a quorum of answers, so campaigns back off when round trips outgrow
    the timeout); the longest is forgotten one tick per election_tick. It only ever
    lengthens timeouts, so leases stay safe."""
    check_quorum: bool = True
    """A leader steps down when it has not heard from a quorum within election_tick,
    and followers that heard from a leader within election_tick ignore (pre-)votes."""
    max_entries_per_msg: int = 64
    """At most this many entries in one APP message (>= 1)."""
    max_bytes_per_msg: int = 1 << 20
    """At most this many payload bytes in one APP message (>= 1; one entry always fits)."""
    max_inflight_msgs: int = 256
    """At most this many unacknowledged APP messages per follower while pipelining (>= 1)."""
    unsafe_commit_prior_term_by_count: bool = False
    """UNSAFE, a seeded bug for the lab: commit an entry of an earlier term as soon as a
    majority stores it, violating the Figure 8 rule. Never enable in production."""
    unsafe_skip_leader_noop: bool = False
    """UNSAFE lab switch, only for the seeded bug commit-prior-term: a new leader appends
    no empty entry and just sends empty appends, as in the Raft paper's basic
    algorithm. Safe on its own (reads then wait for the term's first write); it exists
    because the empty entry travels with older entries and would hide the Figure 8
    mistake. Never in production."""
    unsafe_leader_read_without_quorum: bool = False
    """UNSAFE, a seeded bug for the lab: a leader answers read_index at once without
    confirming it is still the leader (stale reads from a deposed leader). Never in production."""

    def __post_init__(self) -> None:
        """Validate on construction.

        Raises:
            ConfigError: a field is out of range; it names the field.
        """
        self.validate()

    def validate(self) -> None:
        """Check every field.

        Raises:
            ConfigError: a field is out of range; it names the field.
        """
        if self.id <= 0:
            raise ConfigError("id", f"must be > 0, got {self.id}")
        if any(v <= 0 for v in self.voters):
            raise ConfigError("voters", f"ids must be > 0, got {self.voters}")
        if len(set(self.voters)) != len(self.voters):
            raise ConfigError("voters", f"ids must be distinct, got {self.voters}")
        if self.id not in self.voters:
            raise ConfigError("voters", f"must include this node's id {self.id}, got {self.voters}")
        if self.election_tick < 2:
            raise ConfigError("election_tick", f"must be >= 2 ticks, got {self.election_tick}")
        if self.heartbeat_tick < 1:
            raise ConfigError("heartbeat_tick", f"must be >= 1 tick, got {self.heartbeat_tick}")
        if self.heartbeat_tick >= self.election_tick:
            raise ConfigError(
                "heartbeat_tick",
                f"must be < election_tick ({self.election_tick}), got {self.heartbeat_tick}",
            )
        for name in ("max_entries_per_msg", "max_bytes_per_msg", "max_inflight_msgs"):
            value = getattr(self, name)
            if value < 1:
                raise ConfigError(name, f"must be >= 1, got {value}")

    @property
    def quorum(self) -> int:
        """How many voters make a majority."""
        return len(self.voters) // 2 + 1

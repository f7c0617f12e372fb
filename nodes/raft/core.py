"""The sans-IO Raft core: a deterministic state machine driven by ticks and messages.

Rules: standard library only; no sockets, files, clocks, threads, asyncio,
logging or global ``random``. Randomness comes from the injected
``random.Random``; time is counted in ticks. The same inputs and seed give the
same outputs, byte for byte. Inputs: ``tick``, ``step``, ``propose``,
``read_index``, ``transfer_leader``, ``campaign``, ``compact``. Output: ``ready``
batches, acknowledged with ``advance``. This module holds the public API,
elections and the follower/candidate roles; the leader role lives in
``leader``, the shared state and role changes (``_become_*``) in ``state``.
"""

from __future__ import annotations

from nodes.raft.describe import describe_status
from nodes.raft.errors import CompactionError, NotLeader, ProposalDropped, UnknownNode
from nodes.raft.leader import Leader
from nodes.raft.messages import (
    NO_NODE,
    EntryType,
    Message,
    MessageType,
    NodeId,
    ReadState,
    Snapshot,
    SnapshotMeta,
)
from nodes.raft.ready import PeerStatus, Ready, Role, Status

MT = MessageType
_VOTE_RESP = {MT.VOTE: MT.VOTE_RESP, MT.PRE_VOTE: MT.PRE_VOTE_RESP}
_FROM_LEADER = frozenset({MT.APP, MT.HEARTBEAT, MT.SNAP})


class RaftCore(Leader):
    """One Raft node's consensus state, with no IO of its own.

    Args:
        config: this node's configuration.
        rng: the only source of randomness (election timeouts).
        restored: what the node's storage recovered, or None for a fresh node.

    Raises:
        RestoreError: ``restored`` is inconsistent.
    """

    @property
    def role(self) -> Role:
        """This node's role."""
        return self._role

    @property
    def term(self) -> int:
        """The current term."""
        return self._term

    @property
    def leader_id(self) -> NodeId:
        """The leader this node knows of (``NO_NODE`` when none)."""
        return self._lead

    @property
    def commit_index(self) -> int:
        """The highest index known committed."""
        return self._log.committed

    @property
    def applied_index(self) -> int:
        """The highest index handed out for applying and acknowledged by ``advance``."""
        return self._log.applied

    @property
    def last_index(self) -> int:
        """The last index of the log."""
        return self._log.last_index

    @property
    def first_index(self) -> int:
        """The first index still in the log (after compaction)."""
        return self._log.first_index

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index`` (the snapshot's at its index); None when the
        entry was compacted away or is beyond the end of the log."""
        return self._log.term(index)

    def status(self) -> Status:
        """A snapshot of this node's state, with per-follower progress on a leader."""
        progress = tuple(
            PeerStatus(
                id=p,
                match=pr.match,
                next=pr.next,
                state=pr.state.value,
                inflight=pr.inflight,
                recent_active=pr.recent_active,
            )
            for p, pr in sorted(self._leadership.progress.items())
            if p != self.id
        )
        return Status(
            id=self.id,
            role=self._role,
            term=self._term,
            vote=self._vote,
            leader_id=self._lead,
            commit_index=self._log.committed,
            applied_index=self._log.applied,
            first_index=self._log.first_index,
            last_index=self._log.last_index,
            last_term=self._log.last_term(),
            lead_transferee=self._leadership.transferee,
            progress=progress,
        )

    def describe(self) -> str:
        """Stable multi-line text of this node's state (used by scenario tests)."""
        return describe_status(self.status())

    def tick(self) -> None:
        """Advance logical time by one tick."""
        if self._role is Role.LEADER:
            self._tick_leader()
            return
        self._age_silence()
        self._election_elapsed += 1
        if self._election_elapsed >= self._timeout:
            if self._role is not Role.FOLLOWER and len(self._votes) < self._cfg.quorum:
                # Too few answers came back within the timeout (a round trip longer than
                # it, or a partition): count the campaign as a silence, so the next one
                # waits longer instead of timing out again and again.
                self._heard_after(self._timeout)
            self._election_elapsed = 0
            self._hup(transfer=False)

    def campaign(self) -> None:
        """Start an election now (through PreVote when enabled); no-op on a leader."""
        self._hup(transfer=False)

    def propose(self, data: bytes) -> tuple[int, int]:
        """Append a command to the leader's log.

        Args:
            data: the command, opaque to the core.

        Returns:
            The (index, term) the entry got; it is committed only if it later appears
            in ``committed_entries`` with that term.

        Raises:
            NotLeader: this node is not the leader.
            ProposalDropped: a leadership transfer is in progress.
        """
        if self._role is not Role.LEADER:
            raise NotLeader(self._lead)
        transferee = self._leadership.transferee
        if transferee != NO_NODE:
            raise ProposalDropped(f"leadership is being transferred to {transferee}")
        return self._append(EntryType.NORMAL, data)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read; the answer is a ``ReadState`` with ``context``.

        Contexts must be unique across the cluster while pending (e.g. prefix the
        node id); a read that can no longer complete shows up in ``dropped_reads``.

        Args:
            context: the application's id for this read.

        Raises:
            NotLeader: no leader is known to forward the read to.
        """
        if self._role is Role.LEADER:
            self._leader_read(context, self.id)
        elif self._lead == NO_NODE:
            raise NotLeader(NO_NODE)
        else:
            self._forwarded_reads.append(context)
            self._send(MT.READ_INDEX, self._lead, context=context)

    def transfer_leader(self, to: NodeId) -> None:
        """Hand leadership to ``to``: catch it up, then tell it to campaign at once.

        Proposals are refused meanwhile; the transfer is abandoned after an election
        timeout. A follower forwards the request to its leader.

        Raises:
            UnknownNode: ``to`` is not a voter.
            NotLeader: this node is a follower that knows no leader.
        """
        if to not in self._voters:
            raise UnknownNode(to, "transfer_leader")
        if self._role is Role.LEADER:
            self._start_transfer(to)
        elif self._lead == NO_NODE:
            raise NotLeader(NO_NODE)
        else:
            self._send(MT.TRANSFER_LEADER, self._lead, target=to)

    def compact(self, index: int, data: bytes) -> Snapshot:
        """The application snapshotted its state machine at ``index``: drop entries <= index.

        Args:
            index: the last applied index the snapshot covers.
            data: the serialized state machine.

        Returns:
            The snapshot, for the application to persist; lagging followers get it too.

        Raises:
            CompactionError: ``index`` is not applied yet or already compacted.
        """
        log = self._log
        if index > log.applied:
            raise CompactionError(index, f"only entries up to applied index {log.applied} can be")
        if index < log.first_index:
            raise CompactionError(index, f"the log already starts at {log.first_index}")
        term = log.term(index) or 0
        snap = Snapshot(
            meta=SnapshotMeta(index=index, term=term, voters=self._cfg.voters), data=data
        )
        log.compact(index)
        self._snapshot = snap
        return snap

    def step(self, m: Message) -> None:
        """Handle a message from a peer; stale or foreign messages are ignored."""
        if m.to != self.id or m.frm not in self._voters or m.frm == self.id:
            return
        if m.term > self._term:
            if m.type is MT.PRE_VOTE or m.type is MT.VOTE:
                in_lease = (
                    self._cfg.check_quorum
                    and self._lead != NO_NODE
                    and self._election_elapsed < self._election_base()
                )
                if in_lease and not m.force:
                    return
                if m.type is MT.VOTE:
                    self._become_follower(m.term, NO_NODE)
            elif m.type is MT.PRE_VOTE_RESP and not m.reject:
                pass  # a grant carries the term we asked for, not a newer leader's
            else:
                self._become_follower(m.term, m.frm if m.type in _FROM_LEADER else NO_NODE)
        elif m.term < self._term:
            if m.type is MT.APP or m.type is MT.HEARTBEAT:
                # Tell a stale leader about the newer term so it steps down.
                self._send(MT.APP_RESP, m.frm)
            elif m.type is MT.PRE_VOTE:
                self._send(MT.PRE_VOTE_RESP, m.frm, reject=True)
            return
        if m.type is MT.VOTE or m.type is MT.PRE_VOTE:
            self._handle_vote_request(m)
        elif self._role is Role.LEADER:
            self._step_leader(m)
        elif self._role is Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    def has_ready(self) -> bool:
        """Whether ``ready`` has anything for the driver."""
        log = self._log
        return bool(
            self._msgs
            or self._leadership.broadcast_pending
            or self._warnings
            or log.unstable <= log.last_index
            or log.committed > log.applied
            or self._read_states
            or self._dropped_reads
            or self._pending_snapshot is not None
            or self._term != self._prev_hard.term
            or self._vote != self._prev_hard.vote
            or log.committed != self._prev_hard.commit
            or self._role is not self._prev_soft.role
            or self._lead != self._prev_soft.leader_id
        )

    def ready(self) -> Ready:
        """Collect the work for the driver (see ``Ready`` for the order to do it in).

        Call ``advance`` with the result before the next ``ready``.
        """
        if self._leadership.broadcast_pending:
            self._bcast_append()
        hard = self._hard_state()
        soft = self._soft_state()
        rd = Ready(
            hard_state=hard if hard != self._prev_hard else None,
            entries=self._log.unstable_entries(),
            snapshot=self._pending_snapshot,
            messages=tuple(self._msgs),
            committed_entries=self._log.next_committed(),
            read_states=tuple(self._read_states),
            dropped_reads=tuple(self._dropped_reads),
            soft_state=soft if soft != self._prev_soft else None,
            warnings=tuple(self._warnings),
        )
        self._prev_hard = hard
        self._prev_soft = soft
        self._msgs = []
        self._read_states = []
        self._dropped_reads = []
        self._warnings = []
        return rd

    def advance(self, ready: Ready) -> None:
        """The driver persisted, sent and applied ``ready``."""
        if ready.entries:
            last = ready.entries[-1]
            self._log.stable_to(last.index, last.term)
        if ready.snapshot is not None and ready.snapshot is self._pending_snapshot:
            self._pending_snapshot = None
        if ready.committed_entries:
            self._log.applied_to(ready.committed_entries[-1].index)

    def _hup(self, *, transfer: bool) -> None:
        if self._role is Role.LEADER:
            return
        if self._cfg.pre_vote and not transfer:
            self._become_pre_candidate()
            self._request_votes(MT.PRE_VOTE, self._term + 1, force=False)
        else:
            self._start_election(force=transfer)

    def _start_election(self, *, force: bool = False) -> None:
        """Become candidate for the next term (after PreVote, or forced by a transfer)."""
        self._become_candidate()
        self._request_votes(MT.VOTE, self._term, force=force)

    def _request_votes(self, kind: MessageType, term: int, *, force: bool) -> None:
        if self._poll(self.id, granted=True):
            return
        log = self._log
        for p in self._peers:
            self._send(
                kind, p, term=term, index=log.last_index, log_term=log.last_term(), force=force
            )

    def _poll(self, voter: NodeId, *, granted: bool) -> bool:
        """Record a vote; return True when the election was decided (won or lost)."""
        self._votes.setdefault(voter, granted)
        yes = sum(1 for g in self._votes.values() if g)
        no = len(self._votes) - yes
        q = self._cfg.quorum
        if yes >= q:
            if self._role is Role.PRE_CANDIDATE:
                self._start_election()
            else:
                self._become_leader()
            return True
        if no > len(self._cfg.voters) - q:
            self._become_follower(self._term, NO_NODE)
            return True
        return False

    def _handle_vote_request(self, m: Message) -> None:
        pre = m.type is MT.PRE_VOTE
        can_vote = (
            self._vote == m.frm
            or (self._vote == NO_NODE and self._lead == NO_NODE)
            or (pre and m.term > self._term)
        )
        if can_vote and self._log.is_up_to_date(m.index, m.log_term):
            self._send(_VOTE_RESP[m.type], m.frm, term=m.term)
            if not pre:
                self._election_elapsed = 0
                self._vote = m.frm
        else:
            self._send(_VOTE_RESP[m.type], m.frm, reject=True)

    def _step_candidate(self, m: Message) -> None:
        t = m.type
        if t in _FROM_LEADER:
            self._become_follower(m.term, m.frm)
            self._step_follower(m)
        elif (t is MT.PRE_VOTE_RESP and self._role is Role.PRE_CANDIDATE) or (
            t is MT.VOTE_RESP and self._role is Role.CANDIDATE
        ):
            self._poll(m.frm, granted=not m.reject)
        elif t is MT.READ_INDEX:
            self._send(MT.READ_INDEX_RESP, m.frm, context=m.context, reject=True)

    def _step_follower(self, m: Message) -> None:
        t = m.type
        if t in _FROM_LEADER and m.frm == self._lead:
            self._heard_after(self._election_elapsed)
        if t is MT.APP:
            self._election_elapsed = 0
            self._lead = m.frm
            self._handle_append(m)
        elif t is MT.HEARTBEAT:
            self._election_elapsed = 0
            self._lead = m.frm
            self._handle_heartbeat(m)
        elif t is MT.SNAP:
            self._election_elapsed = 0
            self._lead = m.frm
            self._handle_snapshot(m)
        elif t is MT.TIMEOUT_NOW:
            self._hup(transfer=True)
        elif t is MT.TRANSFER_LEADER:
            if self._lead != NO_NODE:
                self._send(MT.TRANSFER_LEADER, self._lead, target=m.target)
        elif t is MT.READ_INDEX:
            self._send(MT.READ_INDEX_RESP, m.frm, context=m.context, reject=True)
        elif t is MT.READ_INDEX_RESP and m.context in self._forwarded_reads:
            self._forwarded_reads.remove(m.context)
            if m.reject:
                self._dropped_reads.append(m.context)
            else:
                self._read_states.append(ReadState(index=m.index, context=m.context))

    def _handle_append(self, m: Message) -> None:
        log = self._log
        log.check_committed(m.index, m.log_term, m.entries, f"leader {m.frm} of term {m.term}")
        if m.index < log.committed:
            self._send(MT.APP_RESP, m.frm, index=log.committed)
            return
        last_new = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._send(MT.APP_RESP, m.frm, index=last_new)
            return
        hint, hint_term = log.find_conflict_by_term(min(m.index, log.last_index), m.log_term)
        self._send(
            MT.APP_RESP, m.frm, index=m.index, reject=True, reject_hint=hint, log_term=hint_term
        )

    def _handle_heartbeat(self, m: Message) -> None:
        log = self._log
        if m.commit <= log.last_index:
            log.commit_to(m.commit)
            self._send(MT.HEARTBEAT_RESP, m.frm, context=m.context)
            return
        # A heartbeat's commit is at most what we acknowledged holding to this leader,
        # and nothing of this leader's is ever truncated: our storage lost entries.
        self._warn(
            f"leader {m.frm} counts this node as holding index {m.commit} but its log ends "
            f"at {log.last_index}: storage lost acknowledged entries; asking for them again"
        )
        log.commit_to(m.commit)
        self._send(MT.HEARTBEAT_RESP, m.frm, context=m.context, reject=True, index=log.last_index)

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        log = self._log
        if snap is None or snap.meta.index <= log.committed:
            self._send(MT.APP_RESP, m.frm, index=log.committed)
            return
        if log.match_term(snap.meta.index, snap.meta.term):
            log.commit_to(snap.meta.index)  # we already hold it: just fast-forward
            self._send(MT.APP_RESP, m.frm, index=log.committed)
            return
        log.restore(snap.meta)
        self._snapshot = snap
        self._pending_snapshot = snap
        self._send(MT.APP_RESP, m.frm, index=log.last_index)

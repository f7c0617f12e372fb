"""The fields every Raft role shares, and the transitions between roles.

Rules: no IO; standard library only. ``NodeState`` owns the node's whole
mutable state; role behaviour lives in subclasses (``leader.Leader``, then
``core.RaftCore``). Every role or term change goes through ``_reset``: it
restarts the timers, clears the votes, fails the pending reads and replaces the
leader's whole per-term state (``Leadership``) at once, so nothing of an old
role or term is ever left behind.
"""

from __future__ import annotations

import random

from nodes.raft.config import MAX_ELECTION_STRETCH, Config
from nodes.raft.leadership import Leadership
from nodes.raft.log import RaftLog
from nodes.raft.messages import (
    NO_NODE,
    Entry,
    HardState,
    Message,
    MessageType,
    NodeId,
    ReadState,
    RestoredState,
    Snapshot,
)
from nodes.raft.ready import Role, SoftState
from nodes.raft.restore import restore_log

MT = MessageType


class NodeState:
    """One node's mutable Raft state; ``RaftCore`` documents the constructor."""

    def __init__(
        self, config: Config, rng: random.Random, restored: RestoredState | None = None
    ) -> None:
        self._cfg = config
        self._rng = rng
        self._peers = tuple(v for v in config.voters if v != config.id)
        self._voters = frozenset(config.voters)
        restored = restored or RestoredState()
        self._log: RaftLog = restore_log(restored)
        self._snapshot: Snapshot | None = restored.snapshot
        self._term = restored.hard_state.term
        self._vote = restored.hard_state.vote
        self._role = Role.FOLLOWER
        self._lead = NO_NODE
        self._election_elapsed = 0
        self._timeout = self._timeout_base = config.election_tick
        self._silence = 0
        """The longest recent silence on a leader-follower link, in ticks (adaptive)."""
        self._silence_age = 0
        self._votes: dict[NodeId, bool] = {}
        self._leadership = Leadership()
        self._forwarded_reads: list[bytes] = []
        self._msgs: list[Message] = []
        self._read_states: list[ReadState] = []
        self._dropped_reads: list[bytes] = []
        self._pending_snapshot: Snapshot | None = None
        self._warnings: list[str] = []
        self._prev_hard = HardState(term=self._term, vote=self._vote, commit=self._log.committed)
        self._prev_soft = SoftState(role=Role.FOLLOWER)
        self._become_follower(self._term, NO_NODE)

    @property
    def id(self) -> NodeId:
        """This node's id."""
        return self._cfg.id

    def _hard_state(self) -> HardState:
        """The current hard state (the previous Ready's object when it is unchanged)."""
        prev = self._prev_hard
        term, vote, commit = self._term, self._vote, self._log.committed
        if prev.term == term and prev.vote == vote and prev.commit == commit:
            return prev
        return HardState(term=term, vote=vote, commit=commit)

    def _soft_state(self) -> SoftState:
        """The current soft state (the previous Ready's object when it is unchanged)."""
        prev = self._prev_soft
        if prev.role is self._role and prev.leader_id == self._lead:
            return prev
        return SoftState(role=self._role, leader_id=self._lead)

    def _election_base(self) -> int:
        """The election timeout's lower bound: election_tick, stretched on slow links."""
        et = self._cfg.election_tick
        stretched = 2 * self._silence
        if stretched <= et:
            return et
        return min(stretched, MAX_ELECTION_STRETCH * et)

    def _heard_after(self, silence: int) -> None:
        """A leader-follower link was silent for ``silence`` ticks before this message."""
        if not self._cfg.adaptive_election:
            return
        if silence > self._silence:
            self._silence = silence
            self._silence_age = 0
        self._redraw_timeout()  # only here, as the timer restarts: never mid-silence

    def _age_silence(self) -> None:
        """One tick passed: forget one tick of the longest silence every election_tick."""
        if self._silence:
            self._silence_age += 1
            if self._silence_age >= self._cfg.election_tick:
                self._silence_age = 0
                self._silence -= 1

    def _redraw_timeout(self) -> None:
        """Draw the election timeout again if its base moved (no draw while it stays at
        election_tick, so a fast cluster draws exactly as with a fixed timeout)."""
        base = self._election_base()
        if base != self._timeout_base:
            self._draw_timeout(base)

    def _draw_timeout(self, base: int) -> None:
        """A fresh election timeout from [base, 2 x base)."""
        self._timeout_base = base
        self._timeout = base + self._rng.randrange(base)

    def _reset(self, term: int) -> None:
        """The one place a role or term ends: every ``_become_*`` starts here."""
        if term != self._term:
            self._term = term
            self._vote = NO_NODE
        self._lead = NO_NODE
        self._election_elapsed = 0
        self._draw_timeout(self._election_base())
        self._votes = {}
        ended, self._leadership = self._leadership, Leadership()
        self._drop_reads(ended)

    def _drop_reads(self, ended: Leadership) -> None:
        """Fail every read that was waiting on the role that just ended."""
        for req in ended.reads.drain():
            self._answer_read(req.context, req.requester, index=0, reject=True)
        for context, requester in ended.deferred_reads:
            self._answer_read(context, requester, index=0, reject=True)
        self._dropped_reads.extend(self._forwarded_reads)
        self._forwarded_reads = []

    def _become_follower(self, term: int, lead: NodeId) -> None:
        self._reset(term)
        self._lead = lead
        self._role = Role.FOLLOWER

    def _become_pre_candidate(self) -> None:
        self._reset(self._term)
        self._role = Role.PRE_CANDIDATE

    def _become_candidate(self) -> None:
        self._reset(self._term + 1)
        self._vote = self.id
        self._role = Role.CANDIDATE

    def _send(
        self,
        kind: MessageType,
        to: NodeId,
        *,
        term: int | None = None,
        index: int = 0,
        log_term: int = 0,
        entries: tuple[Entry, ...] = (),
        commit: int = 0,
        reject: bool = False,
        reject_hint: int = 0,
        snapshot: Snapshot | None = None,
        context: bytes = b"",
        target: NodeId = NO_NODE,
        force: bool = False,
    ) -> None:
        """Queue a message from this node (at the current term unless ``term`` is given)."""
        self._msgs.append(
            Message(
                type=kind,
                to=to,
                frm=self.id,
                term=self._term if term is None else term,
                index=index,
                log_term=log_term,
                entries=entries,
                commit=commit,
                reject=reject,
                reject_hint=reject_hint,
                snapshot=snapshot,
                context=context,
                target=target,
                force=force,
            )
        )

    def _warn(self, what: str) -> None:
        """Report an anomaly the core worked around (``Ready.warnings``: log it loudly)."""
        self._warnings.append(what)

    def _answer_read(
        self, context: bytes, requester: NodeId, *, index: int, reject: bool = False
    ) -> None:
        if requester == self.id:
            if reject:
                self._dropped_reads.append(context)
            else:
                self._read_states.append(ReadState(index=index, context=context))
        else:
            self._send(MT.READ_INDEX_RESP, requester, index=index, context=context, reject=reject)

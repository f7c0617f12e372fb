"""Leader behaviour: replication with batching and pipelining, commit, reads, transfer.

Rules: no IO; standard library only. Entries go out in APP messages of at most
``max_entries_per_msg`` entries / ``max_bytes_per_msg`` bytes, pipelined up to
``max_inflight_msgs`` per follower (see ``progress``). Proposals only mark the
log dirty; the APPs are built once per ``ready`` so a batch of proposals
shares messages. Only entries of the current term commit by counting (Figure 8).
A new commit index sends nothing by itself: followers learn it from the next APP
or heartbeat (which is at most ``heartbeat_tick`` away), so a write costs one APP
and one response per follower instead of two of each. A follower whose heartbeat
answer proves that its log ends below the match it acknowledged (its storage lost
entries) is counted at what it holds and probed from there, with a warning.
"""

from __future__ import annotations

from nodes.raft.messages import NO_NODE, Entry, EntryType, Message, MessageType, NodeId
from nodes.raft.progress import Progress, ProgressState
from nodes.raft.readonly import ReadRequest
from nodes.raft.ready import Role
from nodes.raft.state import NodeState

MT = MessageType


class Leader(NodeState):
    """The leader's half of the state machine (``RaftCore`` adds the rest)."""

    def _become_leader(self) -> None:
        self._reset(self._term)
        self._lead = self.id
        self._role = Role.LEADER
        nxt = self._log.last_index + 1
        inflight = self._cfg.max_inflight_msgs
        prs = self._leadership.progress
        for v in self._cfg.voters:
            prs[v] = Progress(nxt, inflight)
        me = prs[self.id]
        me.match = nxt - 1
        me.recent_active = True
        me.become_replicate()
        if self._cfg.unsafe_skip_leader_noop:
            for p in self._peers:  # the paper's initial empty AppendEntries
                self._send_append(p, prs[p], send_if_empty=True)
        else:
            self._append(EntryType.NOOP, b"")

    def _tick_leader(self) -> None:
        ls = self._leadership
        ls.heartbeat_elapsed += 1
        self._election_elapsed += 1
        self._age_silence()
        et = self._cfg.election_tick
        for p in self._peers:
            pr = ls.progress[p]
            pr.silent += 1
            if pr.state is ProgressState.SNAPSHOT:
                pr.snapshot_elapsed += 1
                if pr.snapshot_elapsed >= et:
                    pr.become_probe()  # the snapshot was probably lost: look again
        if self._election_elapsed >= self._election_base():
            self._election_elapsed = 0
            if self._cfg.check_quorum:
                active = 1
                for p in self._peers:
                    pr = ls.progress[p]
                    active += pr.recent_active
                    pr.recent_active = False
                if active < self._cfg.quorum:
                    self._become_follower(self._term, NO_NODE)
                    return
            ls.transferee = NO_NODE  # a transfer that took an election timeout failed
        if ls.heartbeat_elapsed >= self._cfg.heartbeat_tick:
            ls.heartbeat_elapsed = 0
            self._bcast_heartbeat(ls.reads.last_context())

    def _bcast_heartbeat(self, context: bytes) -> None:
        committed = self._log.committed
        prs = self._leadership.progress
        for p in self._peers:
            pr = prs[p]
            self._send(MT.HEARTBEAT, p, commit=min(pr.match, committed), context=context)

    def _append(self, kind: EntryType, data: bytes) -> tuple[int, int]:
        log = self._log
        index = log.last_index + 1
        log.append(Entry(term=self._term, index=index, type=kind, data=data))
        ls = self._leadership
        ls.progress[self.id].maybe_update(index)
        ls.broadcast_pending = True
        if self._cfg.quorum == 1:
            self._maybe_commit()
        return index, self._term

    def _maybe_commit(self) -> None:
        ls = self._leadership
        matches = sorted((pr.match for pr in ls.progress.values()), reverse=True)
        index = matches[self._cfg.quorum - 1]
        log = self._log
        if index <= log.committed:
            return
        if log.term(index) != self._term and not self._cfg.unsafe_commit_prior_term_by_count:
            return  # Figure 8: only entries of the current term commit by counting
        log.commit_to(index)
        if ls.deferred_reads and log.term(log.committed) == self._term:
            deferred, ls.deferred_reads = ls.deferred_reads, []
            for context, requester in deferred:
                self._leader_read(context, requester)

    def _bcast_append(self) -> None:
        ls = self._leadership
        ls.broadcast_pending = False
        for p in self._peers:
            self._send_appends(p, ls.progress[p])

    def _send_appends(self, to: NodeId, pr: Progress) -> None:
        """Send every entry the window allows (nothing when there is none to send)."""
        while self._send_append(to, pr, send_if_empty=False):
            pass

    def _send_append(self, to: NodeId, pr: Progress, *, send_if_empty: bool) -> bool:
        if pr.is_paused():
            return False
        log = self._log
        prev = pr.next - 1
        prev_term = log.term(prev)
        if prev_term is None or prev < log.snapshot_index:
            return self._send_snapshot(to, pr)
        last = log.last_index
        entries: tuple[Entry, ...] = ()
        if pr.next <= last:
            cfg = self._cfg
            entries = log.slice(pr.next, last + 1, cfg.max_entries_per_msg, cfg.max_bytes_per_msg)
        elif not send_if_empty:
            return False
        commit = log.committed
        self._send(MT.APP, to, index=prev, log_term=prev_term, entries=entries, commit=commit)
        pr.sent_entries(len(entries), prev + len(entries))
        return True

    def _send_snapshot(self, to: NodeId, pr: Progress) -> bool:
        snap = self._snapshot
        if snap is None or not pr.recent_active:
            return False  # do not ship a snapshot to a node that may be down
        self._send(MT.SNAP, to, snapshot=snap)
        pr.become_snapshot(snap.meta.index)
        return True

    def _step_leader(self, m: Message) -> None:
        ls = self._leadership
        pr = ls.progress[m.frm]
        t = m.type
        if t is MT.APP_RESP or t is MT.HEARTBEAT_RESP:
            if pr.silent < 2 * self._election_base():  # late, not back from a partition
                self._heard_after(pr.silent)
            pr.silent = 0
            pr.recent_active = True
        if t is MT.APP_RESP:
            self._handle_append_response(m, pr)
        elif t is MT.HEARTBEAT_RESP:
            pr.probe_sent = False
            if m.reject and m.index < pr.match:
                self._follower_lost_entries(m.frm, pr, holds=m.index)
            else:
                if pr.state is ProgressState.REPLICATE and pr.is_paused():
                    pr.free_first()
                if pr.match < self._log.last_index or pr.state is ProgressState.PROBE:
                    self._send_append(m.frm, pr, send_if_empty=True)
            if m.context and ls.reads.ack(m.context, m.frm) + 1 >= self._cfg.quorum:
                for req in ls.reads.release(m.context):
                    self._answer_read(req.context, req.requester, index=req.index)
        elif t is MT.READ_INDEX:
            self._leader_read(m.context, m.frm)
        elif t is MT.TRANSFER_LEADER and m.target in self._voters:
            self._start_transfer(m.target)

    def _handle_append_response(self, m: Message, pr: Progress) -> None:
        if m.reject:
            hint = m.reject_hint
            if m.log_term > 0:
                hint, _ = self._log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, hint):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self._send_append(m.frm, pr, send_if_empty=True)
            return
        if not pr.maybe_update(m.index):
            if pr.state is ProgressState.REPLICATE:
                pr.free_le(m.index)
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT:
            if pr.match >= pr.pending_snapshot:
                pr.become_probe()
                pr.become_replicate()
        else:
            pr.free_le(m.index)
        self._maybe_commit()
        self._send_appends(m.frm, pr)
        if m.frm == self._leadership.transferee and pr.match == self._log.last_index:
            self._send(MT.TIMEOUT_NOW, m.frm)

    def _follower_lost_entries(self, to: NodeId, pr: Progress, *, holds: int) -> None:
        """A follower's log ends below what it acknowledged: its storage lost entries.

        Only the follower can tell for sure (a heartbeat's commit is at most its
        match, so one past its log end proves the loss); a rejected append cannot,
        since it may be older than the acknowledgement. Counting the follower at its
        old match would be a lie, and probing above its log end would never succeed:
        lower the match to what it holds and resend from there.
        """
        self._warn(
            f"follower {to} holds entries only up to index {holds} but had acknowledged "
            f"up to {pr.match}: its storage lost acknowledged entries; resending from "
            f"index {holds + 1}"
        )
        pr.lost_entries(holds)
        self._send_append(to, pr, send_if_empty=True)

    def _leader_read(self, context: bytes, requester: NodeId) -> None:
        log = self._log
        ls = self._leadership
        if self._cfg.unsafe_leader_read_without_quorum or self._cfg.quorum == 1:
            self._answer_read(context, requester, index=log.committed)
        elif log.term(log.committed) != self._term:
            ls.deferred_reads.append((context, requester))  # no entry of ours committed yet
        elif ls.reads.add(ReadRequest(index=log.committed, context=context, requester=requester)):
            self._bcast_heartbeat(context)
            ls.heartbeat_elapsed = 0  # that was this interval's heartbeat

    def _start_transfer(self, to: NodeId) -> None:
        ls = self._leadership
        if to in (self.id, ls.transferee):
            return
        ls.transferee = to
        self._election_elapsed = 0
        pr = ls.progress[to]
        if pr.match == self._log.last_index:
            self._send(MT.TIMEOUT_NOW, to)
        else:
            self._send_append(to, pr, send_if_empty=True)

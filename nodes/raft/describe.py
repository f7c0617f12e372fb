"""Stable, compact text for messages, entries and node status (scenario tests diff it).

Rules: pure formatting; the output of a given value never changes between runs.
"""

from __future__ import annotations

from nodes.raft.messages import Entry, EntryType, Message, MessageType
from nodes.raft.ready import Status

_TYPE_NAMES = {t: t.name for t in MessageType}


def describe_entry(e: Entry) -> str:
    """``term/index`` plus the command (``noop`` for NOOP entries)."""
    body = "noop" if e.type is EntryType.NOOP else e.data.decode("utf-8", "backslashreplace")
    return f"{e.term}/{e.index} {body}"


def describe_entries(entries: tuple[Entry, ...]) -> str:
    """Entries as ``[t/i cmd, ...]``."""
    return "[" + ", ".join(describe_entry(e) for e in entries) + "]"


def describe_message(m: Message) -> str:
    """One line: ``frm->to TYPE term=... `` and only the fields that matter for its type."""
    t = m.type
    parts = [f"{m.frm}->{m.to} {_TYPE_NAMES[t]} term={m.term}"]
    if t in (MessageType.VOTE, MessageType.PRE_VOTE):
        parts.append(f"last={m.log_term}/{m.index}")
        if m.force:
            parts.append("force")
    elif t is MessageType.APP:
        parts.append(f"prev={m.log_term}/{m.index} commit={m.commit}")
        if m.entries:
            parts.append(describe_entries(m.entries))
    elif t is MessageType.APP_RESP:
        if m.reject:
            parts.append(f"reject index={m.index} hint={m.log_term}/{m.reject_hint}")
        else:
            parts.append(f"index={m.index}")
    elif t is MessageType.HEARTBEAT:
        parts.append(f"commit={m.commit}")
    elif t is MessageType.SNAP and m.snapshot is not None:
        parts.append(f"snapshot={m.snapshot.meta.term}/{m.snapshot.meta.index}")
    elif t is MessageType.READ_INDEX_RESP:
        parts.append(f"index={m.index}")
    elif t is MessageType.TRANSFER_LEADER:
        parts.append(f"target={m.target}")
    if t in (MessageType.VOTE_RESP, MessageType.PRE_VOTE_RESP, MessageType.READ_INDEX_RESP):
        parts.append(
            "reject" if m.reject else "grant" if t is not MessageType.READ_INDEX_RESP else ""
        )
    if m.context:
        parts.append(f"ctx={m.context.decode('utf-8', 'backslashreplace')}")
    return " ".join(p for p in parts if p)


def describe_status(s: Status) -> str:
    """A node's state on one line, plus one line per follower on a leader."""
    lines = [
        f"{s.id} {s.role.value} term={s.term} vote={s.vote} lead={s.leader_id} "
        f"commit={s.commit_index} applied={s.applied_index} "
        f"log={s.first_index}..{s.last_index} last_term={s.last_term}"
        + (f" transferee={s.lead_transferee}" if s.lead_transferee else "")
    ]
    lines.extend(
        f"  -> {p.id} {p.state} match={p.match} next={p.next} inflight={p.inflight}"
        + (" active" if p.recent_active else "")
        for p in s.progress
    )
    return "\n".join(lines)

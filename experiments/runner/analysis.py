"""What a run's history says beyond linearizability: availability per window and side,
latency, recovery after the last heal, lost writes, and whether each fault had an effect.

Rules: pure functions over the history (``experiments.history``), the fault windows as
they happened and the events; no IO, no clocks. An operation belongs to the window its
invocation falls in, and to the side of the node it was bound to (its ``node`` field).
"Answered" means the store gave a definite answer: ``ok``, or a cas that was executed and
found another value (``fail`` with ``error: mismatch``); yield = answered / invoked.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from experiments.history import Op, Operation, client_operations

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A span of the run: quiet, or one fault (several when composed) in force.

    ``sides``: node groups during a partition, kill or pause (the majority's first);
    empty when every node is on one side.
    """

    kind: str
    start: int
    end: int
    fault_ids: tuple[int, ...] = ()
    faults: tuple[str, ...] = ()
    sides: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultWindow:
    """One fault as it happened (times in ns from the run's start)."""

    id: int
    fault: str
    start: int
    end: int
    sides: tuple[tuple[str, ...], ...] = ()
    targets: tuple[str, ...] = ()
    value: Mapping[str, Any] = field(default_factory=dict)


def answered(op: Operation) -> bool:
    """ok, or a cas that was executed and found another value."""
    return op.type == "ok" or (op.type == "fail" and op.error == "mismatch")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def latency_ms(op: Operation) -> float | None:
    """Invoke to completion in ms for answered operations (None otherwise)."""
    if op.completion is None or not answered(op):
        return None
    return (op.completion.time - op.start) / NS_PER_MS


def stats(ops: Iterable[Operation], *, until: int | None = None) -> dict[str, Any]:
    """invoked / ok / fail / info / yield / p50 / p99 of some operations.

    With ``until``, an operation counts as answered only if its answer came before (an
    operation invoked during a partition and answered after the heal was not available
    during the partition).
    """
    chosen = list(ops)
    counts = {"ok": 0, "fail": 0, "info": 0}
    latencies = []
    good = 0
    for op in chosen:
        counts[op.type] += 1
        if answered(op) and (until is None or (op.end is not None and op.end < until)):
            good += 1
        lat = latency_ms(op)
        if lat is not None:
            latencies.append(lat)
    p50 = percentile(latencies, 0.5)
    p99 = percentile(latencies, 0.99)
    return {
        "invoked": len(chosen),
        **counts,
        "answered": good,
        "yield": round(good / len(chosen), 4) if chosen else None,
        "p50_ms": None if p50 is None else round(p50, 3),
        "p99_ms": None if p99 is None else round(p99, 3),
    }


def windows(faults: Sequence[FaultWindow], duration: int) -> list[Window]:
    """Cut ``[0, duration)`` at every fault start and end: quiet windows between faults,
    fault windows (composed faults share one) while some are in force."""
    cuts = sorted({0, duration, *(f.start for f in faults), *(f.end for f in faults)})
    spans: list[Window] = []
    for start, end in itertools.pairwise(cuts):
        if end <= start or start >= duration:
            continue
        active = [f for f in faults if f.start <= start and f.end >= end]
        if not active:
            spans.append(Window(kind="quiet", start=start, end=end))
            continue
        sides: tuple[tuple[str, ...], ...] = ()
        for fault in active:
            if fault.sides:
                sides = fault.sides
                break
        spans.append(
            Window(
                kind="fault",
                start=start,
                end=end,
                fault_ids=tuple(f.id for f in active),
                faults=tuple(f.fault for f in active),
                sides=sides,
            )
        )
    return spans


def _side_names(window: Window, size: int) -> list[tuple[str, tuple[str, ...]]]:
    """(``majority`` | ``minority`` | ``all``, nodes) for each side of a window."""
    if not window.sides or len(window.sides) == 1:
        nodes = window.sides[0] if window.sides else tuple(f"n{i}" for i in range(1, size + 1))
        return [("all", nodes)]
    named = []
    for side in window.sides:
        named.append(("majority" if len(side) > size // 2 else "minority", side))
    return named


@dataclass(frozen=True, slots=True, kw_only=True)
class SideBuckets:
    """The operations the totals count, by side: ``quiet``, ``majority``, ``minority``.

    ``late``: invoke indexes of fault-window operations answered only after their window
    ended (not available during it).
    """

    sides: Mapping[str, Sequence[Operation]]
    late: frozenset[int]


def side_buckets(
    history: Sequence[Op],
    faults: Sequence[FaultWindow],
    *,
    duration: int,
    size: int,
    grace: int,
) -> SideBuckets:
    """Client operations by side, as the availability totals count them: not final reads,
    invoked before ``duration`` and at least ``grace`` ns after their window started."""
    ops = [op for op in client_operations(history) if not op.invoke.extra.get("final")]
    totals: dict[str, list[Operation]] = {"quiet": [], "majority": [], "minority": []}
    late: set[int] = set()
    for span in windows(faults, duration):
        inside = [op for op in ops if span.start <= op.start < span.end]
        if span.kind == "fault":
            late.update(
                op.invoke.index for op in inside if op.end is None or op.end >= span.end
            )
        settled = [op for op in inside if op.start >= span.start + grace]
        for side, nodes in _side_names(span, size):
            members = set(nodes)
            counted = [op for op in settled if op.invoke.node in members]
            if span.kind == "quiet":
                totals["quiet"].extend(counted)
            elif side in ("majority", "minority"):
                totals[side].extend(counted)
            else:
                totals["majority"].extend(counted)
    return SideBuckets(sides=totals, late=frozenset(late))


def availability(
    history: Sequence[Op],
    faults: Sequence[FaultWindow],
    *,
    duration: int,
    size: int,
    grace: int,
) -> dict[str, Any]:
    """Availability per window and side, and totals for the bounds experiments set.

    The totals leave out operations invoked within ``grace`` ns after a window starts
    (a new leader needs an election timeout), and operations after ``duration`` (the final
    reads).

    Returns:
        ``{"windows": [...], "totals": {"quiet", "majority", "minority"}}`` (the
        run-directory contract's ``availability``).
    """
    ops = [op for op in client_operations(history) if not op.invoke.extra.get("final")]
    spans = windows(faults, duration)
    table = []
    for span in spans:
        inside = [op for op in ops if span.start <= op.start < span.end]
        rows = []
        until = span.end if span.kind == "fault" else None
        for side, nodes in _side_names(span, size):
            members = set(nodes)
            mine = [op for op in inside if op.invoke.node in members]
            rows.append({"side": side, "nodes": list(nodes), **stats(mine, until=until)})
        table.append(
            {
                "id": span.fault_ids[0] if len(span.fault_ids) == 1 else (
                    list(span.fault_ids) or None
                ),
                "kind": span.kind,
                "fault": "+".join(span.faults) or None,
                "start_s": round(span.start / NS_PER_S, 3),
                "end_s": round(span.end / NS_PER_S, 3),
                "sides": rows,
            }
        )
    buckets = side_buckets(history, faults, duration=duration, size=size, grace=grace)
    return {
        "windows": table,
        "totals": {
            name: late_aware(chosen, buckets.late) for name, chosen in buckets.sides.items()
        },
    }


def late_aware(ops: Sequence[Operation], late: Iterable[int]) -> dict[str, Any]:
    """``stats`` where fault-window operations answered after their window count as not
    answered."""
    row = stats(ops)
    late = set(late)
    missed = sum(1 for op in ops if op.invoke.index in late and answered(op))
    if missed and row["invoked"]:
        row["answered"] -= missed
        row["yield"] = round(row["answered"] / row["invoked"], 4)
    return row


def latency_summary(history: Sequence[Op]) -> dict[str, float | None]:
    """p50 / p95 / p99 / max latency of answered client operations, in ms."""
    values = [
        lat for op in client_operations(history) if (lat := latency_ms(op)) is not None
    ]
    out: dict[str, float | None] = {}
    for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99), ("max_ms", 1.0)):
        found = percentile(values, q)
        out[name] = None if found is None else round(found, 3)
    return out


def recovery_s(history: Sequence[Op], heal: int | None) -> float | None:
    """Seconds from the last heal to the first write executed after it (ok, or a cas
    that found another value); None when there was no fault or no such write."""
    if heal is None:
        return None
    for op in client_operations(history):
        if op.f == "read" or op.completion is None or op.completion.time < heal:
            continue
        if answered(op):
            return round((op.completion.time - heal) / NS_PER_S, 4)
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class LostWrite:
    """An acknowledged write no final read can explain."""

    key: Any
    value: Any
    index: int
    final_value: Any
    final_index: int


def lost_writes(history: Sequence[Op]) -> list[LostWrite]:
    """Acknowledged writes (ok write or cas) that a later final read shows undone.

    With unique written values every value has one writer. A final read (``"final":
    true``) that returns a value whose write completed before an acknowledged write of the
    same key was invoked (or null, when nothing was there) proves that write was lost:
    it was acknowledged, and the register holds something older. Only each node's last
    final read of a key counts: final reads go on in rounds while nodes disagree (replicas
    of the weaker modes may still be catching up), and what a node settled on is the proof.
    """
    ops = client_operations(history)
    last_final: dict[tuple[Any, Any], int] = {}
    for op in ops:
        if op.f == "read" and op.type == "ok" and op.invoke.extra.get("final"):
            last_final[(op.invoke.node, _canon(op.key))] = op.invoke.index
    writer: dict[tuple[Any, Any], Operation] = {}
    acknowledged: dict[Any, list[Operation]] = {}
    for op in ops:
        if op.f not in ("write", "cas") or op.type != "ok":
            continue
        value = op.value[1] if op.f == "cas" else op.value
        writer[(op.key, _canon(value))] = op
        acknowledged.setdefault(op.key, []).append(op)
    lost: dict[int, LostWrite] = {}
    for read in ops:
        if read.f != "read" or read.type != "ok" or not read.invoke.extra.get("final"):
            continue
        if last_final.get((read.invoke.node, _canon(read.key))) != read.invoke.index:
            continue  # an earlier round: the node had not settled yet
        seen = writer.get((read.key, _canon(read.value)))
        if read.value is not None and seen is None:
            continue  # a value no acknowledged write produced (an info write): not proof
        seen_end = -1 if seen is None or seen.completion is None else seen.completion.time
        for write in acknowledged.get(read.key, []):
            end = write.completion.time if write.completion is not None else None
            if end is None or end > read.start or write is seen:
                continue
            if seen_end < write.start:
                lost.setdefault(
                    write.invoke.index,
                    LostWrite(
                        key=read.key,
                        value=write.value,
                        index=write.invoke.index,
                        final_value=read.value,
                        final_index=read.invoke.index,
                    ),
                )
    return [lost[i] for i in sorted(lost)]


def _canon(value: Any) -> Any:
    return str(value) if value is not None else None


def fault_evidence(
    fault: FaultWindow,
    history: Sequence[Op],
    events: Sequence[Mapping[str, Any]],
    *,
    undelivered_before: Mapping[int, Mapping[int, int]],
    undelivered_after: Mapping[int, Mapping[int, int]],
    quiet_p50_ms: float | None,
    probes: Mapping[tuple[int, int], float | None] | None = None,
    crashes: int | None = None,
) -> str | None:
    """Why we know the fault really happened, or None when nothing shows it did.

    Evidence, by kind: cut links whose senders report undelivered messages during the
    window; probes across cut links that went unanswered while an uncut one answered; a
    killed or paused node seen unreachable; client operations bound to a cut-off node
    that failed or timed out; a latency window slower than the quiet ones, or one where most
    operations failed or timed out, or a probe that took the added latency; crashes counted
    by the simulator for its storms. In-node faults: the target itself reports them
    (``clock`` and ``disk`` events of its status: its clock was skewed, a disk failpoint
    hit its writes), and a disk that fails must also stop the node (it was seen
    unreachable).
    """
    kind = fault.fault
    inside = [
        op for op in client_operations(history) if fault.start <= op.start < fault.end
    ]
    if kind in _IN_NODE:
        return _in_node_evidence(fault, events)
    if kind in ("kill", "pause"):
        for event in events:
            if (
                fault.start <= event["time"] <= fault.end + NS_PER_S
                and event.get("node") in fault.targets
                and ((event["type"] == "node-down" and event.get("reason") == "unreachable")
                     or (event["type"] == "role" and event.get("role") == "unreachable"))
            ):
                return f"{event['node']} was unreachable during the window"
    drops = _undelivered(fault, undelivered_before, undelivered_after)
    if drops:
        shown = ", ".join(f"n{src}->n{dst}: {n}" for (src, dst), n in sorted(drops.items())[:4])
        return f"peers could not deliver messages over the cut links ({shown})"
    probed = _probe_evidence(fault, probes or {})
    if probed:
        return probed
    cut = set(fault.targets) if kind not in ("latency", "loss", "bandwidth") else set()
    failed = [op for op in inside if op.invoke.node in cut and not answered(op)]
    if failed:
        return f"{len(failed)} operation(s) on {', '.join(sorted(cut))} failed or timed out"
    if kind in ("latency", "bandwidth"):
        values = [lat for op in inside if (lat := latency_ms(op)) is not None]
        p50 = percentile(values, 0.5)
        added = float(fault.value.get("ms", 0) or 0)
        if p50 is not None and quiet_p50_ms is not None and (
            p50 >= quiet_p50_ms + max(1.0, added / 2) or p50 >= 2 * quiet_p50_ms
        ):
            return f"median latency {p50:.1f} ms against {quiet_p50_ms:.1f} ms when quiet"
        failed = [op for op in inside if not answered(op)]
        if failed and (kind == "bandwidth" or 2 * len(failed) >= len(inside)):
            # so slow that most operations missed their deadline: the few answered quickly
            # (refusals, stale leaders' replies) cannot show the added latency themselves
            return f"{len(failed)} of {len(inside)} operation(s) failed or timed out"
    if kind in ("restarts", "leader-churn", "partition-leader-rolling"):
        moves = [
            e for e in events
            if fault.start <= e["time"] <= fault.end and e["type"] in ("leader", "node-down")
        ]
        if moves:
            return f"{len(moves)} leader change(s) or node crash(es) during the window"
    if crashes:
        return f"{crashes} crash(es) during the window"
    return None


_IN_NODE = ("clock-skew", "clock-jump", "disk-error", "disk-slow", "disk-full")
IN_NODE_LAG_NS = 2 * NS_PER_S
"""How long after an in-node fault's end its target's report of it still counts."""
_STOPPING = ("disk-error", "disk-full")


def _in_node_evidence(fault: FaultWindow, events: Sequence[Mapping[str, Any]]) -> str | None:
    """What the targets of an in-node fault reported during its window (see
    ``fault_evidence``)."""
    wanted = "clock" if fault.fault.startswith("clock") else "disk"
    seen: dict[str, Mapping[str, Any]] = {}
    down: set[str] = set()
    for event in events:
        # The status watcher sees a change up to a poll (and a slow failpoint call) late.
        if not fault.start <= event["time"] <= fault.end + IN_NODE_LAG_NS:
            continue
        node = event.get("node")
        if node not in fault.targets:
            continue
        skewed = event.get("offset_ms", 0) != 0 or event.get("rate", 1) != 1
        if event["type"] == wanted and (wanted == "disk" or skewed):  # not the reset
            seen.setdefault(str(node), event)
        elif (event["type"] == "node-down" and event.get("reason") == "unreachable") or (
            event["type"] == "role" and event.get("role") == "unreachable"
        ):
            down.add(str(node))
    if fault.fault in _STOPPING:
        stopped = sorted(down)
        if not stopped:
            return None
        hit = f"; its disk failed {seen[stopped[0]]['injected']} operation(s)" if (
            stopped[0] in seen) else ""
        return f"{', '.join(stopped)} stopped on its failing disk{hit}"
    if not seen:
        return None
    node, event = sorted(seen.items())[0]
    if wanted == "clock":
        return (f"{node} reported its clock {event.get('offset_ms', 0):+} ms off at rate "
                f"{event.get('rate', 1):g}")
    return f"{node} reported {event.get('injected')} disk operation(s) slowed"


def _probe_evidence(
    fault: FaultWindow, probes: Mapping[tuple[int, int], float | None]
) -> str | None:
    """What the probes sent right after the fault was applied showed."""
    if not probes:
        return None
    cut_links = set(_cut_links(fault))
    if cut_links:
        silent = [link for link, rtt in probes.items() if link in cut_links and rtt is None]
        controls = [rtt for link, rtt in probes.items() if link not in cut_links]
        if silent and len(silent) == sum(1 for link in probes if link in cut_links) and all(
            rtt is not None for rtt in controls
        ):
            shown = ", ".join(f"n{a}->n{b}" for a, b in sorted(silent))
            return f"probes across the cut links went unanswered ({shown})"
        return None
    added = float(fault.value.get("ms", 0) or 0) / 1000
    slow = [rtt for rtt in probes.values() if rtt is not None and added and rtt >= added / 2]
    if slow:
        return (f"a probe across a link took {max(slow) * 1000:.0f} ms "
                f"(+{added * 1000:g} ms each way)")
    return None


def _cut_links(fault: FaultWindow) -> list[tuple[int, int]]:
    """The directed links a fault's value says it cut."""
    links = []
    for text in fault.value.get("cut", []):
        src, _, dst = text.partition("->")
        links.append((int(src[1:]), int(dst[1:])))
    return links


def _undelivered(
    fault: FaultWindow,
    before: Mapping[int, Mapping[int, int]],
    after: Mapping[int, Mapping[int, int]],
) -> dict[tuple[int, int], int]:
    """Growth of each sender's undelivered counter to each peer over the window, on the
    links the fault cut (every link for loss)."""
    cut_links = set(_cut_links(fault))
    growth: dict[tuple[int, int], int] = {}
    for src, peers in after.items():
        for dst, count in peers.items():
            link = (src, dst)
            if cut_links and link not in cut_links:
                continue
            if not cut_links and fault.fault != "loss":
                continue
            delta = count - before.get(src, {}).get(dst, 0)
            if delta > 0:
                growth[link] = delta
    return growth

"""The counterexample view: the operations a linearizability violation involves, Porcupine-style.

Rules: pure functions from the checker's counterexample JSON (results.json
``linearizability.counterexample``) to a layout the template draws as SVG;
no IO. Time runs on an ordinal axis (each distinct call or return time gets
its own evenly spaced position), because only the real-time order of these
few operations matters and their times may be microseconds or seconds apart.
An ``info`` operation may take effect at any later time, so its bar runs on,
dashed, to the right edge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

LANE_PX: Final = 46
BAR_PX: Final = 22
LEFT_PX: Final = 92
RIGHT_PX: Final = 30
TOP_PX: Final = 26
MAX_STEP_PX: Final = 70
WIDTH_PX: Final = 1360
_SHORT: Final = {"read": "R", "write": "W", "cas": "CAS", "add": "ADD"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CxOp:
    """One operation of the counterexample, placed."""

    index: int
    line: int
    """Its invocation's line in history.jsonl."""
    process: Any
    f: str
    value: str
    outcome: str
    start: int
    end: int | None
    role: str
    """prefix | failing"""
    order: int | None
    """Its position in the linearizable prefix (1-based), for prefix ops."""
    state: str | None
    """The model state after it (prefix ops)."""
    needs: str
    """What state it needs to be legal, in words (register and set ops)."""
    why: str
    """Why it cannot be placed (failing ops)."""
    label: str
    x0: float
    x1: float
    y: float
    open: bool
    """An info op: it may take effect at any later time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterexampleView:
    """The counterexample, ready to draw."""

    key: str
    state: str
    prefix_length: int
    shown_prefix: int
    reason: str | None
    ops: list[CxOp]
    lanes: list[tuple[str, float]]
    ticks: list[tuple[float, str]]
    width: float
    height: float


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def needs(op: Mapping[str, Any]) -> str:
    """The state an operation needs to be legal, in words (register and set models).

    Args:
        op: an operation of the counterexample JSON.

    Returns:
        E.g. ``needs 3`` for a read of 3; ``any state`` for a write.
    """
    f, value, outcome = op.get("f"), op.get("value"), op.get("type")
    if f in ("write", "add"):
        return "any state"
    if f == "read":
        return f"needs {_json(value)}"
    if f == "cas" and isinstance(value, list) and len(value) == 2:
        if outcome == "fail":
            return f"needs a value other than {_json(value[0])}"
        return f"needs {_json(value[0])}"
    return ""


def _label(op: Mapping[str, Any]) -> str:
    f, value = str(op.get("f")), op.get("value")
    short = _SHORT.get(f, f)
    if f == "cas" and isinstance(value, list) and len(value) == 2:
        text = f"{short} {_json(value[0])}→{_json(value[1])}"
    else:
        text = f"{short} {_json(value)}"
    outcome = op.get("type")
    if outcome != "ok":
        text += f" ({outcome}{': ' + str(op['error']) if op.get('error') else ''})"
    return text


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def counterexample_view(cx: Mapping[str, Any],
                        nodes: Mapping[int, Any] | None = None) -> CounterexampleView:
    """Lay out a counterexample's operations on their own small timeline.

    Args:
        cx: the checker's counterexample JSON (key, state, prefix_length,
            prefix_tail, failing, and optionally reason; ops may carry
            ``state``, ``why`` and ``legal``).
        nodes: history index -> the node that op's client was bound to, to
            name each lane's node.

    Returns:
        The view to draw.
    """
    tail = [op for op in cx.get("prefix_tail") or [] if isinstance(op, dict)]
    failing = [op for op in cx.get("failing") or [] if isinstance(op, dict)]
    prefix_length = _int(cx.get("prefix_length")) or 0
    raw: list[tuple[dict[str, Any], str, int | None]] = [
        (op, "prefix", prefix_length - len(tail) + n + 1) for n, op in enumerate(tail)]
    raw += [(op, "failing", None) for op in failing]
    times = sorted({t for op, _, _ in raw for t in (_int(op.get("start")), _int(op.get("end")))
                    if t is not None})
    step = min(MAX_STEP_PX, (WIDTH_PX - LEFT_PX - RIGHT_PX) / max(len(times) - 1, 1))
    position = {t: LEFT_PX + n * step for n, t in enumerate(times)}
    right = LEFT_PX + step * max(len(times) - 1, 0) + RIGHT_PX
    lanes: dict[str, float] = {}
    ops: list[CxOp] = []
    for op, role, order in raw:
        node = (nodes or {}).get(_int(op.get("index")) or 0)
        process = f"process {op.get('process')}" + (f" · {node}" if node is not None else "")
        y = lanes.setdefault(process, TOP_PX + len(lanes) * LANE_PX)
        start, end = _int(op.get("start")), _int(op.get("end"))
        is_open = op.get("type") == "info" or end is None
        x0 = position.get(start, LEFT_PX) if start is not None else LEFT_PX
        x1 = right - 6 if is_open else position.get(end, x0) if end is not None else x0
        index = _int(op.get("index"))
        ops.append(CxOp(
            index=-1 if index is None else index, line=0 if index is None else index + 1,
            process=op.get("process"), f=str(op.get("f")), value=_json(op.get("value")),
            outcome=str(op.get("type")) + (f" ({op['error']})" if op.get("error") else ""),
            start=start or 0, end=end, role=role, order=order,
            state=str(op["state"]) if "state" in op else None, needs=needs(op),
            why=str(op.get("why") or ""), label=_label(op), x0=x0, x1=max(x1, x0 + 4), y=y,
            open=is_open))
    origin = times[0] if times else 0
    ticks = [(position[t], f"+{(t - origin) / 1e6:.1f} ms") for t in times[:: max(1, len(times)
                                                                                 // 8)]]
    return CounterexampleView(
        key=str(cx.get("key", "")), state=str(cx.get("state", "")),
        prefix_length=prefix_length, shown_prefix=len(tail),
        reason=str(cx["reason"]) if cx.get("reason") else None, ops=ops,
        lanes=list(lanes.items()), ticks=ticks, width=max(right, 400),
        height=TOP_PX + len(lanes) * LANE_PX + 24)

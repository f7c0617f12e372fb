"""What a run records as it goes: the history (client and nemesis operations) and the
cluster events.

Rules: append-only, in the order things happened on the run's loop; no IO (the run
directory writes them out). History lines follow DESIGN.md's format; events follow the
run-directory contract (``events.jsonl``): ``{"time", "type", ...}``.
"""

from __future__ import annotations

from typing import Any

from experiments.history import NEMESIS, Op, OpType, validate_history


class Recorder:
    """The run's history and events, in order."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.events: list[dict[str, Any]] = []

    def op(
        self,
        *,
        process: int | str,
        type: OpType,
        f: str,
        time: int,
        key: Any = None,
        value: Any = None,
        error: str | None = None,
        node: str | None = None,
        **extra: Any,
    ) -> Op:
        """Append one history line."""
        op = Op(
            index=len(self.ops),
            process=process,  # type: ignore[arg-type]
            type=type,
            f=f,
            time=time,
            key=key,
            value=value,
            error=error,
            node=node,
            extra=extra,
        )
        self.ops.append(op)
        return op

    def nemesis(self, type_: OpType, f: str, value: Any, time: int, **extra: Any) -> None:
        """A nemesis line: ``invoke`` when a fault starts, ``info`` when it ends."""
        self.op(process=NEMESIS, type=type_, f=f, time=time, value=value, **extra)

    def event(self, time: int, type_: str, **fields: Any) -> None:
        """Append one cluster event."""
        self.events.append({"time": time, "type": type_, **fields})

    def validate(self) -> None:
        """Check the history against the format's rules (a runner bug if it fails).

        Raises:
            HistoryError: the first problem.
        """
        validate_history(self.ops, source="<run history>")

"""Histories: every operation's invoke and completion, as JSON lines.

Rules: plain data and pure functions over it; the only IO is ``read_history``
and ``write_history``, which wrap the pure ``iter_history`` and
``format_history``. Every problem in a history is a ``HistoryError`` naming
the source, the line and the field at fault. The format (DESIGN.md "History
lines") is a contract shared by the runner backends, the simulator and the
checkers, so fields are added, never renamed.

Semantics: ``ok`` took effect between invoke and completion; ``fail``
certainly took no effect; ``info`` is unknown (it may take effect at any time
after its invocation, or never). An invoke left without a completion at the
end of a history counts as ``info``. A client process has at most one operation
outstanding. Nemesis operations use the process ``"nemesis"``: a fault is an
invoke when it starts and an ``info`` completion (same ``f``) when it ends, and
faults of different kinds may be in force together, so the nemesis may have
several operations outstanding, at most one per ``f``; a nemesis completion
pairs with the outstanding invoke of the same ``f``.

Reading is bounded, so bad input cannot exhaust the reader: a line holds at
most ``MAX_LINE_CHARS`` characters and nests arrays/objects at most
``MAX_NESTING`` deep, and a file holds at most ``MAX_HISTORY_CHARS``
characters; past a bound, reading stops with a ``HistoryError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TextIO, TypeAlias, cast, get_args

from experiments.errors import BadInput

OpType = Literal["invoke", "ok", "fail", "info"]
"""What a history line records: a call, or how it completed."""

Process: TypeAlias = int | Literal["nemesis"]
"""A client process (an integer >= 0) or the nemesis."""

Json: TypeAlias = Any
"""A decoded JSON value: None, bool, int, float, str, list or dict."""

NEMESIS: Final = "nemesis"
OP_TYPES: Final[frozenset[str]] = frozenset(get_args(OpType))
COMPLETIONS: Final[frozenset[str]] = frozenset({"ok", "fail", "info"})
_KNOWN_FIELDS: Final = ("index", "process", "type", "f", "key", "value", "time", "error", "node")

MAX_LINE_CHARS: Final = 8 * 2**20
"""A history line may hold at most this many characters (8 Mi; a set read of 100,000
elements is under 1 Mi). A longer line, or an endless one such as ``/dev/zero``, is bad input."""
MAX_NESTING: Final = 100
"""Arrays and objects may nest at most this deep in one line (an op is 1 deep, a cas value 2)."""
MAX_HISTORY_CHARS: Final = 256 * 2**20
"""A history file may hold at most this many characters (256 Mi: over a million operations);
reading stops with bad input past it, so an endless stream cannot exhaust memory."""


class HistoryError(BadInput, ValueError):
    """A history breaks the format: the producer of the history is at fault.

    Attributes:
        source: the file (or other source) the history came from.
        line: the 1-based line number of the offending operation.
        field: the field at fault, or None when the whole line is.
        problem: what was wrong, in words.
    """

    def __init__(self, *, source: str, line: int, field: str | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{source}:{line}" + (f": field {field!r}" if field else "")
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """One history line: an invocation or a completion.

    ``extra`` holds any other fields of the line, preserved as read.
    """

    index: int
    process: Process
    type: OpType
    f: str
    time: int
    key: Json = None
    value: Json = None
    error: str | None = None
    node: str | int | None = None
    extra: Mapping[str, Json] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """An invocation paired with its completion (None: still pending at the end)."""

    invoke: Op
    completion: Op | None

    @property
    def process(self) -> Process:
        """The process that ran the operation."""
        return self.invoke.process

    @property
    def f(self) -> str:
        """The function: read, write, cas, add, start-partition, ..."""
        return self.invoke.f

    @property
    def key(self) -> Json:
        """The key the operation was about."""
        return self.invoke.key

    @property
    def type(self) -> Literal["ok", "fail", "info"]:
        """How it completed; a pending operation counts as ``info``."""
        if self.completion is None or self.completion.type == "invoke":
            return "info"
        return self.completion.type

    @property
    def value(self) -> Json:
        """The completion's value for an ``ok`` operation, else the invocation's."""
        if self.completion is not None and self.completion.type == "ok":
            return self.completion.value
        return self.invoke.value

    @property
    def error(self) -> str | None:
        """The completion's error, if any."""
        return None if self.completion is None else self.completion.error

    @property
    def start(self) -> int:
        """The invocation time (ns)."""
        return self.invoke.time

    @property
    def end(self) -> int | None:
        """The completion time for ok/fail; None for info (it may act at any later time)."""
        if self.completion is None or self.type == "info":
            return None
        return self.completion.time


def _fail(source: str, line: int, field_name: str | None, problem: str) -> HistoryError:
    return HistoryError(source=source, line=line, field=field_name, problem=problem)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reject_constant(name: str) -> Json:
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


def _unique_keys(pairs: list[tuple[str, Json]]) -> dict[str, Json]:
    result: dict[str, Json] = {}
    for name, value in pairs:
        if name in result:
            msg = f"duplicate field {name!r}"
            raise ValueError(msg)
        result[name] = value
    return result


_BRACKETS: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
"""JSON strings (skipped whole, so brackets inside them do not count) and brackets."""


def _too_deep(text: str) -> bool:
    """Whether arrays/objects nest deeper than ``MAX_NESTING`` (checked before parsing, so
    the parser's recursion never runs out)."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False
    depth = 0
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return True
        elif token in "]}":
            depth -= 1
    return False


def _decode(text: str, source: str, line: int) -> dict[str, Json]:
    if len(text) > MAX_LINE_CHARS + 1:  # + 1: the line ending
        raise _fail(source, line, None, f"line longer than {MAX_LINE_CHARS} characters")
    if _too_deep(text):
        raise _fail(source, line, None,
                    f"arrays/objects nested more than {MAX_NESTING} levels deep")
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:  # pragma: no cover - _too_deep stops such lines first
        raise _fail(source, line, None, "nested too deeply to parse") from None
    except ValueError as exc:
        raise _fail(source, line, None, f"not a JSON object: {exc}") from None
    if not isinstance(obj, dict):
        raise _fail(source, line, None, f"expected a JSON object, got {type(obj).__name__}")
    return cast(dict[str, Json], obj)


def _build_op(obj: Mapping[str, Json], position: int, source: str, line: int) -> Op:
    """Check each field's presence and type, and build the op (no cross-line checks)."""
    for name in ("process", "type", "f", "time"):
        if name not in obj:
            raise _fail(source, line, name, "missing")
    process = obj["process"]
    if not ((_is_int(process) and process >= 0) or process == NEMESIS):
        raise _fail(source, line, "process",
                    f"expected an integer >= 0 or 'nemesis', got {process!r}")
    op_type = obj["type"]
    if op_type not in OP_TYPES:
        raise _fail(source, line, "type", f"expected invoke, ok, fail or info, got {op_type!r}")
    f = obj["f"]
    if not isinstance(f, str) or not f:
        raise _fail(source, line, "f", f"expected a non-empty string, got {f!r}")
    time = obj["time"]
    if not _is_int(time) or time < 0:
        raise _fail(source, line, "time", f"expected integer nanoseconds >= 0, got {time!r}")
    index = obj.get("index", position)
    if index != position or not _is_int(index):
        raise _fail(source, line, "index",
                    f"expected {position} (the op's position), got {index!r}")
    if process != NEMESIS:
        for name in ("key", "value"):
            if name not in obj:
                raise _fail(source, line, name, "missing (required for client operations)")
        key = obj["key"]
        if not (isinstance(key, str) or _is_int(key)):
            raise _fail(source, line, "key", f"expected a string or integer, got {key!r}")
    error = obj.get("error")
    if error is not None and not isinstance(error, str):
        raise _fail(source, line, "error", f"expected a string or null, got {error!r}")
    node = obj.get("node")
    if node is not None and not (isinstance(node, str) or _is_int(node)):
        raise _fail(source, line, "node", f"expected a string, integer or null, got {node!r}")
    return Op(
        index=index,
        process=process,
        type=op_type,
        f=f,
        time=time,
        key=obj.get("key"),
        value=obj.get("value"),
        error=error,
        node=node,
        extra={k: v for k, v in obj.items() if k not in _KNOWN_FIELDS},
    )


def _slot(op: Op) -> tuple[Process, str]:
    """What an op is outstanding under: its process (the nemesis: its process and ``f``)."""
    return (op.process, op.f if op.process == NEMESIS else "")


class _Sequencer:
    """Cross-line rules: one outstanding op per process (the nemesis: per process and f),
    matching completions, time order."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._pending: dict[tuple[Process, str], tuple[Op, int]] = {}
        self._last_time: dict[Process, tuple[int, int]] = {}

    def feed(self, op: Op, line: int) -> None:
        """Accept the next op or raise the HistoryError that names its problem."""
        source = self._source
        last = self._last_time.get(op.process)
        if last is not None and op.time < last[0]:
            raise _fail(
                source,
                line,
                "time",
                f"time goes backwards for process {op.process!r}: {op.time} < {last[0]} "
                f"(line {last[1]})",
            )
        self._last_time[op.process] = (op.time, line)
        slot = _slot(op)
        pending = self._pending.get(slot)
        if op.type == "invoke":
            if pending is not None:
                what = f" {op.f!r}" if op.process == NEMESIS else "n"
                raise _fail(
                    source,
                    line,
                    "process",
                    f"process {op.process!r} already has a{what} operation outstanding "
                    f"(invoked on line {pending[1]})",
                )
            self._pending[slot] = (op, line)
            return
        if pending is None:
            raise _fail(
                source, line, "type", f"{op.type} completion without an invoke for process "
                f"{op.process!r}",
            )
        invoke, invoke_line = pending
        for name, mine, theirs in (("f", op.f, invoke.f), ("key", op.key, invoke.key)):
            if mine != theirs or type(mine) is not type(theirs):
                raise _fail(
                    source,
                    line,
                    name,
                    f"completion has {name} {mine!r} but its invoke (line {invoke_line}) "
                    f"has {theirs!r}",
                )
        del self._pending[slot]


def iter_history(lines: Iterable[str], *, source: str = "<history>") -> Iterator[tuple[int, Op]]:
    """Parse and validate history lines, yielding ``(line number, op)``.

    Blank lines are skipped. ``index`` is optional in the input and, when
    present, must equal the op's position (0-based, blank lines not counted).

    Args:
        lines: the text lines of a history (with or without line endings).
        source: the name used in error messages (usually the file path).

    Yields:
        Each op with its 1-based line number, in order.

    Raises:
        HistoryError: bad JSON, a line over ``MAX_LINE_CHARS`` or nested deeper
            than ``MAX_NESTING``, a missing field or one of the wrong type, an
            unknown type, a process with two outstanding operations, a
            completion without an invoke or whose f/key differs from its
            invoke, or time going backwards for a process.
    """
    sequencer = _Sequencer(source)
    position = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        op = _build_op(_decode(text, source, number), position, source, number)
        sequencer.feed(op, number)
        position += 1
        yield number, op


def bounded_lines(handle: TextIO, *, source: str) -> Iterator[str]:
    """The lines of a text stream, read within ``MAX_LINE_CHARS`` and ``MAX_HISTORY_CHARS``.

    Args:
        handle: the open stream.
        source: the name used in error messages.

    Yields:
        Each line, its ending included.

    Raises:
        HistoryError: a line longer than the limit (without reading the rest of
            it), or more text in all than the limit.
    """
    total = 0
    number = 0
    while text := handle.readline(MAX_LINE_CHARS + 1):
        number += 1
        total += len(text)
        if len(text) > MAX_LINE_CHARS and not text.endswith("\n"):
            raise _fail(source, number, None,
                        f"line longer than {MAX_LINE_CHARS} characters (is this a history?)")
        if total > MAX_HISTORY_CHARS:
            raise _fail(source, number, None,
                        f"history longer than {MAX_HISTORY_CHARS} characters: split it")
        yield text


def iter_history_file(handle: TextIO, *, source: str) -> Iterator[tuple[int, Op]]:
    """``iter_history`` over an open text stream, within the size limits (``bounded_lines``).

    Args:
        handle: the open stream.
        source: the name used in error messages (usually the file path).

    Yields:
        Each op with its 1-based line number.

    Raises:
        HistoryError: as ``iter_history`` and ``bounded_lines``.
        UnicodeDecodeError: the stream is not valid text in its encoding.
    """
    return iter_history(bounded_lines(handle, source=source), source=source)


def parse_history(lines: Iterable[str], *, source: str = "<history>") -> tuple[Op, ...]:
    """Parse and validate history lines (see ``iter_history``).

    Args:
        lines: the text lines of a history.
        source: the name used in error messages.

    Returns:
        The ops in order.

    Raises:
        HistoryError: the first problem found, naming line and field.
    """
    return tuple(op for _, op in iter_history(lines, source=source))


def read_history(path: Path | str) -> tuple[Op, ...]:
    """Read and validate a JSON-lines history file.

    Args:
        path: the file to read.

    Returns:
        The ops in order.

    Raises:
        HistoryError: the file is malformed (names file, line and field), or
            beyond the limits (``MAX_LINE_CHARS``, ``MAX_NESTING``, ``MAX_HISTORY_CHARS``).
        OSError: the file cannot be read.
    """
    with Path(path).open(encoding="utf-8") as handle:
        return tuple(op for _, op in iter_history_file(handle, source=str(path)))


def validate_history(ops: Iterable[Op], *, source: str = "<history>") -> None:
    """Check in-memory ops against the same rules as the reader.

    Lines are reported as they would be in the written file (index + 1).

    Args:
        ops: the history.
        source: the name used in error messages.

    Raises:
        HistoryError: the first problem found.
    """
    for _ in iter_history((format_op(op) for op in ops), source=source):
        pass


def format_op(op: Op) -> str:
    """Render one op as a JSON line (no newline), with a fixed field order.

    Args:
        op: the op.

    Returns:
        ``index, process, type, f, key, value, time`` then ``error`` and
        ``node`` when set, then the extra fields sorted by name.
    """
    obj: dict[str, Json] = {
        "index": op.index,
        "process": op.process,
        "type": op.type,
        "f": op.f,
        "key": op.key,
        "value": op.value,
        "time": op.time,
    }
    if op.error is not None:
        obj["error"] = op.error
    if op.node is not None:
        obj["node"] = op.node
    for name in sorted(op.extra):
        obj[name] = op.extra[name]
    return json.dumps(obj, separators=(", ", ": "), ensure_ascii=False, allow_nan=False)


def format_history(ops: Iterable[Op]) -> str:
    """Render a history as JSON lines: the same ops always give the same text.

    Args:
        ops: the history.

    Returns:
        One line per op, each ending in a newline.
    """
    return "".join(format_op(op) + "\n" for op in ops)


def write_history(path: Path | str, ops: Iterable[Op]) -> None:
    """Write a history file (UTF-8, ``\\n`` line endings, deterministic bytes).

    Args:
        path: the file to (over)write.
        ops: the history.
    """
    Path(path).write_bytes(format_history(ops).encode("utf-8"))


def pair_operations(ops: Iterable[Op]) -> tuple[Operation, ...]:
    """Pair each invocation with its completion, in invocation order.

    Args:
        ops: a valid history (see ``validate_history``).

    Returns:
        One ``Operation`` per invoke; pending invokes get ``completion=None``.

    Raises:
        HistoryError: a completion has no invoke (the history was not validated).
    """
    slots: list[list[Op | None]] = []
    open_slot: dict[tuple[Process, str], list[Op | None]] = {}
    for op in ops:
        if op.type == "invoke":
            slot: list[Op | None] = [op, None]
            slots.append(slot)
            open_slot[_slot(op)] = slot
            continue
        found = open_slot.pop(_slot(op), None)
        if found is None:
            raise _fail("<history>", op.index + 1, "type", "completion without an invoke")
        found[1] = op
    return tuple(Operation(invoke=cast(Op, inv), completion=comp) for inv, comp in slots)


def client_operations(ops: Iterable[Op]) -> tuple[Operation, ...]:
    """The paired operations of client processes (nemesis operations left out).

    Args:
        ops: a valid history.

    Returns:
        The client operations in invocation order.
    """
    return tuple(o for o in pair_operations(ops) if o.process != NEMESIS)

"""The history format: reading validates every line, writing is deterministic, pairing."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments import history as history_module
from experiments.bench.checker import RegisterWorkload, simulate_register
from experiments.history import (
    HistoryError,
    Op,
    client_operations,
    format_history,
    pair_operations,
    parse_history,
    read_history,
    validate_history,
    write_history,
)

DESIGN_EXAMPLE = [
    '{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 3, "time": 1000}',
    '{"process": 0, "type": "ok",     "f": "write", "key": "x", "value": 3, "time": 2000}',
    '{"process": 1, "type": "invoke", "f": "read",  "key": "x", "value": null, "time": 1500}',
    '{"process": 1, "type": "ok",     "f": "read",  "key": "x", "value": 3, "time": 2500}',
    '{"process": 2, "type": "invoke", "f": "cas",   "key": "x", "value": [3, 4], "time": 2600}',
    '{"process": 2, "type": "fail",   "f": "cas",   "key": "x", "value": [3, 4], "time": 2700,'
    ' "error": "mismatch"}',
]


def line(**fields: Any) -> str:
    """One JSON history line with defaults for the fields not given."""
    obj: dict[str, Any] = {"process": 0, "type": "invoke", "f": "read", "key": "x",
                           "value": None, "time": 1}
    obj.update(fields)
    return json.dumps({k: v for k, v in obj.items() if v != "<absent>"})


def problem(lines: list[str]) -> HistoryError:
    """The error parsing these lines raises."""
    with pytest.raises(HistoryError) as caught:
        parse_history(lines, source="h.jsonl")
    return caught.value


class TestParseHistory:
    def test_design_example(self) -> None:
        """The example in DESIGN.md parses into six ops with positions as indexes."""
        ops = parse_history(DESIGN_EXAMPLE)

        assert [0, 1, 2, 3, 4, 5] == [op.index for op in ops]
        assert ("cas", "fail", "mismatch") == (ops[5].f, ops[5].type, ops[5].error)

    def test_extra_fields_and_node_are_kept(self) -> None:
        """Unknown fields are preserved in ``extra``; node is its own field."""
        (op,) = parse_history([line(node="n2", trace="abc", attempt=2)])

        assert ("n2", {"trace": "abc", "attempt": 2}) == (op.node, dict(op.extra))

    def test_blank_lines_are_skipped_but_counted(self) -> None:
        """Blank lines do not become ops, yet errors still report real line numbers."""
        error = problem([line(), "", line(type="ok", value=1, time=0)])

        assert (3, "time") == (error.line, error.field)

    def test_nemesis_ops_need_no_key_or_value(self) -> None:
        """A nemesis invoke/info pair without key and value is accepted."""
        ops = parse_history([
            line(process="nemesis", f="start-partition", key="<absent>", value="<absent>"),
            line(process="nemesis", type="info", f="start-partition", key="<absent>",
                 value="<absent>"),
        ])

        assert ["nemesis", "nemesis"] == [op.process for op in ops]


class TestHistoryErrors:
    @pytest.mark.parametrize(
        ("lines", "where", "words"),
        [
            (["{not json"], (1, None), "not a JSON object"),
            (["[1, 2]"], (1, None), "expected a JSON object"),
            (['{"process": 0, "process": 1}'], (1, None), "duplicate field"),
            ([line(time="<absent>")], (1, "time"), "missing"),
            ([line(key="<absent>")], (1, "key"), "missing"),
            ([line(value="<absent>")], (1, "value"), "missing"),
            ([line(process=-1)], (1, "process"), "integer >= 0"),
            ([line(process=True)], (1, "process"), "integer >= 0"),
            ([line(type="done")], (1, "type"), "invoke, ok, fail or info"),
            ([line(f="")], (1, "f"), "non-empty string"),
            ([line(time=1.5)], (1, "time"), "integer nanoseconds"),
            ([line(key=[1])], (1, "key"), "string or integer"),
            ([line(error=3)], (1, "error"), "string or null"),
            ([line(node=1.5)], (1, "node"), "string, integer or null"),
            ([line(index=4)], (1, "index"), "expected 0"),
            ([line(), line(time=2)], (2, "process"), "already has an operation outstanding"),
            ([line(type="ok")], (1, "type"), "without an invoke"),
            ([line(), line(type="ok", f="write")], (2, "f"), "its invoke (line 1)"),
            ([line(), line(type="ok", key="y")], (2, "key"), "its invoke (line 1)"),
            ([line(time=5), line(type="ok", time=4)], (2, "time"), "time goes backwards"),
            (['{"process": 0, "type": "invoke", "f": "read", "key": "x", "value": NaN,'
              ' "time": 1}'], (1, None), "not valid JSON"),
        ],
    )
    def test_each_problem_names_file_line_and_field(
        self, lines: list[str], where: tuple[int, str | None], words: str
    ) -> None:
        """Every kind of problem is reported with the file, the line and the field at fault."""
        error = problem(lines)

        assert ("h.jsonl", *where) == (error.source, error.line, error.field)
        assert words in str(error)
        assert str(error).startswith(f"h.jsonl:{where[0]}")

    def test_read_history_names_the_file(self, tmp_path: Path) -> None:
        """Reading a file reports the file path in the error."""
        path = tmp_path / "bad.jsonl"
        path.write_text(line() + "\n" + line(type="ok", f="cas") + "\n")

        with pytest.raises(HistoryError) as caught:
            read_history(path)

        assert (str(path), 2, "f") == (caught.value.source, caught.value.line,
                                       caught.value.field)


class TestReadingLimits:
    def test_deep_nesting_is_bad_input_not_recursion(self) -> None:
        """A value nested 100,000 deep is a HistoryError on its line, never a RecursionError."""
        deep = line(value="<v>").replace('"<v>"', "[" * 100_000 + "]" * 100_000)

        error = problem([line(), line(type="ok"), deep])

        assert (3, None) == (error.line, error.field)
        assert "nested more than 100 levels" in str(error)

    def test_nesting_up_to_the_limit_is_fine(self) -> None:
        """Nesting at the limit parses; brackets inside strings do not count."""
        nested = line(value="<v>").replace('"<v>"', "[" * 99 + "]" * 99)
        texty = line(value="[" * 500)

        assert 3 == len(parse_history([nested, line(type="ok"), texty], source="h.jsonl"))

    def test_an_endless_line_stops_at_the_bound(self, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
        """A line longer than the bound is bad input, read no further than the bound."""
        monkeypatch.setattr(history_module, "MAX_LINE_CHARS", 1000)
        path = tmp_path / "long.jsonl"
        path.write_text(line() + "\n" + "x" * 5000)

        with pytest.raises(HistoryError) as caught:
            read_history(path)

        assert (2, None) == (caught.value.line, caught.value.field)
        assert "longer than 1000 characters" in str(caught.value)

    def test_dev_zero_is_bad_input(self) -> None:
        """/dev/zero (no newline, ever) ends with a HistoryError on line 1, not forever."""
        with pytest.raises(HistoryError) as caught:
            read_history("/dev/zero")

        assert ("/dev/zero", 1) == (caught.value.source, caught.value.line)

    def test_a_huge_file_stops_at_the_bound(self, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
        """More text in all than the bound is bad input, naming the line where it ran over."""
        monkeypatch.setattr(history_module, "MAX_HISTORY_CHARS", 500)
        path = tmp_path / "big.jsonl"
        ops = [line(process=p, time=1) for p in range(20)]
        path.write_text("".join(op + "\n" for op in ops))

        with pytest.raises(HistoryError) as caught:
            read_history(path)

        assert "history longer than 500 characters" in str(caught.value)
        assert caught.value.line < 20


class TestWriteHistory:
    def test_round_trip_of_the_design_example(self, tmp_path: Path) -> None:
        """Writing parsed ops and reading them back gives the same ops."""
        ops = parse_history(DESIGN_EXAMPLE)
        path = tmp_path / "h.jsonl"
        write_history(path, ops)

        assert ops == read_history(path)

    def test_field_order_is_fixed(self) -> None:
        """Fields come out in a fixed order, extras sorted, None error/node left out."""
        op = Op(index=0, process=1, type="invoke", f="write", key="x", value=2, time=7,
                extra={"z": 1, "a": 2})

        assert ('{"index": 0, "process": 1, "type": "invoke", "f": "write", "key": "x", '
                '"value": 2, "time": 7, "a": 2, "z": 1}\n') == format_history([op])

    @settings(max_examples=30, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_same_ops_same_bytes(self, seed: int) -> None:
        """Generated histories survive a write/read/write cycle byte for byte."""
        ops = simulate_register(random.Random(seed), RegisterWorkload(
            ops=30, processes=4, keys=2, nemesis_every=7))
        text = format_history(ops)

        assert text == format_history(parse_history(text.splitlines()))

    def test_validate_history_checks_in_memory_ops(self) -> None:
        """In-memory ops get the reader's checks, lines counted as index + 1."""
        ops = [Op(index=0, process=0, type="invoke", f="read", key="x", time=5),
               Op(index=1, process=0, type="ok", f="read", key="x", time=3)]

        with pytest.raises(HistoryError) as caught:
            validate_history(ops)

        assert (2, "time") == (caught.value.line, caught.value.field)


class TestPairOperations:
    def test_pairs_and_pending(self) -> None:
        """Invokes pair with their completions; an unanswered invoke is pending (info)."""
        ops = parse_history([
            line(process=0, f="write", value=1, time=1),
            line(process=1, time=2),
            line(process=0, type="ok", f="write", value=1, time=3),
        ])

        pairs = pair_operations(ops)

        assert [("write", "ok", 1, 3), ("read", "info", 2, None)] == [
            (p.f, p.type, p.start, p.end) for p in pairs]

    def test_info_has_no_end_and_keeps_invoke_value(self) -> None:
        """An info completion has no end (it may act later) and reports the invoke's value."""
        ops = parse_history([line(f="write", value=9), line(type="info", f="write", value=None,
                                                             time=4)])

        (pair,) = pair_operations(ops)

        assert (None, 9, "info") == (pair.end, pair.value, pair.type)

    def test_client_operations_leave_out_the_nemesis(self) -> None:
        """Nemesis operations are not client operations."""
        ops = parse_history([
            line(process="nemesis", f="start-partition", key="<absent>", value="<absent>"),
            line(process="nemesis", type="info", f="start-partition", key="<absent>",
                 value="<absent>"),
            line(process=3),
        ])

        assert [3] == [p.process for p in client_operations(ops)]

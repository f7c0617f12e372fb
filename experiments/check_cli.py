"""``chaoslab check``: check history files and exit with the worst verdict.

Rules: this module reads files and prints; the verdicts come from the pure
checkers in ``experiments.checkers``. Exit codes (a contract, DESIGN.md):
0 every history valid, 1 some history invalid (its counterexample printed),
3 some verdict unknown (time budget exhausted, or nothing to check) and none
invalid, 2 bad input (a missing file, a malformed history, a line or file
beyond the reader's limits: one line on stderr naming the file, the line and
the field), which outranks the others. With ``--json``, one JSON object per
checked history per line on stdout.

A history without client operations is reported as "no operations" with the
verdict "unknown" (exit 3): nothing was checked, so calling it valid would
claim what nobody saw. ``--consistency`` picks the model checked on a
register history (linearizable by default); ``strongest`` checks them all
and names the strongest one satisfied (valid when some model holds).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Final

import click
import structlog
from rich.console import Console
from rich.markup import escape

from experiments.checkers import (
    CONSISTENCY_NAMES,
    DEFAULT_BOUND_S,
    MODEL_NAMES,
    UNKNOWN,
    CheckResult,
    ModelError,
    check_history,
)
from experiments.history import NEMESIS, HistoryError, Op, iter_history_file

EXIT_VALID: Final = 0
EXIT_INVALID: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_UNKNOWN: Final = 3

log = structlog.get_logger()


class _BadInput(Exception):
    """A history that cannot be checked; the message is the one line to print."""


def _load(path: Path) -> tuple[tuple[Op, ...], dict[int, int]]:
    """Read a history, keeping each op's line number for later error messages."""
    try:
        with path.open(encoding="utf-8") as handle:
            numbered = list(iter_history_file(handle, source=str(path)))
    except HistoryError as exc:
        raise _BadInput(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise _BadInput(f"{path}: not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise _BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    return tuple(op for _, op in numbered), {op.index: line for line, op in numbered}


def _no_operations(checker: str) -> CheckResult:
    return CheckResult(
        valid=UNKNOWN, checker=checker, details={"operations": 0, "reason": "no operations"},
        summary="no operations: the history has no client operations, nothing was checked")


def _check_one(path: Path, model: str, consistency: str, time_limit: float | None,
               bound_s: float) -> CheckResult:
    ops, lines = _load(path)
    if all(op.process == NEMESIS for op in ops):
        return _no_operations(consistency if model == "register" else model)
    try:
        return check_history(ops, model, consistency=consistency, time_limit=time_limit,
                             bound_s=bound_s)
    except ModelError as exc:
        line = lines.get(exc.index, exc.index + 1)
        msg = f"{path}:{line}: field {exc.field!r}: {exc.problem}"
        raise _BadInput(msg) from None


def _verdict_word(valid: object) -> tuple[str, str]:
    if valid is True:
        return "valid", "green"
    if valid is False:
        return "INVALID", "bold red"
    return "UNKNOWN", "yellow"


def _print_human(console: Console, path: Path, result: CheckResult, elapsed: float) -> None:
    word, style = _verdict_word(result.valid)
    console.print(f"[{style}]{word}[/{style}] {escape(str(path))} "
                  f"[dim]({result.checker}, {elapsed:.3f}s)[/dim]: {escape(result.summary)}")
    for line in result.lines:
        console.print("  " + escape(line))


@click.command("check")
@click.argument("histories", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model", type=click.Choice(MODEL_NAMES), required=True,
              help="register: read/write/cas per key; set: lost/unexpected elements.")
@click.option("--consistency", type=click.Choice(CONSISTENCY_NAMES), default="linearizable",
              show_default=True,
              help="The consistency model checked on a register history (the weaker ones need "
                   "unique written values); 'staleness' measures how far behind reads were; "
                   "'strongest' checks every model and names the strongest one satisfied. A "
                   "set history is checked as linearizable only.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="S", help="Seconds per search before the verdict is 'unknown'.")
@click.option("--convergence-bound", "bound_s", type=click.FloatRange(min=0),
              default=DEFAULT_BOUND_S, show_default=True, metavar="S",
              help="eventual: seconds after the heal by which every replica's final read "
                   "must agree.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per history per line.")
@click.pass_context
def check(ctx: click.Context, histories: tuple[Path, ...], model: str, consistency: str,
          time_limit: float | None, bound_s: float, as_json: bool) -> None:
    """Check HISTORY.jsonl files; exit 0 valid, 1 invalid, 3 unknown, 2 bad input."""
    if model == "set" and consistency != "linearizable":
        msg = (f"--consistency {consistency} needs --model register "
               f"(a set is checked as linearizable only)")
        raise click.UsageError(msg)
    console = Console(highlight=False, soft_wrap=True)
    verdicts: list[object] = []
    bad_input = False
    for path in histories:
        started = time.monotonic()
        try:
            result = _check_one(path, model, consistency, time_limit, bound_s)
        except _BadInput as exc:
            bad_input = True
            click.echo(f"chaoslab check: {exc}", err=True)
            continue
        elapsed = time.monotonic() - started
        verdicts.append(result.valid)
        log.debug("history checked", history=str(path), valid=result.valid, elapsed_s=elapsed)
        if as_json:
            obj: dict[str, Any] = {"history": str(path), "valid": result.valid,
                                   "elapsed_s": round(elapsed, 6)}
            obj |= {k: v for k, v in result.to_json().items() if k != "valid"}
            click.echo(json.dumps(obj))
        else:
            _print_human(console, path, result, elapsed)
    if bad_input:
        ctx.exit(EXIT_BAD_INPUT)
    if any(v is False for v in verdicts):
        ctx.exit(EXIT_INVALID)
    if any(v == UNKNOWN for v in verdicts):
        ctx.exit(EXIT_UNKNOWN)
    ctx.exit(EXIT_VALID)

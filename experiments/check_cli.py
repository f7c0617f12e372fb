"""``chaoslab check``: check history files and exit with the worst verdict.

Rules: this module reads files and prints; the verdicts come from the pure
checkers in ``experiments.checkers``. Exit codes (a contract, DESIGN.md):
0 every history valid, 1 some history invalid (its counterexample printed),
3 some verdict unknown (time budget exhausted) and none invalid, 2 bad input
(a missing file or a malformed history: one line on stderr naming the file,
the line and the field), which outranks the others. With ``--json``, one
JSON object per checked history per line on stdout.
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

from experiments.checkers import MODEL_NAMES, UNKNOWN, CheckResult, ModelError, check_history
from experiments.history import HistoryError, Op, iter_history

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
            numbered = list(iter_history(handle, source=str(path)))
    except HistoryError as exc:
        raise _BadInput(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise _BadInput(f"{path}: not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise _BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    return tuple(op for _, op in numbered), {op.index: line for line, op in numbered}


def _check_one(path: Path, model: str, time_limit: float | None) -> CheckResult:
    ops, lines = _load(path)
    try:
        return check_history(ops, model, time_limit=time_limit)
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
              help="register: linearizability per key; set: lost/unexpected elements.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="S", help="Seconds per history before the verdict is 'unknown'.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per history per line.")
@click.pass_context
def check(ctx: click.Context, histories: tuple[Path, ...], model: str,
          time_limit: float | None, as_json: bool) -> None:
    """Check HISTORY.jsonl files; exit 0 valid, 1 invalid, 3 unknown, 2 bad input."""
    console = Console(highlight=False, soft_wrap=True)
    verdicts: list[object] = []
    bad_input = False
    for path in histories:
        started = time.monotonic()
        try:
            result = _check_one(path, model, time_limit)
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

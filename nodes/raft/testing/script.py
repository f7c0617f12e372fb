"""Data-driven scenario scripts: parse, run against a ``Network``, rewrite expectations.

Rules: no IO (callers read and write the files). A script is a sequence of
blocks: optional ``#`` comment lines, one command line, a ``----`` line, the
expected output, and a blank line. Commands are ``name arg key=value ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nodes.errors import NodeError
from nodes.raft.testing.network import Network

SEPARATOR = "----"


class ScriptError(NodeError):
    """A scenario script is malformed or uses a command wrongly (the script's fault).

    Args:
        line: the 1-based line of the offending command.
        problem: what is wrong.
    """

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Args:
    """A command's arguments: positional words and ``key=value`` options."""

    words: tuple[str, ...]
    options: dict[str, str]

    def int_at(self, pos: int, default: int | None = None) -> int:
        """The positional argument at ``pos`` as an int (or ``default`` when absent)."""
        if pos < len(self.words):
            return int(self.words[pos])
        if default is None:
            msg = f"missing argument {pos + 1}"
            raise ValueError(msg)
        return default

    def ids(self, key: str) -> set[int] | None:
        """Option ``key`` as a set of node ids (``2,3`` or ``(2 3)``), None when absent."""
        raw = self.options.get(key)
        if raw is None:
            return None
        return {int(x) for x in raw.strip("()").replace(",", " ").split()}


Handler = Callable[[Network, Args], list[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One command of a script, with its comments and expected output."""

    line: int
    comments: tuple[str, ...]
    command: str
    expected: str


def parse(text: str) -> list[Block]:
    """Split a script into blocks.

    Raises:
        ScriptError: a command has no ``----`` line under it.
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    comments: list[str] = []
    pos = 0
    while pos < len(lines):
        line = lines[pos]
        if not line.strip() or line.startswith("#"):
            if line.startswith("#"):
                comments.append(line)
            pos += 1
            continue
        if pos + 1 >= len(lines) or lines[pos + 1] != SEPARATOR:
            raise ScriptError(pos + 1, f"command {line!r} must be followed by {SEPARATOR!r}")
        end = pos + 2
        while end < len(lines) and lines[end].strip():
            end += 1
        expected = "\n".join(lines[pos + 2 : end])
        blocks.append(
            Block(line=pos + 1, comments=tuple(comments), command=line, expected=expected)
        )
        comments = []
        pos = end
    return blocks


def split_command(command: str) -> tuple[str, Args]:
    """``name w1 k=v (a b)`` into the name and its ``Args`` (parentheses group words)."""
    tokens: list[str] = []
    depth = 0
    for word in command.split():
        if depth and tokens:
            tokens[-1] += " " + word
        else:
            tokens.append(word)
        depth += word.count("(") - word.count(")")
    words = tuple(t for t in tokens[1:] if "=" not in t)
    options = dict(t.split("=", 1) for t in tokens[1:] if "=" in t)
    return tokens[0], Args(words=words, options=options)


def run(blocks: list[Block], handlers: dict[str, Handler], env: Network) -> list[str]:
    """Run every block; return each block's actual output (``ok`` when empty).

    Raises:
        ScriptError: an unknown command, or a handler rejected its arguments.
    """
    outputs: list[str] = []
    for block in blocks:
        name, args = split_command(block.command)
        handler = handlers.get(name)
        if handler is None:
            raise ScriptError(block.line, f"unknown command {name!r}")
        try:
            lines = handler(env, args)
        except (ValueError, KeyError, LookupError) as exc:
            raise ScriptError(block.line, f"{name}: {exc}") from exc
        outputs.append("\n".join(lines) if lines else "ok")
    return outputs


def render(blocks: list[Block], outputs: list[str]) -> str:
    """The script text with ``outputs`` as the expectations (for ``--rewrite``)."""
    parts: list[str] = []
    for block, out in zip(blocks, outputs, strict=True):
        parts.append("\n".join([*block.comments, block.command, SEPARATOR, out]))
    return "\n\n".join(parts) + "\n"

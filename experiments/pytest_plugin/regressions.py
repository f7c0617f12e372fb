"""The regression seeds file: failing simulator seeds, kept in the user's repository and
replayed first on every later run (like Hypothesis's example database, but plain text meant
to be committed and reviewed).

Rules: one seed per line, ``TEST-ID SEED``, optionally followed by ``# a note``; blank
lines and lines starting with ``#`` are comments. TEST-ID is the pytest node id without
its parameters (``tests/test_x.py::test_y``, ``experiments/catalog/kill-leader.yaml::kill-leader``).
Lines are only ever appended, one whole line per write, so a file kept under version
control merges cleanly and a crash never leaves half a line. A line that does not parse
is an error naming the file and the line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

HEADER: Final = """\
# chaoslab regression seeds: commit this file.
# Each line is a test and a simulator seed it once failed with: TEST-ID SEED  # note
# The chaoslab pytest plugin appends a line when a test fails on the simulator, and runs
# every test with the seeds listed here for it first, before its usual seeds.
"""
_LINE = re.compile(r"^(?P<key>\S.*?)\s+(?P<seed>\d+)\s*(?:#.*)?$")


class RegressionFileError(ValueError):
    """The regression seeds file has a line that is not ``TEST-ID SEED``."""


def base_id(nodeid: str) -> str:
    """A node id without its parameters: ``t.py::test_x[seed-3]`` -> ``t.py::test_x``."""
    return nodeid.split("[", 1)[0]


@dataclass(frozen=True, slots=True)
class Regressions:
    """The seeds recorded per test id, in file order."""

    seeds: dict[str, tuple[int, ...]]

    def for_test(self, key: str) -> tuple[int, ...]:
        """The seeds recorded for ``key`` (a test id without parameters)."""
        return self.seeds.get(key, ())


def parse(text: str, *, source: str = "<regressions>") -> Regressions:
    """Parse a regression file's text.

    Raises:
        RegressionFileError: a line is neither a comment nor ``TEST-ID SEED``.
    """
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if match is None:
            msg = (f"{source}:{number}: expected `TEST-ID SEED  # note`, found {stripped!r}")
            raise RegressionFileError(msg)
        seeds = found.setdefault(match.group("key"), [])
        seed = int(match.group("seed"))
        if seed not in seeds:
            seeds.append(seed)
    return Regressions({key: tuple(seeds) for key, seeds in found.items()})


def read(path: Path) -> Regressions:
    """The file's seeds (none when it does not exist).

    Raises:
        RegressionFileError: a bad line, or the file cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Regressions({})
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read the regression seeds file: {exc}"
        raise RegressionFileError(msg) from None
    return parse(text, source=str(path))


def record(path: Path, key: str, seed: int, note: str = "") -> bool:
    """Append ``key seed  # note`` unless that seed is already recorded for ``key``.

    Returns:
        True when a line was added.

    Raises:
        RegressionFileError: the file has a bad line.
        OSError: it cannot be written.
    """
    if seed in read(path).for_test(key):
        return False
    if any(ch in key for ch in "\n\r#"):
        msg = f"cannot record a test id with a newline or '#': {key!r}"
        raise RegressionFileError(msg)
    note = " ".join(note.split())
    line = f"{key} {seed}" + (f"  # {note}" if note else "") + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size == 0:
            os.write(fd, HEADER.encode())
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return True

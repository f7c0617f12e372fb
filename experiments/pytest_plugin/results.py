"""What a test gets back from a chaos run (``ChaosResult``), and the text a failing test
prints: which expectation failed, measured against expected, the run directory and report,
and the one command that reproduces it.

Rules: pure, no IO: everything comes from the runner's ``RunOutcome`` (the results.json
contract). The failure text must make sense to someone who has never read chaoslab's
code: every line says what it is in words.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from experiments.runner.api import RunOutcome
    from experiments.shrink import ShrinkResult

_MAX_OPS = 3


class ChaosRunFailed(AssertionError):
    """A chaos run did not pass: an expectation failed, or its verdict is unknown (the
    message says which, measured against expected, and how to reproduce it)."""

    def __init__(self, result: ChaosResult, *, automatic: bool = False) -> None:
        self.result = result
        self.automatic = automatic
        """Raised by the plugin after the test body (a ``chaos`` marker's experiment)."""
        super().__init__(result.explain())


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One expectation's verdict: ``valid`` is True, False or ``"unknown"``."""

    name: str
    valid: bool | str
    expected: str
    measured: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def held(self) -> bool:
        """It held (not failed, not unknown)."""
        return self.valid is True


@dataclass(frozen=True, slots=True, kw_only=True)
class ChaosResult:
    """One run of one experiment with one seed on one backend, judged."""

    outcome: RunOutcome
    source: Path | None = None
    """The experiment's file (None: a dict or an object)."""
    test_id: str | None = None
    """The pytest node id that ran it (for the reproduce line)."""
    shrunk: ShrinkResult | None = None
    regression: Path | None = None
    """The regression file this run's seed was recorded in (None: not recorded)."""
    kept: str | None = None
    """Where the cluster of this failed run was kept (--chaoslab-keep), in words."""

    # ---- what the run concluded --------------------------------------------------

    @property
    def experiment(self) -> str:
        """The experiment's name."""
        return self.outcome.experiment

    @property
    def backend(self) -> str:
        """``sim``, ``local`` or ``docker``."""
        return self.outcome.backend

    @property
    def seed(self) -> int:
        """The run's seed."""
        return self.outcome.seed

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` or ``unknown``."""
        return self.outcome.verdict

    @property
    def passed(self) -> bool:
        """Every expectation held."""
        return self.outcome.verdict == "pass"

    @property
    def results(self) -> Mapping[str, Any]:
        """results.json, as decoded."""
        return self.outcome.results

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        """Every expectation's verdict (plus the checks every run gets)."""
        return tuple(
            CheckResult(name=c["name"], valid=c["valid"], expected=str(c["expected"]),
                        measured=str(c["measured"]), summary=str(c.get("summary", "")),
                        details=c.get("details", {}))
            for c in self.results.get("checks", [])
        )

    def check(self, name: str) -> CheckResult:
        """The check called ``name`` (``linearizable``, ``availability.minority``, ...).

        Raises:
            KeyError: no such check (the message lists them).
        """
        for check in self.checks:
            if check.name == name:
                return check
        names = ", ".join(c.name for c in self.checks)
        msg = f"no check {name!r} in this run; it has: {names}"
        raise KeyError(msg)

    @property
    def failed_checks(self) -> tuple[CheckResult, ...]:
        """The checks that failed or are unknown."""
        return tuple(c for c in self.checks if not c.held)

    def availability(self, side: str) -> float | None:
        """The share of operations answered on ``side`` (``quiet``, ``majority`` or
        ``minority``) over the whole run; None when no operation was counted there."""
        row = self.results.get("availability", {}).get("totals", {}).get(side, {})
        return row.get("yield") if row.get("invoked") else None

    @property
    def recovery_s(self) -> float | None:
        """Seconds from the last fault's end to the first answered write (None: none)."""
        value = self.results.get("recovery_s")
        return None if value is None else float(value)

    @property
    def stats(self) -> Mapping[str, Any]:
        """Operations, outcomes, faults, leader changes, ..."""
        stats: Mapping[str, Any] = self.results.get("stats", {})
        return stats

    # ---- where the files are -------------------------------------------------------

    @property
    def run_dir(self) -> Path | None:
        """The run directory (None when nothing was written)."""
        return self.outcome.dir

    @property
    def report(self) -> Path | None:
        """The run's report.html."""
        return None if self.run_dir is None else self.run_dir / "report.html"

    @property
    def junit(self) -> Path | None:
        """The run's junit.xml (one test case per expectation)."""
        return None if self.run_dir is None else self.run_dir / "junit.xml"

    @property
    def command(self) -> str:
        """The one command that runs this experiment again with this seed and backend."""
        target = self.source if self.source is not None else (
            None if self.run_dir is None else self.run_dir / "experiment.yaml")
        if target is None:
            return self.outcome.command
        return f"chaoslab run {_shell(str(target))} --backend {self.backend} --seed {self.seed}"

    def properties(self) -> list[tuple[str, str]]:
        """The run as JUnit properties (``record_property`` names)."""
        props = [
            ("chaoslab_experiment", self.experiment),
            ("chaoslab_backend", self.backend),
            ("chaoslab_seed", str(self.seed)),
            ("chaoslab_verdict", self.verdict),
            ("chaoslab_command", self.command),
        ]
        if self.run_dir is not None:
            props += [("chaoslab_run_dir", str(self.run_dir)),
                      ("chaoslab_report", str(self.report))]
        props += [(f"chaoslab_check_{c.name}", f"{_word(c.valid)}: measured {c.measured}, "
                   f"expected {c.expected}") for c in self.checks]
        if self.shrunk is not None and self.shrunk.path is not None:
            props.append(("chaoslab_shrunk", str(self.shrunk.path)))
        return props

    # ---- the failure text -----------------------------------------------------------

    def explain(self) -> str:
        """What happened, for a failing test (see the module docstring)."""
        lines = [self._headline()]
        checks = self.checks
        width = max((len(c.name) for c in checks), default=0)
        for check in checks:
            mark = _mark(check.valid)
            lines.append(f"  {mark} {check.name:<{width}}  measured {check.measured}, "
                         f"expected {check.expected}")
            if not check.held:
                lines += [f"      {line}" for line in _why(check, self.results)]
        lines += self._answered()
        if self.run_dir is not None:
            lines.append(f"run directory: {self.run_dir}")
            lines.append(f"report:        {self.report}")
        lines.append(f"reproduce:     {self.command}")
        if self.test_id is not None:
            lines.append(f"  or:          pytest {_shell(self.test_id)}")
        if self.shrunk is not None:
            lines += self.shrunk.describe()
        if self.regression is not None:
            lines.append(f"regression:    seed {self.seed} recorded in {self.regression} "
                         "(replayed first from now on; commit the file)")
        if self.kept is not None:
            lines.append(f"kept:          {self.kept}")
        return "\n".join(lines)

    def _headline(self) -> str:
        where = f"on {self.backend} with seed {self.seed}"
        if self.verdict == "unknown":
            undecided = ", ".join(c.name for c in self.failed_checks) or "a check"
            return (f"chaos experiment {self.experiment!r} {where}: verdict UNKNOWN "
                    f"({undecided} could not be decided); an undecided run never passes")
        failed = [c.name for c in self.checks if c.valid is False]
        return (f"chaos experiment {self.experiment!r} failed {where}: "
                f"{len(failed)} expectation(s) did not hold ({', '.join(failed)})")

    def _answered(self) -> list[str]:
        parts = []
        totals = self.results.get("availability", {}).get("totals", {})
        for side in ("quiet", "majority", "minority"):
            row = totals.get(side, {})
            if row.get("invoked"):
                parts.append(f"{side} {row['answered']}/{row['invoked']}")
        if not parts:
            return []
        return ["operations answered: " + ", ".join(parts) +
                " (quiet: no fault in force; majority/minority: the side of a fault a "
                "client's node was on)"]


def _word(valid: bool | str) -> str:
    return "held" if valid is True else ("failed" if valid is False else "unknown")


def _mark(valid: bool | str) -> str:
    return "✓" if valid is True else ("✗" if valid is False else "?")


def _shell(text: str) -> str:
    return shlex.quote(text)


def _op(op: Mapping[str, Any]) -> str:
    """``process 2 read k0 -> 37 (ok, 2.009-2.010 s)``."""
    value = op.get("value")
    if op.get("f") == "read":
        what = f"read {op.get('key')} -> {value!r}"
    elif op.get("f") == "cas" and isinstance(value, list | tuple) and len(value) == 2:
        what = f"cas {op.get('key')} {value[0]!r} -> {value[1]!r}"
    else:
        what = f"{op.get('f')} {op.get('key')} {value!r}"
    start, end = op.get("start"), op.get("end")
    span = ""
    if isinstance(start, int):
        span = f", {start / 1e9:.3f}-{end / 1e9:.3f} s" if isinstance(end, int) \
            else f", from {start / 1e9:.3f} s, outcome unknown"
    return f"process {op.get('process')} {what} ({op.get('type')}{span})"


def _unquoted(key: Any) -> str:
    """The counterexample's key is JSON text (``"k0"``): shown as ``k0``."""
    try:
        value = json.loads(key) if isinstance(key, str) else key
    except ValueError:
        value = key
    return str(value)


def _why(check: CheckResult, results: Mapping[str, Any]) -> Sequence[str]:
    """A few words of evidence under a failed check."""
    summary = check.summary
    restates = " meets " in summary or " misses " in summary  # "x 0.37 misses <= 0.05"
    lines = [summary] if summary and not restates else []
    if check.name == "linearizable":
        cx = results.get("linearizability", {}).get("counterexample") or {}
        failing = cx.get("failing") or []
        if failing:
            lines.append(f"no order of the operations on key {_unquoted(cx.get('key'))} explains: "
                         f"{_op(failing[0])}")
            lines += [f"  with {_op(op)}" for op in failing[1:_MAX_OPS]]
            if cx.get("reason"):
                lines.append(f"({cx['reason']})")
    elif check.name == "lost-writes":
        lost = check.details.get("lost") or []
        lines += [f"lost: {item}" for item in lost[:_MAX_OPS]]
    elif check.name == "faults-observed":
        windows = check.details.get("windows") or []
        lines += [f"fault {w.get('id')} ({w.get('fault')}): no observable effect"
                  for w in windows if not w.get("observed")][:_MAX_OPS]
    return lines

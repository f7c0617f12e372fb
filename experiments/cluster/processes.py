"""Start, probe and stop detached processes (node and proxy servers) by pid.

Rules: only processes recorded in a cluster record are touched, by pid, after
checking that the pid still runs the recorded command line (pids get reused).
Processes start in their own session so a Ctrl-C in the managing terminal does
not reach them, with stdout and stderr appended to a log file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ENTRY = "from experiments.cli import main; main()"
"""How a child runs the ``chaoslab`` command (independent of the PATH)."""


def chaoslab_argv(*args: str) -> list[str]:
    """The argv that runs ``chaoslab ARGS...`` with this interpreter."""
    return [sys.executable, "-c", ENTRY, *args]


def spawn(argv: list[str], log: Path, *, env: dict[str, str] | None = None) -> int:
    """Start a detached process (own session) logging to ``log``; return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=child_env,
        )
    # Keep the Popen: a collected one whose child still runs is reaped silently by the next
    # Popen (subprocess._cleanup), and then nobody could say how the child ended.
    _CHILDREN[process.pid] = process
    return process.pid


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Our children's Popen objects, by pid, until they are reaped."""


_EXITS: dict[int, str] = {}
"""How our reaped children ended, by pid (for error messages)."""


def _reap(pid: int) -> bool:
    """Reap ``pid`` if it is our exited child; True when it was reaped."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    if done != pid:
        return False
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if os.WIFSIGNALED(status):
        _EXITS[pid] = f"killed by signal {os.WTERMSIG(status)}"
    else:
        _EXITS[pid] = f"exit code {os.waitstatus_to_exitcode(status)}"
    return True


def how_it_ended(pid: int | None) -> str | None:
    """How our child ``pid`` ended, when this process reaped it; else None."""
    return None if pid is None else _EXITS.get(pid)


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def is_running(pid: int | None, argv: list[str]) -> bool:
    """Whether ``pid`` is alive and still runs ``argv`` (not a reused pid or a zombie)."""
    if pid is None or pid <= 0:
        return False
    if _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    if _zombie(pid):
        return False
    cmdline = _cmdline(pid)
    # No /proc, or a child still inside exec (vfork resumes us before the kernel has set up
    # the new command line, which then reads empty): trust the signal probe.
    if not cmdline:
        return True
    return " ".join(argv[-4:]) in cmdline


def wait_exit(pid: int, argv: list[str], timeout_s: float) -> bool:
    """Wait (bounded) for a process to exit; True when it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_running(pid, argv):
            return True
        time.sleep(0.05)
    return not is_running(pid, argv)


def kill(pid: int | None, argv: list[str]) -> bool:
    """SIGKILL the process if it runs; True when it was running."""
    if pid is None or not is_running(pid, argv):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_exit(pid, argv, 5.0)
    return True


def send_signal(pid: int | None, argv: list[str], sig: signal.Signals) -> bool:
    """Send ``sig`` (e.g. SIGSTOP, SIGCONT) if the process runs; True when it was running."""
    if pid is None or not is_running(pid, argv):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def terminate(pid: int | None, argv: list[str], *, grace_s: float = 5.0) -> bool:
    """SIGTERM (after a SIGCONT, in case it is stopped), then SIGKILL after ``grace_s``;
    True when it was running."""
    if pid is None or not is_running(pid, argv):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)
    if not wait_exit(pid, argv, grace_s):
        kill(pid, argv)
    return True

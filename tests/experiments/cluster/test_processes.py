"""Managed processes: a child is seen running from the moment ``spawn`` returns until it is
stopped, and how it ended is known."""

from __future__ import annotations

import sys
from pathlib import Path

from experiments.cluster import processes


class TestSpawn:
    def test_a_fresh_child_is_running_at_once(self, tmp_path: Path) -> None:
        """Right after spawn (the child may still be inside exec, with an empty
        /proc/PID/cmdline) is_running says True, 40 times out of 40."""
        seen = []
        for i in range(40):
            argv = [sys.executable, "-c", "import time; time.sleep(30)", f"child-{i}"]
            pid = processes.spawn(argv, tmp_path / f"{i}.log")
            seen.append(processes.is_running(pid, argv))
            processes.kill(pid, argv)

        assert [True] * 40 == seen

    def test_how_a_child_ended(self, tmp_path: Path) -> None:
        """A child that exits with 3 is reported as such once it is no longer running."""
        argv = [sys.executable, "-c", "raise SystemExit(3)", "exits-3"]
        pid = processes.spawn(argv, tmp_path / "log")

        stopped = processes.wait_exit(pid, argv, 30)

        assert (True, "exit code 3") == (stopped, processes.how_it_ended(pid))

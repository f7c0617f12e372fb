"""``chaoslab node / kv / admin / cluster`` without a running cluster: bad input and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from experiments.cli import main


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``chaoslab ARGS`` in-process; return the exit code and combined output."""
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


class TestBadInput:
    """Bad input is one line naming the problem and exit 2."""

    @pytest.mark.parametrize(
        ("args", "named"),
        [
            (["node", "--id", "1", "--listen", "nowhere", "--data-dir", "/tmp/x"], "listen"),
            (["node", "--id", "1", "--listen", "127.0.0.1:1"], "data-dir"),
            (["kv", "put", "", "v", "--address", "127.0.0.1:1"], "key must not be empty"),
            (["kv", "get", "k", "--consistency", "eventual", "-a", "127.0.0.1:1"], "eventual"),
            (["cluster", "up", "--nodes", "4"], "--nodes"),
            (["cluster", "up", "--heartbeat-tick", "20"], "--heartbeat-tick"),
            (["admin", "transfer-leader", "127.0.0.1:1", "0"], "TO_ID"),
        ],
        ids=["listen", "data-dir", "empty-key", "consistency", "nodes", "ticks", "to-id"],
    )
    def test_exit_2_naming_the_problem(self, args: list[str], named: str) -> None:
        """Each invalid invocation exits 2 and its message names what was wrong."""
        code, output = invoke(*args, env={"CHAOSLAB_DATA_DIR": ""})

        assert (2, True) == (code, named in output)

    def test_no_cluster_in_data_dir(self, tmp_path: Path) -> None:
        """``cluster status`` and ``kv get`` without a cluster record exit 2 naming the dir."""
        status_code, status_out = invoke("cluster", "status", "--data-dir", str(tmp_path))
        kv_code, kv_out = invoke("kv", "get", "k", "--cluster-dir", str(tmp_path))

        assert (2, 2) == (status_code, kv_code)
        assert str(tmp_path) in status_out and str(tmp_path) in kv_out


class TestUnreachable:
    """A cluster that does not answer gives exit 1 (the operation certainly failed)."""

    def test_kv_put_to_nothing_fails(self) -> None:
        """Nobody listens: the write was never sent, so it failed (exit 1)."""
        code, output = invoke("kv", "put", "k", "v", "-a", "127.0.0.1:1", "--timeout", "0.3")

        assert (1, True) == (code, "failed" in output)

    def test_admin_health_of_nothing_is_unhealthy(self) -> None:
        """Health of an address nobody serves exits 1."""
        code, _ = invoke("admin", "health", "127.0.0.1:1", "--timeout", "0.3")

        assert 1 == code

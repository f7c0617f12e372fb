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
            (["kv", "put", "k", "v", "-a", "not-an-address"], "'not-an-address' is not HOST:PORT"),
            (["kv", "get", "k", "-a", "127.0.0.1:99999"], "port in 1..65535"),
            (
                [
                    "node",
                    "--id",
                    "1",
                    "--listen",
                    "127.0.0.1:1",
                    "--data-dir",
                    "/tmp/x",
                    "--peers",
                    "2=127.0.0.1:2",
                ],
                "peer-listen: required",
            ),
        ],
        ids=[
            "listen",
            "data-dir",
            "empty-key",
            "consistency",
            "nodes",
            "ticks",
            "to-id",
            "kv-address",
            "kv-port",
            "peers-need-a-peer-listener",
        ],
    )
    def test_exit_2_naming_the_problem(self, args: list[str], named: str) -> None:
        """Each invalid invocation exits 2 and its message names what was wrong."""
        code, output = invoke(*args, env={"CHAOSLAB_DATA_DIR": ""})

        assert (2, True) == (code, named in output)

    def test_unsafe_peer_secret_is_refused_at_start(self, tmp_path: Path) -> None:
        """A node whose peer secret others may read exits 1 with one log line naming the
        file and the chmod to run (never the secret)."""
        secret = tmp_path / "peer.secret"
        secret.write_text("0123456789abcdef0123456789abcdef\n")
        secret.chmod(0o644)
        args = [
            "--log-format", "json", "node", "--id", "1", "--listen", "127.0.0.1:1",
            "--peer-listen", "127.0.0.1:2", "--peers", "2=127.0.0.1:3",
            "--peer-secret-file", str(secret), "--data-dir", str(tmp_path / "data"),
        ]  # fmt: skip
        result = CliRunner().invoke(main, args)

        assert (1, True, False) == (
            result.exit_code,
            "chmod 600" in result.output,
            "0123456789abcdef" in result.output,
        )

    def test_init_secret_creates_an_owner_only_file(self, tmp_path: Path) -> None:
        """admin init-secret writes a 0600 secret and never prints it; again, it keeps it."""
        path = tmp_path / "s" / "peer.secret"

        first = invoke("admin", "init-secret", str(path))
        content = path.read_text()
        second = invoke("admin", "init-secret", str(path))

        assert (0, 0, 0o600) == (first[0], second[0], path.stat().st_mode & 0o777)
        assert content.strip() not in first[1] + second[1]
        assert content == path.read_text()

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

"""``chaoslab kv``, ``admin`` and ``cluster status`` against the shared running cluster."""

from __future__ import annotations

import json

from click.testing import CliRunner

from experiments.cli import main
from experiments.cluster import LocalCluster
from experiments.cluster.testing import wait_for


def invoke(cluster: LocalCluster, *args: str) -> tuple[int, str]:
    """Run ``chaoslab ARGS`` in-process with the cluster's directory in the environment."""
    env = {"CHAOSLAB_DATA_DIR": str(cluster.data_dir)}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


class TestKvCommands:
    """kv exit codes are a contract: 0 ok, 1 missing key or failed comparison."""

    def test_put_then_get_prints_the_value(self, shared_cluster: LocalCluster) -> None:
        """put exits 0; get prints the value and exits 0."""
        put = invoke(shared_cluster, "kv", "put", "cli-key", "hello")
        get = invoke(shared_cluster, "kv", "get", "cli-key")

        assert ((0, "OK\n"), (0, "hello\n")) == (put, get)

    def test_missing_key_exits_1(self, shared_cluster: LocalCluster) -> None:
        """get of an absent key exits 1 with a message."""
        code, output = invoke(shared_cluster, "kv", "get", "cli-never-written")

        assert (1, True) == (code, "not found" in output)

    def test_cas_mismatch_exits_1(self, shared_cluster: LocalCluster) -> None:
        """cas exits 0 when the old value matches, 1 when it does not."""
        invoke(shared_cluster, "kv", "put", "cli-cas", "a")
        swapped, _ = invoke(shared_cluster, "kv", "cas", "cli-cas", "a", "b")
        refused, output = invoke(shared_cluster, "kv", "cas", "cli-cas", "a", "c")

        assert (0, 1, True) == (swapped, refused, "mismatch" in output)

    def test_delete_then_get_exits_1(self, shared_cluster: LocalCluster) -> None:
        """After delete, get exits 1."""
        invoke(shared_cluster, "kv", "put", "cli-del", "x")
        deleted, _ = invoke(shared_cluster, "kv", "delete", "cli-del")
        missing, _ = invoke(shared_cluster, "kv", "get", "cli-del")

        assert (0, 1) == (deleted, missing)


class TestStatusCommands:
    """cluster status --json and admin commands."""

    def test_cluster_status_json_shape(self, shared_cluster: LocalCluster) -> None:
        """One object per node with exactly the contract's keys; roles are known words."""
        code, output = invoke(shared_cluster, "cluster", "status", "--json")
        rows = json.loads(output)
        keys = {"id", "address", "role", "term", "leader", "commit_index", "applied_index"}

        assert 0 == code
        assert [1, 2, 3] == [row["id"] for row in rows]
        assert all(keys == set(row) for row in rows)
        assert {row["role"] for row in rows} <= {"leader", "follower", "candidate", "unreachable"}

    def test_admin_health_and_status(self, shared_cluster: LocalCluster) -> None:
        """A node of a cluster with a leader is healthy; its JSON status names its id."""
        address = shared_cluster.state().node(2).listen
        health, _ = invoke(shared_cluster, "admin", "health", address)
        code, output = invoke(shared_cluster, "admin", "status", address, "--json")

        assert (0, 0, 2) == (health, code, json.loads(output)["id"])

    def test_the_lean_healthcheck_agrees(self, shared_cluster: LocalCluster) -> None:
        """The containers' probe (python3 -m nodes.rpc.healthcheck) says healthy too."""
        from nodes.rpc.healthcheck import check

        healthy, reason = check(shared_cluster.state().node(2).listen)

        assert (True, True) == (healthy, reason.startswith("leader is node")), reason

    def test_transfer_leader_moves_leadership(self, shared_cluster: LocalCluster) -> None:
        """transfer-leader to a follower makes it the leader (bounded wait)."""
        leader = shared_cluster.wait_for_leader(30)
        target = next(n for n in (1, 2, 3) if n != leader.id)
        code, _ = invoke(
            shared_cluster,
            "admin",
            "transfer-leader",
            shared_cluster.state().node(1).listen,
            str(target),
        )
        new = wait_for(
            lambda: next(
                (
                    r.id
                    for r in shared_cluster.status()
                    if r.view and r.view.role == "leader" and r.id == target
                ),
                None,
            ),
            what=f"node {target} to lead",
        )

        assert (0, target) == (code, new)

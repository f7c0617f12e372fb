"""The compose cluster's containers are confined: non-root, no capabilities, bounded memory
and pids, read-only roots, an owner-only peer secret, and no peer port on the host."""

from __future__ import annotations

from typing import Any

from experiments.docker import DockerCluster

SECRET = "/var/lib/chaoslab-secrets/peer.secret"


def containers(cluster: DockerCluster) -> dict[str, Any]:
    """The project's running containers by compose service name."""
    found = cluster.client.containers.list(
        filters={"label": f"com.docker.compose.project={cluster.project}"}
    )
    return {c.labels["com.docker.compose.service"]: c for c in found}


class TestConfinement:
    def test_every_container_is_confined(self, cluster: DockerCluster) -> None:
        """Nodes and the proxy run as 10001, drop every capability, have memory and pid
        limits and a read-only root filesystem."""
        services = containers(cluster)
        names = ["toxiproxy", *(f"n{n}" for n in range(1, 6))]
        expected = {name: ("10001:10001", ["ALL"], True, True, True) for name in names}

        actual = {}
        for name in names:
            config = services[name].attrs
            host = config["HostConfig"]
            actual[name] = (
                config["Config"]["User"],
                host["CapDrop"],
                host["Memory"] > 0,
                (host.get("PidsLimit") or 0) > 0,
                host["ReadonlyRootfs"],
            )

        assert expected == actual

    def test_peer_secret_is_owner_only(self, cluster: DockerCluster) -> None:
        """The secret the init service wrote is 0600, owned by the node user, and never
        appears in a node's environment or log."""
        node = containers(cluster)["n1"]
        stat = node.exec_run(
            [
                "python3",
                "-c",
                f"import os; s = os.stat({SECRET!r}); print(oct(s.st_mode & 0o777), s.st_uid)",
            ]
        )
        secret = node.exec_run(["python3", "-c", f"print(open({SECRET!r}).read().strip())"])
        value = secret.output.decode().strip()
        environment = " ".join(node.attrs["Config"]["Env"])
        log = cluster.logs(1)

        assert (0, "0o600 10001") == (stat.exit_code, stat.output.decode().strip())
        assert (64, False, False) == (len(value), value in environment, value in log)

    def test_peer_listeners_are_not_published(self, cluster: DockerCluster) -> None:
        """Only the proxy publishes ports; no node port (client or peer) reaches the host."""
        services = containers(cluster)
        published = {
            name: [p for p, bound in (c.attrs["NetworkSettings"]["Ports"] or {}).items() if bound]
            for name, c in services.items()
            if name.startswith("n")
        }

        assert {f"n{n}": [] for n in range(1, 6)} == published

"""Drive a running compose cluster through the Docker API: find it, kill, stop, start,
pause and unpause node containers, read their logs, reach Toxiproxy and the nodes.

Rules: every Docker call goes through the ``docker`` SDK client given (or made from the
environment); containers are found by their compose labels (project and service), so the
driver works whichever compose (v1 or v2) started them. Nothing here runs compose itself
(``experiments.docker.project`` does). Waits are bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import structlog

from experiments.cluster import NodeReport
from experiments.docker.client import agreed_leader, cluster_status
from experiments.docker.compose import (
    NODE_LABEL,
    ROLE_LABEL,
    TOXIPROXY_API_PORT,
    TOXIPROXY_SERVICE,
)
from experiments.docker.errors import ClusterNotFound, DockerUnavailable, NodeNotFound
from experiments.docker.ports import host_address_map, host_port, published_tcp_ports
from proxy.control import ToxiproxyControl
from proxy.topology import DEFAULT_NODE_PORT, Placement, Topology

log = structlog.get_logger()

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def docker_client(timeout_s: float = 30.0) -> Any:
    """Return a Docker SDK client from the environment (DOCKER_HOST or the local socket).

    Raises:
        DockerUnavailable: when no engine answers.
    """
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except docker.errors.DockerException as exc:
        msg = f"no Docker engine answers ({exc}); start Docker or set DOCKER_HOST"
        raise DockerUnavailable(msg) from exc
    return client


def find_projects(client: Any) -> tuple[str, ...]:
    """Return the compose projects that have a chaoslab Toxiproxy container, sorted."""
    containers = client.containers.list(all=True, filters={"label": f"{ROLE_LABEL}=toxiproxy"})
    return tuple(sorted({c.labels.get(PROJECT_LABEL, "") for c in containers} - {""}))


class DockerCluster:
    """A chaoslab compose cluster, found by its project name.

    Args:
        project: the compose project name (None: the only chaoslab project running).
        client: a Docker SDK client (default: ``docker_client()``).
        host: the host address the compose file publishes ports on.

    Raises:
        DockerUnavailable: when no engine answers.
        ClusterNotFound: when no such project (or, with None, not exactly one) exists.
    """

    def __init__(
        self, project: str | None = None, *, client: Any = None, host: str = "127.0.0.1"
    ) -> None:
        self.client = client if client is not None else docker_client()
        self.host = host
        if project is None:
            found = find_projects(self.client)
            if len(found) != 1:
                shown = ", ".join(found) or "none"
                msg = f"expected exactly one chaoslab compose project, found {shown}; name one"
                raise ClusterNotFound(msg)
            project = found[0]
        self.project = project
        if not self._containers():
            msg = f"no containers of compose project {project!r}; is the cluster up?"
            raise ClusterNotFound(msg)

    # ---- containers -------------------------------------------------------------

    def _containers(self, **labels: str) -> list[Any]:
        wanted = [f"{PROJECT_LABEL}={self.project}"]
        wanted += [f"{key}={value}" for key, value in labels.items()]
        result: list[Any] = self.client.containers.list(all=True, filters={"label": wanted})
        return result

    def _service(self, service: str) -> Any:
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"{PROJECT_LABEL}={self.project}", f"{SERVICE_LABEL}={service}"]},
        )
        if not found:
            msg = f"compose project {self.project!r} has no container for service {service!r}"
            raise NodeNotFound(msg)
        return found[0]

    @property
    def node_ids(self) -> tuple[int, ...]:
        """The node ids of the project's node containers, sorted."""
        nodes = self.client.containers.list(
            all=True, filters={"label": [f"{PROJECT_LABEL}={self.project}", f"{ROLE_LABEL}=node"]}
        )
        return tuple(sorted(int(c.labels[NODE_LABEL]) for c in nodes))

    def node(self, node: int) -> Any:
        """Return the container of node ``node`` (fresh state).

        Raises:
            NodeNotFound: if the project has no such node.
        """
        return self._service(f"n{node}")

    def state(self, node: int) -> str:
        """Return the container's state: running, paused, exited, ..."""
        return str(self.node(node).status)

    def kill(self, node: int, signal: str = "SIGKILL") -> None:
        """Send ``signal`` (kill -9 by default) to node ``node``'s container."""
        log.info("docker.kill", project=self.project, node=node, signal=signal)
        self.node(node).kill(signal=signal)

    def stop(self, node: int, *, timeout_s: int = 10) -> None:
        """Stop node ``node`` gracefully (SIGTERM, then SIGKILL after ``timeout_s``)."""
        log.info("docker.stop", project=self.project, node=node)
        self.node(node).stop(timeout=timeout_s)

    def start(self, node: int) -> None:
        """Start node ``node``'s container again (same container, same data volume)."""
        log.info("docker.start", project=self.project, node=node)
        self.node(node).start()

    def pause(self, node: int) -> None:
        """Freeze every process of node ``node`` (cgroup freezer)."""
        log.info("docker.pause", project=self.project, node=node)
        self.node(node).pause()

    def unpause(self, node: int) -> None:
        """Thaw node ``node``."""
        log.info("docker.unpause", project=self.project, node=node)
        self.node(node).unpause()

    def logs(self, node: int, *, tail: int | None = None) -> str:
        """Return node ``node``'s log (stdout and stderr), the last ``tail`` lines if given."""
        raw = self.node(node).logs(stdout=True, stderr=True, tail="all" if tail is None else tail)
        return bytes(raw).decode("utf-8", errors="replace")

    # ---- addresses ----------------------------------------------------------------

    def _toxiproxy_ports(self) -> Any:
        container = self._service(TOXIPROXY_SERVICE)
        container.reload()
        return container.attrs["NetworkSettings"]["Ports"] or {}

    @property
    def toxiproxy_url(self) -> str:
        """The Toxiproxy API as published on the host, e.g. ``http://127.0.0.1:8474``."""
        port = host_port(self._toxiproxy_ports(), TOXIPROXY_API_PORT, where="toxiproxy")
        return f"http://{self.host}:{port}"

    def control(self, *, timeout_s: float = 5.0) -> ToxiproxyControl:
        """Return a Toxiproxy control client for this cluster's proxies."""
        return ToxiproxyControl(self.toxiproxy_url, timeout_s=timeout_s)

    def topology(self) -> Topology:
        """Return the cluster's topology (compose placement); the base port is read from
        the client proxies the Toxiproxy container publishes (``base + i`` for node i)."""
        published = [p for p in published_tcp_ports(self._toxiproxy_ports()) if p != 8474]
        nodes = len(self.node_ids)
        base = min(published) - 1 if published else 20000
        return Topology(
            nodes=nodes,
            base_port=base,
            placement=Placement.compose(node_port=DEFAULT_NODE_PORT),
        )

    def address_map(self) -> dict[str, str]:
        """Map the client addresses nodes give out (``toxiproxy:20003``) to host addresses."""
        return host_address_map(self.topology().client_addresses(), self._toxiproxy_ports())

    def client_addresses(self) -> dict[int, str]:
        """Node id → the host address of its client proxy."""
        mapped = self.address_map()
        return {n: mapped[a] for n, a in self.topology().client_addresses().items()}

    # ---- waiting ----------------------------------------------------------------------

    def wait_until(
        self,
        condition: Callable[[], bool],
        *,
        timeout_s: float,
        interval_s: float = 0.2,
        what: str = "condition",
    ) -> None:
        """Poll ``condition`` until it holds, at most ``timeout_s``.

        Raises:
            TimeoutError: naming ``what`` when it never held.
        """
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() >= deadline:
                msg = f"{self.project}: {what} did not hold within {timeout_s:.0f} s"
                raise TimeoutError(msg)
            time.sleep(interval_s)

    def status(self, *, timeout_s: float = 2.0) -> list[NodeReport]:
        """Ask every node for its status through its client proxy (see ``cluster_status``)."""
        return cluster_status(self.client_addresses(), self.address_map(), timeout_s=timeout_s)

    def wait_for_leader(self, *, timeout_s: float = 30.0, interval_s: float = 0.2) -> int:
        """Wait until a majority agrees on one leader; return its id.

        Raises:
            TimeoutError: when no leader is agreed within ``timeout_s``.
        """
        found: list[int] = []

        def elected() -> bool:
            leader = agreed_leader(self.status(timeout_s=1.0))
            if leader is not None:
                found.append(leader)
            return leader is not None

        self.wait_until(elected, timeout_s=timeout_s, interval_s=interval_s, what="a leader")
        return found[-1]

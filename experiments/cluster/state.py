"""The record of a local cluster: ``DATA_DIR/cluster.json``, so any terminal can manage it.

Rules: pydantic models plus reading and (atomically) writing that one file; no
processes are touched here.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from nodes.errors import NodeError

STATE_FILE = "cluster.json"
STATE_VERSION = 1


class ClusterError(NodeError):
    """A local cluster cannot be managed as asked (the message says why and where)."""


class NoCluster(ClusterError):
    """There is no cluster record in the given data directory (the caller's input)."""


class ProcessEntry(BaseModel):
    """A managed process: how to start it again and its current pid."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str]
    log: str
    pid: int | None = None


class NodeEntry(ProcessEntry):
    """One node process."""

    id: int
    listen: str
    """Where the node itself listens."""
    client_address: str
    """Where clients reach it (its client proxy with ``--with-proxy``)."""
    data_dir: str


class ProxyEntry(ProcessEntry):
    """The embedded Toxiproxy server."""

    api_port: int
    base_port: int
    node_port: int
    """Topology ``node_port``: node i listens on ``node_port + i``."""


class ClusterState(BaseModel):
    """Everything needed to manage the cluster from another process."""

    model_config = ConfigDict(extra="forbid")

    version: int = STATE_VERSION
    nodes: list[NodeEntry]
    proxy: ProxyEntry | None = None

    def node(self, node_id: int) -> NodeEntry:
        """Return node ``node_id``.

        Raises:
            ClusterError: no such node.
        """
        for entry in self.nodes:
            if entry.id == node_id:
                return entry
        ids = ", ".join(str(n.id) for n in self.nodes)
        msg = f"node {node_id} is not in this cluster (ids: {ids})"
        raise ClusterError(msg)

    @property
    def client_addresses(self) -> list[str]:
        """Every node's client address, by id."""
        return [n.client_address for n in sorted(self.nodes, key=lambda n: n.id)]

    @property
    def proxy_url(self) -> str | None:
        """The Toxiproxy API URL, when the cluster runs behind the embedded proxy."""
        return None if self.proxy is None else f"http://127.0.0.1:{self.proxy.api_port}"


def state_path(data_dir: Path) -> Path:
    """Where the record of the cluster in ``data_dir`` lives."""
    return data_dir / STATE_FILE


def load_state(data_dir: Path) -> ClusterState:
    """Read the cluster record.

    Raises:
        NoCluster: there is none.
        ClusterError: it is unreadable or not a cluster record.
    """
    path = state_path(data_dir)
    try:
        raw = path.read_text()
    except FileNotFoundError:
        msg = f"no cluster in {data_dir} ({path} is missing); start one with `chaoslab cluster up`"
        raise NoCluster(msg) from None
    except OSError as exc:
        msg = f"cannot read {path}: {exc.strerror or exc}"
        raise ClusterError(msg) from None
    try:
        return ClusterState.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        msg = f"{path} is not a chaoslab cluster record: {str(exc).splitlines()[0]}"
        raise ClusterError(msg) from None


def save_state(data_dir: Path, state: ClusterState) -> None:
    """Write the cluster record atomically (write a temporary file, then rename)."""
    path = state_path(data_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state.model_dump(), indent=2) + "\n")
    tmp.replace(path)

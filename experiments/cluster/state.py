"""The record of a local cluster: ``DIR/cluster.json``, so any terminal can manage it.

Rules: pydantic models plus reading and (atomically) writing that one file; no
processes are touched here. The record holds what another terminal needs to undo
anything started from this one: process ids, paused nodes, active faults (and the pid
of a loss flapper). It never holds the peer secret, only the path of its file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from experiments.errors import BackendFailure, BadInput

STATE_FILE = "cluster.json"
STATE_VERSION = 2
"""Version 2 adds peer listeners, the cluster id and secret, paused nodes, the proxy kind
and active faults; a version-1 record still loads (with none of them)."""
ProxyKind = Literal["embedded", "server", "external"]


class ClusterError(BackendFailure):
    """A local cluster cannot be managed as asked (the message says why and where)."""


class NoCluster(ClusterError, BadInput):
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
    """The node's own client listener (Kv, Admin)."""
    peer_listen: str = ""
    """The node's own peer listener (Raft peers only)."""
    client_address: str
    """Where clients reach it (its client proxy with a proxy)."""
    data_dir: str
    paused: bool = False
    """Stopped with SIGSTOP by ``cluster pause`` (until ``resume``)."""


class ProxyEntry(ProcessEntry):
    """The Toxiproxy server the links cross: started here (embedded or a real
    ``toxiproxy-server``) or already running (external: no process of ours)."""

    kind: ProxyKind = "embedded"
    api_port: int
    base_port: int
    node_port: int
    """Topology ``node_port``: node i listens on ``node_port + i`` (peers on + 100)."""
    url: str = ""
    """The API URL (every kind; external ones may be on another port than ``api_port``)."""


class FaultEntry(BaseModel):
    """A fault started from the CLI and not yet healed."""

    model_config = ConfigDict(extra="forbid")

    f: str
    description: str
    value: dict[str, Any] = Field(default_factory=dict)
    started_at: float
    """Unix time it started."""
    pid: int | None = None
    """The loss flapper process, for faults that need one."""
    argv: list[str] = Field(default_factory=list)


class ClusterState(BaseModel):
    """Everything needed to manage the cluster from another process."""

    model_config = ConfigDict(extra="forbid")

    version: int = STATE_VERSION
    cluster_id: str = ""
    peer_secret_file: str = ""
    nodes: list[NodeEntry]
    proxy: ProxyEntry | None = None
    faults: list[FaultEntry] = Field(default_factory=list)

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
        """The Toxiproxy API URL, when the cluster runs behind a proxy."""
        if self.proxy is None:
            return None
        return self.proxy.url or f"http://127.0.0.1:{self.proxy.api_port}"


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
    """Write the cluster record atomically (write a temporary file, then rename).

    Raises:
        ClusterError: the directory is not writable.
    """
    path = state_path(data_dir)
    tmp = path.with_suffix(".json.tmp")
    try:
        tmp.write_text(json.dumps(state.model_dump(), indent=2) + "\n")
        tmp.replace(path)
    except OSError as exc:
        msg = f"cannot write {path}: {exc.strerror or exc}"
        raise ClusterError(msg) from None

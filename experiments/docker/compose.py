"""The docker-compose file of an N-node cluster behind Toxiproxy, generated from the topology.

Rules: pure values and text, no IO. ``render_compose(ComposeSettings())`` is exactly the
committed top-level ``docker-compose.yml`` (a test keeps them equal); other sizes come from
``chaoslab docker compose-file --nodes N``.

What the file encodes:
    * services ``toxiproxy``, ``peer-secret`` (a one-shot init), ``n1``..``nN`` and
      ``runner`` (profile ``runner``);
    * every node serves clients on ``node_port`` and peers on ``node_port + 100``; its peer
      addresses are the proxies of its outgoing links (which forward to the peers' peer
      listeners) and its client addresses the client proxies (``proxy.topology`` in
      compose mode), so every byte between nodes, and from clients, crosses Toxiproxy;
    * ``peer-secret`` writes a fresh peer secret (``chaoslab admin init-secret``, mode 0600,
      never printed) to the ``peer-secret`` volume the first time the project comes up;
      nodes start after it succeeded and read it (read-only) with ``CHAOSLAB_PEER_SECRET_FILE``;
      ``down -v`` removes it with the data. The cluster id is ``$CHAOSLAB_CLUSTER_ID``
      (default ``chaoslab``);
    * proxies are created at start from a mounted JSON file (``--config``), never by a later
      POST /populate (Toxiproxy reports ``0.0.0.0:N`` as ``[::]:N`` and would re-create them);
    * one command line for both Toxiproxy images: Go's flag package (Shopify's server) and
      click (``chaoslab proxy serve``, the entrypoint of ``chaoslab/toxiproxy``) both accept
      ``--name=value``, so ``command`` is ``--host=0.0.0.0 --port=8474 --config=FILE``;
    * ports are published on 127.0.0.1 only (API and client proxies; an empty ``*_PORT``
      variable picks a free host port); every service runs unprivileged (a non-root user,
      no capabilities, no new privileges), with memory and pid limits; nodes and the proxy
      have a read-only root filesystem (nodes write only to their named data volume).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from proxy.topology import (
    DEFAULT_BASE_PORT,
    DEFAULT_NODE_PORT,
    PEER_PORT_OFFSET,
    Placement,
    Topology,
    node_name,
)

TOXIPROXY_SERVICE = "toxiproxy"
RUNNER_SERVICE = "runner"
SECRET_SERVICE = "peer-secret"
SECRET_VOLUME = "peer-secret"
SECRET_MOUNT = "/var/lib/chaoslab-secrets"
SECRET_FILE = f"{SECRET_MOUNT}/peer.secret"
CLUSTER_ID_VARIABLE = "CHAOSLAB_CLUSTER_ID"
UNPRIVILEGED_USER = "10001:10001"
"""The uid:gid every service runs as (the node image's ``chaoslab`` user)."""
NODE_MEMORY = "768m"
PROXY_MEMORY = "256m"
RUNNER_MEMORY = "1g"
PIDS_LIMIT = 256
TOXIPROXY_API_PORT = 8474
DATA_MOUNT = "/var/lib/chaoslab"
CONFIG_MOUNT = "/config/toxiproxy.json"
ROLE_LABEL = "io.chaoslab.role"
NODE_LABEL = "io.chaoslab.node"
DEFAULT_TOXIPROXY_IMAGE = "ghcr.io/shopify/toxiproxy:2.12.0"
DEFAULT_NODE_IMAGE = "chaoslab/node:local"
EMBEDDED_PROXY_IMAGE = "chaoslab/toxiproxy:local"
API_PORT_VARIABLE = "CHAOSLAB_API_PORT"
CONSISTENCY_VARIABLE = "CHAOSLAB_CONSISTENCY"
FAILPOINTS_VARIABLE = "CHAOSLAB_FAILPOINTS"


def client_port_variable(node: int) -> str:
    """Return the variable naming the host port of ``client_n{node}``: ``CHAOSLAB_N3_PORT``."""
    return f"CHAOSLAB_N{node}_PORT"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComposeSettings:
    """What varies between compose files; the defaults give the committed one.

    Attributes:
        nodes: cluster size (1 to 99; 5 in the committed file).
        base_port: proxy ports are ``base_port + 10 * src + dst`` (``proxy.topology``).
        node_port: the port every node serves clients on inside its container (peers on
            ``node_port + 100``).
        context: the build context, relative to the compose file (the repository root).
        toxiproxy_config: the proxies' JSON file, relative to the compose file.
        tick_ms: the nodes' Raft tick. Containers on a shared host are scheduled less
            promptly than local processes and every message crosses a proxy, so the
            default is 50 ms (election timeout 15 ticks = 0.75-1.5 s, heartbeat 150 ms)
            rather than the 10 ms of local clusters, which churned leaders here.
    """

    nodes: int = 5
    base_port: int = DEFAULT_BASE_PORT
    node_port: int = DEFAULT_NODE_PORT
    context: str = "."
    toxiproxy_config: str = "./nodes/docker/toxiproxy.json"
    tick_ms: int = 50

    def topology(self) -> Topology:
        """Return the cluster's topology in compose mode.

        Raises:
            TopologyError: for a size or ports the topology cannot have.
        """
        placement = Placement.compose(proxy_service=TOXIPROXY_SERVICE, node_port=self.node_port)
        return Topology(nodes=self.nodes, base_port=self.base_port, placement=placement)


def _address_map(addresses: dict[int, str]) -> str:
    return ",".join(f"{node}={address}" for node, address in sorted(addresses.items()))


def _build(settings: ComposeSettings) -> dict[str, Any]:
    return {
        "context": settings.context,
        "dockerfile": "nodes/Dockerfile",
        "target": "node",
        "args": {"BASE_IMAGE": "${CHAOSLAB_BASE_IMAGE:-python:3.11-slim}"},
    }


def _unprivileged(memory: str, *, read_only: bool) -> dict[str, Any]:
    """A non-root user, no capabilities, no privilege gain, bounded memory and processes,
    and (where the service writes only to volumes) a read-only root filesystem. Fresh
    lists every time: YAML would alias shared ones."""
    limits: dict[str, Any] = {
        "user": UNPRIVILEGED_USER,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": memory,
        "pids_limit": PIDS_LIMIT,
    }
    if read_only:
        limits |= {"read_only": True, "tmpfs": ["/tmp"]}
    return limits


def _toxiproxy(settings: ComposeSettings, topology: Topology) -> dict[str, Any]:
    ports = [f"127.0.0.1:${{{API_PORT_VARIABLE}-{TOXIPROXY_API_PORT}}}:{TOXIPROXY_API_PORT}"]
    for node in topology.node_ids:
        port = topology.client_proxy(node).port
        ports.append(f"127.0.0.1:${{{client_port_variable(node)}-{port}}}:{port}")
    return {
        "image": f"${{TOXIPROXY_IMAGE:-{DEFAULT_TOXIPROXY_IMAGE}}}",
        "command": [
            "--host=0.0.0.0",
            f"--port={TOXIPROXY_API_PORT}",
            f"--config={CONFIG_MOUNT}",
        ],
        "volumes": [f"{settings.toxiproxy_config}:{CONFIG_MOUNT}:ro"],
        "ports": ports,
        "labels": {ROLE_LABEL: "toxiproxy"},
        **_unprivileged(PROXY_MEMORY, read_only=True),
    }


def _peer_secret(settings: ComposeSettings) -> dict[str, Any]:
    return {
        "image": f"${{CHAOSLAB_IMAGE:-{DEFAULT_NODE_IMAGE}}}",
        "build": _build(settings),
        "command": ["admin", "init-secret", SECRET_FILE],
        "volumes": [f"{SECRET_VOLUME}:{SECRET_MOUNT}"],
        "labels": {ROLE_LABEL: "init"},
        "healthcheck": {"disable": True},
        "restart": "no",
        **_unprivileged(PROXY_MEMORY, read_only=True),
    }


def _node(settings: ComposeSettings, topology: Topology, node: int) -> dict[str, Any]:
    return {
        "image": f"${{CHAOSLAB_IMAGE:-{DEFAULT_NODE_IMAGE}}}",
        "build": _build(settings),
        "environment": {
            "CHAOSLAB_ID": str(node),
            "CHAOSLAB_LISTEN": f"0.0.0.0:{settings.node_port}",
            "CHAOSLAB_PEER_LISTEN": f"0.0.0.0:{settings.node_port + PEER_PORT_OFFSET}",
            "CHAOSLAB_PEERS": _address_map(topology.peer_addresses(node)),
            "CHAOSLAB_CLIENT_ADDRESSES": _address_map(topology.client_addresses()),
            "CHAOSLAB_CLUSTER_ID": f"${{{CLUSTER_ID_VARIABLE}:-chaoslab}}",
            "CHAOSLAB_PEER_SECRET_FILE": SECRET_FILE,
            "CHAOSLAB_DATA_DIR": f"{DATA_MOUNT}/data",
            "CHAOSLAB_TICK_MS": str(settings.tick_ms),
            # Followers forward writes to the leader over the peer link (so a client bound
            # to one node, as the experiment runner's are, stays on its side of a partition).
            "CHAOSLAB_FORWARD_WRITES": "${CHAOSLAB_FORWARD_WRITES:-true}",
            # cp (linearizable), or an UNSAFE mode for the CAP experiments: lease, stale, ap.
            CONSISTENCY_VARIABLE: f"${{{CONSISTENCY_VARIABLE}:-cp}}",
            # The authenticated admin failpoint call (clock and disk faults): off by default.
            FAILPOINTS_VARIABLE: f"${{{FAILPOINTS_VARIABLE}:-false}}",
            "CHAOSLAB_LOG_FORMAT": "json",
        },
        "volumes": [
            f"{node_name(node)}-data:{DATA_MOUNT}",
            f"{SECRET_VOLUME}:{SECRET_MOUNT}:ro",
        ],
        "depends_on": {
            TOXIPROXY_SERVICE: {"condition": "service_started"},
            SECRET_SERVICE: {"condition": "service_completed_successfully"},
        },
        "labels": {ROLE_LABEL: "node", NODE_LABEL: str(node)},
        "healthcheck": {
            # The lean probe (grpc and the stubs, ~0.3 s of CPU) rather than the chaoslab CLI
            # (~1 s): five nodes probe all the time. Still, keep probes sparse.
            "test": ["CMD", "python3", "-m", "nodes.rpc.healthcheck",
                     f"127.0.0.1:{settings.node_port}"],
            "interval": "${CHAOSLAB_HEALTH_INTERVAL:-5s}",
            "timeout": "5s",
            "retries": 3,
            "start_period": "60s",
        },
        "stop_grace_period": "10s",
        "init": True,
        **_unprivileged(NODE_MEMORY, read_only=True),
    }


def _runner(settings: ComposeSettings, topology: Topology) -> dict[str, Any]:
    return {
        "image": f"${{CHAOSLAB_IMAGE:-{DEFAULT_NODE_IMAGE}}}",
        "build": _build(settings),
        "profiles": [RUNNER_SERVICE],
        "environment": {
            "TOXIPROXY_URL": f"http://{TOXIPROXY_SERVICE}:{TOXIPROXY_API_PORT}",
        },
        "command": ["--help"],
        "depends_on": {
            node_name(node): {"condition": "service_healthy"} for node in topology.node_ids
        },
        "labels": {ROLE_LABEL: "runner"},
        "healthcheck": {"disable": True},
        "init": True,
        **_unprivileged(RUNNER_MEMORY, read_only=False),
    }


def compose_document(settings: ComposeSettings | None = None) -> dict[str, Any]:
    """Return the compose file as data (what ``yaml.safe_load`` of the rendered file gives).

    Args:
        settings: what varies; the defaults give the committed 5-node file.

    Returns:
        The document: ``services`` and ``volumes``.

    Raises:
        TopologyError: for a size or ports the topology cannot have.
    """
    settings = settings or ComposeSettings()
    topology = settings.topology()
    services: dict[str, Any] = {
        TOXIPROXY_SERVICE: _toxiproxy(settings, topology),
        SECRET_SERVICE: _peer_secret(settings),
    }
    for node in topology.node_ids:
        services[node_name(node)] = _node(settings, topology, node)
    services[RUNNER_SERVICE] = _runner(settings, topology)
    volumes: dict[str, Any] = {f"{node_name(node)}-data": {} for node in topology.node_ids}
    volumes[SECRET_VOLUME] = {}
    return {"services": services, "volumes": volumes}


_HEADER = """\
# chaoslab: a {nodes}-node Raft KV cluster in which every link crosses Toxiproxy.
# GENERATED by `chaoslab docker compose-file --nodes {nodes}` (experiments/docker/compose.py):
# edit the generator, not this file; a test keeps the two equal.
#
#   docker compose up -d        (or docker-compose up -d: Compose v1 reads this file too)
#   docker compose run --rm runner kv put x 1 --address toxiproxy:{first_client}
#   chaoslab docker status      (from the host: roles, terms, leader)
#   docker compose down -v      (removes the containers, the network and the data volumes)
#
# Without a registry: build the images first (nodes/docker/build-images) and run the embedded
# Toxiproxy-compatible server, TOXIPROXY_IMAGE={embedded}.
# Both Toxiproxy images take the same `command`: Shopify's server parses Go flags, the
# embedded one click options, and both accept --name=value.
#
# Environment:
#   TOXIPROXY_IMAGE      default {toxiproxy}
#   CHAOSLAB_IMAGE       default {node}
#   CHAOSLAB_BASE_IMAGE  build argument, default python:3.11-slim
#   {api}    host port of the Toxiproxy API, default {api_port}
#   CHAOSLAB_N<i>_PORT   host port of node i's client proxy, default {base} + i
#   CHAOSLAB_CLUSTER_ID  the cluster's id in every peer call, default chaoslab
#   CHAOSLAB_HEALTH_INTERVAL  nodes' healthcheck interval, default 5s
#   CHAOSLAB_FORWARD_WRITES   followers forward writes to the leader, default true
#   CHAOSLAB_CONSISTENCY  cp (default), or UNSAFE for the CAP experiments: lease, stale, ap
#   CHAOSLAB_FAILPOINTS   true: nodes accept the authenticated failpoint call (clock, disk)
# An empty port variable lets Docker pick a free port. Ports are published on 127.0.0.1 only.
# Peers authenticate with a secret the peer-secret service writes to the peer-secret volume
# on the first `up` (mode 0600, never printed); `down -v` deletes it with the data.
# Proxies: {config}, written by
#   chaoslab proxy config --nodes {nodes} --mode compose --out {config}
"""


def render_compose(settings: ComposeSettings | None = None) -> str:
    """Return the compose file's text: a header explaining it, then the YAML.

    Args:
        settings: what varies; the defaults give the committed 5-node file.

    Returns:
        The text, ending in a newline.

    Raises:
        TopologyError: for a size or ports the topology cannot have.
    """
    settings = settings or ComposeSettings()
    document = compose_document(settings)
    header = _HEADER.format(
        nodes=settings.nodes,
        embedded=EMBEDDED_PROXY_IMAGE,
        toxiproxy=DEFAULT_TOXIPROXY_IMAGE,
        node=DEFAULT_NODE_IMAGE,
        api=API_PORT_VARIABLE,
        api_port=TOXIPROXY_API_PORT,
        base=settings.base_port,
        config=settings.toxiproxy_config,
        first_client=settings.topology().client_proxy(1).port,
    )
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)
    return header + body

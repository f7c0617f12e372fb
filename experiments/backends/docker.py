"""The ``docker`` backend: the docker-compose cluster, faults through its Toxiproxy and the
Docker API.

Rules: given a running project it uses it and leaves it running; otherwise it starts a
project of its own (a unique name, host ports chosen by Docker, the committed compose file
for 5 nodes or a generated one for other sizes) and removes it afterwards, volumes
included, unless asked to keep it. Nodes are found by their compose labels
(``experiments.docker.driver``); clients dial the published client proxies from the host.
Every fault is undone and ``stop`` heals the proxies and thaws paused containers first.
A fresh project runs the experiment's consistency mode (``CHAOSLAB_CONSISTENCY``) and, when
the experiment has in-node faults, failpoints (``CHAOSLAB_FAILPOINTS``); a given project
must already run them (its nodes say so in their status). In-node faults are the node's
own ``chaoslab admin failpoint`` run inside its container (``docker exec``), where the
cluster's secret is mounted: the secret never leaves the Docker volume.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import structlog

from experiments.backends.base import (
    ClientSettings,
    DirectedLink,
    NodeId,
    NodeState,
    Probes,
    Program,
    ResolvedFault,
)
from experiments.backends.loops import run_on_asyncio
from experiments.backends.real import (
    RealClient,
    heal_proxies,
    start_process_fault,
    start_proxy_fault,
    undo_fault,
)
from experiments.docker import (
    ComposeProject,
    DockerCluster,
    DockerDriverError,
    HostAsyncClient,
    docker_client,
)
from experiments.docker.compose import (
    API_PORT_VARIABLE,
    CONSISTENCY_VARIABLE,
    EMBEDDED_PROXY_IMAGE,
    FAILPOINTS_VARIABLE,
    SECRET_FILE,
    ComposeSettings,
    client_port_variable,
    render_compose,
)
from experiments.docker.project import COMPOSE_FILE
from experiments.errors import BackendFailure
from experiments.schedule import NemesisKind
from nodes.client import AsyncClient
from nodes.timing import DEFAULT_ELECTION_TICKS
from proxy.control import ToxiproxyControl
from proxy.topology import Topology, toxiproxy_config

_log = structlog.get_logger()
DEFAULT_TOXIPROXY = "ghcr.io/shopify/toxiproxy:2.12.0"
LEADER_TIMEOUT_S = 60.0


class DockerBackend:
    """A compose cluster (see the module docstring).

    Args:
        nodes: the cluster's size.
        project: an existing compose project to use (None: start a fresh one).
        keep: leave a project this backend started running afterwards.
        toxiproxy_image: the Toxiproxy image for a fresh project (default: Shopify's when
            it is present locally, else the embedded one built by build-images).
        consistency: the nodes' consistency mode.
        failpoints: the nodes must accept the failpoint call (in-node faults).
    """

    backend = "docker"
    poll_interval_s = 0.2
    election_timeout_s = 2 * DEFAULT_ELECTION_TICKS * ComposeSettings().tick_ms / 1000
    """The compose nodes' longest election timeout (their tick is the compose file's)."""

    def __init__(
        self,
        *,
        nodes: int,
        project: str | None = None,
        keep: bool = False,
        toxiproxy_image: str | None = None,
        consistency: str = "cp",
        failpoints: bool = False,
    ) -> None:
        self.node_ids: tuple[NodeId, ...] = tuple(range(1, nodes + 1))
        self.consistency = consistency
        self.failpoints = failpoints
        self.keep = keep
        self._own = project is None
        self._name = project or f"chaoslab-run-{uuid.uuid4().hex[:8]}"
        self._image = toxiproxy_image
        self._workdir: Path | None = None
        self._compose: ComposeProject | None = None
        self._cluster: DockerCluster | None = None
        self._control: ToxiproxyControl | None = None
        self._topology: Topology | None = None
        self._addresses: dict[NodeId, str] = {}
        self._address_map: dict[str, str] = {}
        self._paused: set[NodeId] = set()
        self._killed: set[NodeId] = set()
        self._faulted: set[NodeId] = set()

    # ---- lifecycle --------------------------------------------------------------

    def refusals(self, kinds: set[NemesisKind]) -> list[str]:
        """Simulator-only faults cannot happen to real containers."""
        return [f"{k.value}: simulator only" for k in kinds if k.simulator_only]

    @property
    def project(self) -> str:
        """The compose project's name (this backend's own, or the one it was given)."""
        return self._name

    @property
    def cluster(self) -> DockerCluster:
        """The driver (after ``start``)."""
        if self._cluster is None:
            msg = "the docker cluster is not started"
            raise BackendFailure(msg)
        return self._cluster

    def _compose_file(self) -> Path:
        """The committed file for 5 nodes; a generated one (with its proxies) otherwise."""
        if len(self.node_ids) == 5 and COMPOSE_FILE.exists():
            return COMPOSE_FILE
        root = COMPOSE_FILE.parent
        self._workdir = Path(tempfile.mkdtemp(prefix="chaoslab-compose-"))
        settings = ComposeSettings(
            nodes=len(self.node_ids),
            context=str(root),
            toxiproxy_config=str(self._workdir / "toxiproxy.json"),
        )
        (self._workdir / "toxiproxy.json").write_text(
            json.dumps(toxiproxy_config(settings.topology()), indent=2) + "\n"
        )
        path = self._workdir / "docker-compose.yml"
        path.write_text(render_compose(settings))
        return path

    def start(self) -> None:
        """Start (or find) the project and wait until it has a leader."""
        try:
            engine = docker_client(timeout_s=30)
            if self._own:
                image = self._image or self._proxy_image(engine)
                env = {
                    "TOXIPROXY_IMAGE": image,
                    API_PORT_VARIABLE: "",
                    "CHAOSLAB_HEALTH_INTERVAL": "30s",
                    CONSISTENCY_VARIABLE: self.consistency,
                    FAILPOINTS_VARIABLE: "true" if self.failpoints else "false",
                    **{client_port_variable(n): "" for n in self.node_ids},
                }
                self._compose = ComposeProject(name=self._name, file=self._compose_file(),
                                               env=env)
                self._compose.up(timeout_s=300)
            cluster = DockerCluster(self._name, client=engine)
            found = cluster.node_ids
            if found != self.node_ids:
                msg = (
                    f"compose project {self._name!r} has nodes {list(found)}, the experiment "
                    f"wants {len(self.node_ids)}"
                )
                raise BackendFailure(msg)
            if self.consistency == "ap":
                cluster.wait_until(
                    lambda: all(r.view is not None for r in cluster.status(timeout_s=1.0)),
                    timeout_s=LEADER_TIMEOUT_S, what="every ap node answering",
                )
            else:
                cluster.wait_for_leader(timeout_s=LEADER_TIMEOUT_S)
            self._check_nodes(cluster)
            self._cluster = cluster
            self._control = cluster.control(timeout_s=5.0)
            self._topology = cluster.topology()
            self._addresses = cluster.client_addresses()
            self._address_map = cluster.address_map()
        except (DockerDriverError, TimeoutError, BackendFailure) as exc:
            self.stop()  # a project of our own must not outlive the failure
            msg = f"the docker cluster {self._name!r} did not start: {exc}"
            raise BackendFailure(msg) from exc

    def _check_nodes(self, cluster: DockerCluster) -> None:
        """The nodes run the experiment's mode (and failpoints when it needs them).

        Raises:
            BackendFailure: a node runs another mode or refuses failpoints.
        """
        for report in cluster.status(timeout_s=2.0):
            view = report.view
            if view is None:
                continue
            if view.consistency != self.consistency:
                msg = (f"n{report.id} of project {self._name!r} runs consistency "
                       f"{view.consistency!r}, the experiment wants {self.consistency!r} "
                       f"(start it with {CONSISTENCY_VARIABLE}={self.consistency})")
                raise BackendFailure(msg)
            if self.failpoints and not view.failpoints:
                msg = (f"n{report.id} of project {self._name!r} refuses failpoints, and the "
                       f"experiment has in-node faults (start it with {FAILPOINTS_VARIABLE}=true)")
                raise BackendFailure(msg)

    @staticmethod
    def _proxy_image(engine: Any) -> str:
        """Shopify's image when it is here, else the embedded one (build-images makes it)."""
        for image in (DEFAULT_TOXIPROXY, EMBEDDED_PROXY_IMAGE):
            with contextlib.suppress(Exception):
                engine.images.get(image)
                return image
        msg = (
            f"neither {DEFAULT_TOXIPROXY} nor {EMBEDDED_PROXY_IMAGE} is present; build the "
            "images first: nodes/docker/build-images (or chaoslab docker build)"
        )
        raise BackendFailure(msg)

    def stop(self) -> None:
        """Heal and thaw; remove a project this backend started (unless kept)."""
        with contextlib.suppress(Exception):
            self.heal()
        if self._compose is not None and not self.keep:
            try:
                self._compose.down(volumes=True)
            except DockerDriverError as exc:
                _log.error("docker.down_failed", project=self._name, error=str(exc))
        if self._workdir is not None and not self.keep:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def execute(self, program: Program, *, limit_s: float) -> bool:
        """Run ``program`` on an asyncio loop (wall-clock time)."""
        return run_on_asyncio(program, limit_s=limit_s)

    def save_logs(self, directory: Path) -> None:
        """Each node container's log, and Toxiproxy's."""
        if self._cluster is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        for node in self.node_ids:
            with contextlib.suppress(Exception):
                (directory / f"n{node}.log").write_text(self._cluster.logs(node))

    # ---- status and process faults ---------------------------------------------------

    def status(self) -> list[NodeState]:
        """Every node's state, through its client proxy."""
        reports = self.cluster.status(timeout_s=0.5)
        return [r.state() for r in reports]

    def kill(self, node: NodeId) -> None:
        """SIGKILL the node's container."""
        if node in self._paused:
            self.resume(node)
        self._docker(lambda: self.cluster.kill(node), f"kill n{node}")
        self._killed.add(node)

    def restart(self, node: NodeId) -> None:
        """Start the killed container again (same volume)."""
        self._docker(lambda: self.cluster.start(node), f"start n{node}")
        self._killed.discard(node)

    def pause(self, node: NodeId) -> None:
        """Freeze the container (cgroup freezer)."""
        self._docker(lambda: self.cluster.pause(node), f"pause n{node}")
        self._paused.add(node)

    def resume(self, node: NodeId) -> None:
        """Thaw the container."""
        self._docker(lambda: self.cluster.unpause(node), f"unpause n{node}")
        self._paused.discard(node)

    @staticmethod
    def _docker(action: Any, what: str) -> None:
        try:
            action()
        except Exception as exc:  # the Docker SDK raises its own error types
            msg = f"docker could not {what}: {exc}"
            raise BackendFailure(msg) from exc

    # ---- faults ----------------------------------------------------------------------

    def apply(self, fault: ResolvedFault) -> Any:
        """Inject ``fault``; returns what ``undo`` needs."""
        process = start_process_fault(fault, kill=self.kill, pause=self.pause)
        if process is not None:
            return process
        if fault.kind.in_node:
            return self._in_node(fault)
        if self._control is None or self._topology is None:
            msg = "the docker cluster is not started"
            raise BackendFailure(msg)
        return start_proxy_fault(self._control, self._topology, fault)

    def _failpoint(self, node: NodeId, options: list[str]) -> None:
        """``chaoslab admin failpoint`` inside node ``node``'s container.

        Raises:
            BackendFailure: the exec failed or the node refused.
        """
        container = self.cluster.node(node)
        env = dict(item.partition("=")[::2] for item in container.attrs["Config"]["Env"])
        argv = ["chaoslab", "admin", "failpoint", f"127.0.0.1:{ComposeSettings().node_port}",
                "--secret-file", SECRET_FILE,
                "--cluster-id", env.get("CHAOSLAB_CLUSTER_ID", "chaoslab"), *options]
        try:
            code, output = container.exec_run(argv)
        except Exception as exc:  # the Docker SDK raises its own error types
            msg = f"docker could not run the failpoint call in n{node}: {exc}"
            raise BackendFailure(msg) from exc
        if code != 0:
            text = bytes(output or b"").decode(errors="replace").strip()[-300:]
            msg = f"n{node} refused the failpoint call: {text}"
            raise BackendFailure(msg)

    def _in_node(self, fault: ResolvedFault) -> tuple[str, tuple[NodeId, ...], bool]:
        """A clock or disk failpoint on every target; returns what ``undo`` needs."""
        spec = fault.spec
        kind = fault.kind
        if kind is NemesisKind.CLOCK_SKEW:
            options = ["--clock-rate", f"{spec.clock_rate:g}"]
        elif kind is NemesisKind.CLOCK_JUMP:
            options = [f"--clock-jump-ms={round(spec.clock_jump_ms)}"]
        elif kind is NemesisKind.DISK_SLOW:
            options = ["--disk", "slow", "--disk-delay-ms", str(round(spec.disk_delay_ms))]
        else:
            options = ["--disk", "full" if kind is NemesisKind.DISK_FULL else "error"]
        for node in fault.targets:
            self._failpoint(node, options)
            self._faulted.add(node)
        return (kind.category, fault.targets, kind.stops_node)

    def _undo_in_node(self, category: str, nodes: tuple[NodeId, ...], *, restart: bool) -> None:
        options = ["--clock-reset"] if category == "clock" else ["--disk", "none"]
        for node in nodes:
            if self.cluster.state(node) == "running":
                with contextlib.suppress(BackendFailure):
                    self._failpoint(node, options)
            elif restart and node not in self._killed:
                self.restart(node)
            self._faulted.discard(node)

    def undo(self, handle: Any) -> None:
        """Undo one fault."""
        undo_fault(handle, in_node=self._undo_in_node, restart=self.restart,
                   resume=self.resume)

    def heal(self) -> None:
        """Restore every link, thaw paused containers, start killed ones."""
        if self._control is not None and self._topology is not None:
            heal_proxies(self._control, self._topology)
        for node in sorted(self._paused):
            with contextlib.suppress(BackendFailure):
                self.resume(node)
        for node in sorted(self._killed):
            with contextlib.suppress(BackendFailure):
                self.restart(node)
        if self._faulted and self._cluster is not None:
            faulted = tuple(sorted(self._faulted))
            with contextlib.suppress(BackendFailure):
                self._undo_in_node("clock", faulted, restart=False)
            with contextlib.suppress(BackendFailure):
                self._undo_in_node("disk", faulted, restart=True)

    def probe(self, links: list[DirectedLink]) -> Probes:
        """Link proxies live inside the compose network, unpublished: no probe from here."""
        return {}

    # ---- clients -----------------------------------------------------------------------

    def client(self, settings: ClientSettings) -> RealClient:
        """A recorded client dialling the published client proxies."""
        mapping = self._address_map

        def make(addresses: list[str], **options: Any) -> AsyncClient:
            return HostAsyncClient(addresses, address_map=mapping, **options)

        return RealClient(self._addresses, settings, make)

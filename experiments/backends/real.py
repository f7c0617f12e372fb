"""What the two real backends (local processes, docker containers) share: reading every
node's status at once, recorded clients over the asyncio client, and faults through a
Toxiproxy server.

Rules: client side of ``nodes`` only (``nodes.client``); every call has a deadline. The
status probe runs its own small event loop thread, so it can be called from the runner's
worker threads. Proxy faults are planned by ``proxy.faults`` (pure) and applied by
``proxy.injection``, each with its own toxic tag so composed faults never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import structlog

from experiments.backends.base import ClientSettings, NodeId, NodeState, OpDone, ResolvedFault
from experiments.errors import BackendFailure
from experiments.schedule import NemesisKind
from experiments.workload import OpRequest
from nodes.client import AsyncClient, NodeView, Outcome
from proxy import faults as plans
from proxy import injection
from proxy.control import ProxyApiError, ToxiproxyControl
from proxy.faults import CutMode, FaultError
from proxy.injection import Fault
from proxy.topology import Link, Topology

_log = structlog.get_logger()
T = TypeVar("T")


class LoopThread:
    """A private asyncio loop on a daemon thread, for blocking callers."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run ``coroutine`` on the loop and wait (bounded) for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=timeout_s)

    def close(self) -> None:
        """Stop the loop and its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        with contextlib.suppress(RuntimeError):
            self.loop.close()


class StatusProbe:
    """Asks every node for its status at once (admin calls, one attempt each).

    Args:
        addresses: node id → where its admin service answers.
        timeout_s: each call's deadline (an unreachable node costs this once).
        client_factory: builds the asyncio client (docker maps in-network addresses).
    """

    def __init__(
        self,
        addresses: Mapping[NodeId, str],
        *,
        timeout_s: float = 0.5,
        client_factory: Callable[[list[str], float], AsyncClient] | None = None,
    ) -> None:
        self.addresses = dict(addresses)
        self.timeout_s = timeout_s
        self._thread = LoopThread("chaoslab-status")
        make = client_factory or (lambda addrs, t: AsyncClient(addrs, attempt_timeout_s=t))
        self._client = make(list(self.addresses.values()), timeout_s)

    def read(self) -> list[NodeState]:
        """Every node's state, by id."""

        async def ask() -> list[Outcome[NodeView | None]]:
            return list(
                await asyncio.gather(
                    *(self._client.status(self.addresses[n]) for n in sorted(self.addresses))
                )
            )

        outcomes = self._thread.call(ask(), self.timeout_s * 4 + 1)
        return [
            NodeState.from_view(node, outcome.value, self.addresses[node])
            for node, outcome in zip(sorted(self.addresses), outcomes, strict=True)
        ]

    def close(self) -> None:
        """Close the client and stop the thread."""
        with contextlib.suppress(Exception):
            self._thread.call(self._client.close(), 5)
        self._thread.close()


class RealClient:
    """A recorded client process over ``AsyncClient`` (see ``Cluster.client``).

    Args:
        addresses: node id → client address (what the client dials).
        settings: the runner's wishes (home node, policy, ids).
        make: builds the ``AsyncClient`` from its arguments (docker maps addresses).
    """

    def __init__(
        self,
        addresses: Mapping[NodeId, str],
        settings: ClientSettings,
        make: Callable[..., AsyncClient] = AsyncClient,
    ) -> None:
        self.settings = settings
        home = addresses[settings.home]
        policy = settings.policy
        order = [home] if policy.routing == "home" else [
            home, *(a for n, a in sorted(addresses.items()) if n != settings.home)
        ]
        self._node_of = {a: n for n, a in addresses.items()}
        listener = settings.on_breaker
        retry = policy.retry
        self._client = make(
            order,
            timeout_s=retry.timeout_s,
            attempt_timeout_s=retry.attempt_timeout_s,
            backoff_base_s=retry.backoff_base_s,
            backoff_max_s=retry.backoff_max_s,
            seed=settings.seed,
            client_id=settings.client_id,
            routing=policy.routing,
            home=home,
            breaker=policy.breaker,
            on_breaker=None if listener is None else (
                lambda address, state, _now: listener(self._node_of.get(address, 0), state)
            ),
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def invoke(self, request: OpRequest, done: Callable[[OpDone], None]) -> None:
        """Start the operation as a task on the running loop."""
        task = asyncio.get_running_loop().create_task(self._run(request, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: OpRequest, done: Callable[[OpDone], None]) -> None:
        client = self._client
        outcome: Outcome[Any]
        if request.f == "read":
            outcome = await client.get(request.key)
        elif request.f == "write":
            outcome = await client.put(request.key, str(request.value))
        else:
            old, new = request.value
            outcome = await client.cas(request.key, None if old is None else str(old), str(new))
        node = self._node_of.get(outcome.node) if outcome.node else None
        done(OpDone(type=outcome.status, value=outcome.value, error=outcome.error, node=node))

    def close(self) -> None:
        """Cancel what is outstanding and close the channels (on the running loop)."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._client.close())


def _peer_links(topology: Topology) -> list[Link]:
    return list(topology.links)


def proxy_fault(topology: Topology, fault: ResolvedFault) -> plans.FaultPlan | plans.LossPlan:
    """The Toxiproxy plan of a network fault (partitions, latency, loss, bandwidth)."""
    spec = fault.spec
    tag = f"{spec.kind.value}-{fault.id}"
    try:
        if fault.grudge is not None:
            return plans.cut(
                topology,
                fault.grudge,
                mode=CutMode(spec.mode),
                f=spec.kind.value,
                description=fault.description,
                tag=tag,
            )
        links = _peer_links(topology)
        if spec.kind is NemesisKind.LATENCY:
            return plans.latency(topology, links, round(spec.latency_ms),
                                 round(spec.jitter_ms), tag=tag)
        if spec.kind is NemesisKind.LOSS:
            return plans.loss(topology, links, spec.loss, seed=fault.seed, tag=tag,
                              max_steps=100_000)
        if spec.kind is NemesisKind.BANDWIDTH:
            return plans.bandwidth(topology, links, spec.rate_kbps, tag=tag)
    except FaultError as exc:
        raise BackendFailure(f"{spec.kind.value}: {exc}") from exc
    msg = f"{spec.kind.value} is not a network fault"
    raise BackendFailure(msg)


def start_proxy_fault(
    control: ToxiproxyControl, topology: Topology, fault: ResolvedFault
) -> Fault:
    """Apply a network fault through Toxiproxy; returns the started fault (``undo()``).

    Raises:
        BackendFailure: the proxy server refused (nothing stays applied).
    """
    plan = proxy_fault(topology, fault)
    try:
        return injection.start(plan, control)
    except ProxyApiError as exc:
        msg = f"Toxiproxy at {control.url} refused {fault.kind.value}: {exc}"
        raise BackendFailure(msg) from exc


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""A gRPC peer's first bytes: the HTTP/2 preface and an empty SETTINGS frame; a node's
peer listener answers with its own SETTINGS (or closes a connection it will not serve)."""


def probe_address(address: str, timeout_s: float) -> float | None:
    """Round trip of an HTTP/2 preface to ``address`` (a link proxy), or None when no answer
    (not even a close) came within ``timeout_s``: the link is cut."""
    host, _, port = address.rpartition(":")
    started = time.monotonic()
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
            sock.settimeout(max(0.001, timeout_s - (time.monotonic() - started)))
            sock.sendall(HTTP2_PREFACE)
            sock.recv(1)  # a byte, or b"" when the far end closed: either way, it answered
    except (TimeoutError, ConnectionRefusedError, ConnectionResetError):
        return None
    except OSError:
        return None
    return time.monotonic() - started


def probe_links(
    topology: Topology, links: list[tuple[NodeId, NodeId]], *, timeout_s: float = 0.5
) -> dict[tuple[NodeId, NodeId], float | None]:
    """Probe each directed link through its proxy (local placement: reachable from here)."""
    return {
        (src, dst): probe_address(topology.link_proxy(Link(src=src, dst=dst)).address,
                                  timeout_s)
        for src, dst in links
    }


def start_process_fault(
    fault: ResolvedFault,
    *,
    kill: Callable[[NodeId], None],
    pause: Callable[[NodeId], None],
) -> tuple[str, NodeId] | None:
    """Kill or pause the fault's victim and return the handle ``undo_fault`` takes; None
    when ``fault`` is neither (the caller injects it otherwise)."""
    if fault.kind is NemesisKind.KILL:
        (victim,) = fault.targets
        kill(victim)
        return ("kill", victim)
    if fault.kind is NemesisKind.PAUSE:
        (victim,) = fault.targets
        pause(victim)
        return ("pause", victim)
    return None


def undo_fault(
    handle: Any,
    *,
    in_node: Callable[..., None],
    restart: Callable[[NodeId], None],
    resume: Callable[[NodeId], None],
) -> None:
    """Undo what a real backend's ``apply`` returned: an in-node fault
    ``(category, nodes, restart)``, a process fault ``("kill" | "pause", node)``, or a
    started proxy fault (it undoes itself)."""
    if isinstance(handle, tuple) and len(handle) == 3:
        category, nodes, restart_stopped = handle
        in_node(category, nodes, restart=restart_stopped)
        return
    if isinstance(handle, tuple):
        action, node = handle
        if action == "kill":
            restart(node)
        else:
            resume(node)
        return
    handle.undo()


def heal_proxies(control: ToxiproxyControl, topology: Topology) -> None:
    """Remove every toxic and enable every proxy of the topology (the safety net)."""
    try:
        injection.heal(control, topology)
    except ProxyApiError as exc:
        _log.error("backend.heal_failed", url=control.url, error=str(exc))

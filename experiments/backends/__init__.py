"""Backends: the seam between the runner and a cluster (``base``) and its three
implementations, ``sim``, ``local`` and ``docker``.

Rules: this module only builds backends from an experiment and says what a backend
cannot do (``refusals``), before anything is started. Implementations are imported
lazily: ``sim`` must not pay for Docker, nor ``local`` for the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from experiments.backends.base import Cluster
from experiments.errors import BadInput
from experiments.spec.model import Experiment, RandomNemesis
from experiments.stores.base import fault_refusals
from experiments.stores.load import load_store
from experiments.stores.names import DEFAULT_STORE

BACKENDS: Final = ("sim", "local", "docker")
REAL_NODE_BUGS: Final[dict[str, dict[str, Any]]] = {
    "leader-reads-without-readindex": {"unsafe": ("leader-reads-without-readindex",)},
    "no-session-dedupe": {"unsafe": ("no-session-dedupe",)},
    "commit-prior-term": {"unsafe": ("commit-prior-term",)},
    "unsynced-storage": {"sync": "never"},
}
"""The seeded bugs a real node can run (``chaoslab node --unsafe`` / ``--sync never``), as
local-cluster options; ``votes-not-persisted`` needs the simulator's storage."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendOptions:
    """Backend settings that are not part of the experiment (command-line options)."""

    keep: bool = False
    """Keep a real backend's cluster directory after the run."""
    local: dict[str, Any] = field(default_factory=dict)
    """More ``UpOptions`` for the local cluster (a real Toxiproxy, a port base)."""
    docker_project: str | None = None
    """The compose project to use (docker)."""
    data_dir: Path | None = None


def _kinds(experiment: Experiment) -> set[Any]:
    nemesis = experiment.nemesis
    if isinstance(nemesis, RandomNemesis):
        return set(nemesis.random)
    return {step.fault for step in nemesis}


def refusals(backend: str, experiment: Experiment) -> list[str]:
    """Why ``backend`` cannot run ``experiment`` (one line each; empty: it can)."""
    if backend not in BACKENDS:
        return [f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}"]
    problems = []
    cluster = experiment.cluster
    kinds = _kinds(experiment)
    if cluster.store != DEFAULT_STORE:
        return _store_refusals(backend, experiment, kinds)
    if cluster.consistency == "ap":
        problems += [
            f"nemesis {kind.value}: aims at Raft's protocol moments, and the ap mode runs no "
            "Raft (cluster.consistency: ap)"
            for kind in sorted(kinds, key=lambda k: k.value) if kind.simulator_only
        ]
        if cluster.unsafe is not None:
            problems.append(f"cluster.unsafe {cluster.unsafe!r}: the seeded bugs live in the "
                            "Raft path; the ap mode runs no Raft")
    if backend != "sim":
        problems += [
            f"nemesis {kind.value}: only the simulator can aim a fault at a protocol moment; "
            f"the {backend} backend cannot (run it with --backend sim)"
            for kind in sorted(kinds, key=lambda k: k.value)
            if kind.simulator_only
        ]
    elif any(kind.value == "bandwidth" for kind in kinds):
        problems.append("nemesis bandwidth: the simulator has no bandwidth model "
                        "(use --backend local or docker)")
    if cluster.unsafe is not None:
        from experiments.sim.bugs import BUGS  # noqa: PLC0415 - imported lazily on purpose

        if cluster.unsafe not in BUGS:
            problems.append(
                f"cluster.unsafe {cluster.unsafe!r}: no such seeded bug; known: "
                + ", ".join(sorted(BUGS))
            )
        elif backend == "docker":
            problems.append(
                f"cluster.unsafe {cluster.unsafe!r}: seeded bugs run on the sim and local "
                "backends (the compose cluster's nodes are built safe)"
            )
        elif backend == "local" and cluster.unsafe not in REAL_NODE_BUGS:
            problems.append(
                f"cluster.unsafe {cluster.unsafe!r}: only the simulator can run this bug "
                f"(real nodes run {', '.join(sorted(REAL_NODE_BUGS))})"
            )
    return problems


def _store_refusals(backend: str, experiment: Experiment, kinds: set[Any]) -> list[str]:
    """Why a process store (``cluster.store`` other than chaoslab) cannot run here."""
    cluster = experiment.cluster
    try:
        store = load_store(cluster.store)
    except BadInput as exc:
        return [str(exc)]
    problems = []
    if backend != "local":
        problems.append(
            f"cluster.store {cluster.store}: stores other than chaoslab run on the local "
            f"backend (use --backend local), not {backend}"
        )
    if cluster.consistency not in store.consistency_modes:
        offered = "; ".join(f"{m}: {what}" for m, what in store.consistency_modes.items())
        problems.append(
            f"cluster.consistency {cluster.consistency}: the {store.name} store offers {offered}"
        )
    if cluster.unsafe is not None:
        problems.append(
            f"cluster.unsafe {cluster.unsafe!r}: seeded bugs are chaoslab's own; the "
            f"{store.name} store runs as it is"
        )
    problems += fault_refusals(store.name, kinds)
    return problems


def open_backend(
    backend: str, experiment: Experiment, seed: int, options: BackendOptions | None = None
) -> Cluster:
    """Build (not start) the backend for one run.

    Raises:
        BadInput: the backend cannot run this experiment (``refusals``).
    """
    problems = refusals(backend, experiment)
    if problems:
        raise BadInput("; ".join(problems))
    options = options or BackendOptions()
    cluster = experiment.cluster
    timing = cluster.timing
    if cluster.store != DEFAULT_STORE:
        from experiments.backends.stores import StoreLocalBackend  # noqa: PLC0415 - imported lazily on purpose
        from experiments.stores.base import StoreTiming  # noqa: PLC0415 - imported lazily on purpose

        server = (options.local or {}).get("toxiproxy_server")
        return StoreLocalBackend(
            load_store(cluster.store),
            nodes=cluster.nodes,
            timing=StoreTiming(
                tick_ms=max(1, round(timing.tick * 1000)),
                election_ticks=timing.election_ticks,
                heartbeat_ticks=timing.heartbeat_ticks,
            ),
            consistency=cluster.consistency,
            data_dir=options.data_dir,
            keep=options.keep,
            toxiproxy_server=None if server is None else str(server),
        )
    if backend == "sim":
        from experiments.backends.sim import SimBackend  # noqa: PLC0415 - imported lazily on purpose
        from experiments.sim.bugs import BUGS  # noqa: PLC0415 - imported lazily on purpose
        from experiments.sim.cluster import SimTiming  # noqa: PLC0415 - imported lazily on purpose

        variant = BUGS[cluster.unsafe].variant if cluster.unsafe else None
        return SimBackend(
            cluster.nodes,
            seed,
            timing=SimTiming(
                tick_ms=max(1, round(timing.tick * 1000)),
                election_tick=timing.election_ticks,
                heartbeat_tick=timing.heartbeat_ticks,
            ),
            variant=variant,
            forward=experiment.workload.routing == "home",
            consistency=cluster.consistency,
        )
    if backend == "local":
        from experiments.backends.local import LocalBackend, LocalOptions  # noqa: PLC0415 - imported lazily on purpose

        return LocalBackend(
            LocalOptions(
                nodes=cluster.nodes,
                tick_ms=max(1, round(timing.tick * 1000)),
                election_tick=timing.election_ticks,
                heartbeat_tick=timing.heartbeat_ticks,
                data_dir=options.data_dir,
                keep=options.keep,
                consistency=cluster.consistency,
                failpoints=any(kind.in_node for kind in _kinds(experiment)),
                extra={**(options.local or {}),
                       **(REAL_NODE_BUGS[cluster.unsafe] if cluster.unsafe else {})} or None,
            )
        )
    from experiments.backends.docker import DockerBackend  # noqa: PLC0415 - imported lazily on purpose

    return DockerBackend(
        nodes=cluster.nodes,
        project=options.docker_project,
        keep=options.keep,
        consistency=cluster.consistency,
        failpoints=any(kind.in_node for kind in _kinds(experiment)),
    )

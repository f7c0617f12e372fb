"""Carry out a fault ``Schedule`` on a ``SimCluster`` and record it in the history.

Rules: targets (the leader, a random minority) are chosen when a fault starts,
with the injected ``random.Random``; every fault is undone at its end; nemesis
operations go into the history as ``process: "nemesis"`` info ops, so reports
can shade fault windows and checkers ignore them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from experiments.schedule import FaultSpec, NemesisKind, Schedule
from experiments.sim.clients import HistoryRecorder
from experiments.sim.cluster import CrashPoint, SimCluster
from experiments.sim.events import NS_PER_MS, NS_PER_S
from proxy import grudge as grudges
from proxy.grudge import Grudge

Undo = Callable[[], None]

_CRASH_POINTS = tuple(CrashPoint)


class SimNemesis:
    """Schedules every fault of ``schedule`` on the cluster's clock."""

    def __init__(
        self,
        cluster: SimCluster,
        schedule: Schedule,
        rng: random.Random,
        history: HistoryRecorder,
    ) -> None:
        self.cluster = cluster
        self.schedule = schedule
        self.rng = rng
        self.history = history

    def start(self) -> None:
        """Put every fault window on the clock."""
        scheduler = self.cluster.scheduler
        for spec in self.schedule.faults:
            at = int(spec.at_s * NS_PER_S)
            scheduler.call_at(at, partial(self._begin, spec))

    def _begin(self, spec: FaultSpec) -> None:
        undo, value = self._apply(spec)
        self._record(f"start-{spec.kind.value}", value)
        end = int(spec.end_s * NS_PER_S)

        def finish() -> None:
            undo()
            self._record(f"stop-{spec.kind.value}", value)

        self.cluster.scheduler.call_at(end, finish)

    def _record(self, f: str, value: object) -> None:
        """An invoke and its info completion at the same instant, as Jepsen's nemesis does."""
        now = self.cluster.scheduler.now
        for type_ in ("invoke", "info"):
            self.history.add(process="nemesis", type=type_, f=f, value=value, time=now)

    # ---- the faults -------------------------------------------------------------

    def _victim(self) -> int:
        """The leader half the time (when there is one), else a random node."""
        leader = self.cluster.leader()
        if leader is not None and self.rng.random() < 0.5:
            return leader
        return self.rng.choice(self.cluster.voters)

    def _apply(self, spec: FaultSpec) -> tuple[Undo, object]:
        cluster = self.cluster
        network = cluster.network
        nodes = cluster.voters
        rng = self.rng
        if spec.kind is NemesisKind.PARTITION_LEADER_ROLLING:

            isolated = 0

            def cut_off(leader: int) -> None:
                nonlocal isolated
                if isolated == leader:
                    return  # still cut off, still appending
                isolated = leader
                network.grudge = grudges.isolate(leader, nodes)
                self._record("isolate-leader", f"n{leader}")

            def stop() -> None:
                cluster.leading_trap = None
                network.grudge = Grudge()

            cluster.leading_trap = cut_off
            return stop, "every new leader"
        if spec.kind.is_partition:
            grudge = self._grudge(spec.kind, nodes, rng)
            network.grudge = grudge

            def heal() -> None:
                network.grudge = Grudge()

            return heal, grudge.to_json()
        if spec.kind is NemesisKind.LOSS:
            before = network.default
            network.default = replace(before, drop=spec.loss)
            return (lambda: setattr(network, "default", before)), {"loss": spec.loss}
        if spec.kind is NemesisKind.LATENCY:
            before = network.default
            network.default = replace(
                before,
                latency=before.latency + int(spec.latency_ms * NS_PER_MS),
                jitter=before.jitter + int(spec.jitter_ms * NS_PER_MS),
            )
            value = {"latency_ms": spec.latency_ms, "jitter_ms": spec.jitter_ms}
            return (lambda: setattr(network, "default", before)), value
        if spec.kind is NemesisKind.RESTARTS:
            return self._restart_storm(spec), "random nodes"
        if spec.kind is NemesisKind.LEADER_CHURN:
            cluster.leading_trap = cluster.crash_and_restart
            return (lambda: setattr(cluster, "leading_trap", None)), "every leader"
        victim = self._victim()
        if spec.kind is NemesisKind.KILL:
            cluster.crash(victim)
            return (lambda: cluster.restart(victim)), f"n{victim}"
        cluster.pause(victim)
        return (lambda: cluster.resume(victim)), f"n{victim}"

    def _restart_storm(self, spec: FaultSpec) -> Undo:
        """Every 50-300 ms crash a random node (now, at one of its next disk writes, or
        at a protocol moment: see ``CrashPoint``) and restart it 1-30 ms later, until
        undone."""
        cluster = self.cluster
        scheduler = cluster.scheduler
        rng = self.rng
        end = int(spec.end_s * NS_PER_S)
        stopped = False

        def crash_one() -> None:
            if stopped or scheduler.now >= end:
                return
            victim = self._victim()
            draw = rng.random()
            if draw < 0.25:
                # At one of its next disk writes: a vote, an entry or a term durable,
                # what depends on it not yet sent.
                cluster.arm_crash(victim, rng.randint(1, 4))
            elif draw < 0.75:
                # At a protocol moment: a vote just granted, an append just
                # acknowledged, a leader's fresh entries durable but unsent.
                cluster.arm_crash(victim, rng.choice(_CRASH_POINTS))
            else:
                cluster.crash(victim)
                scheduler.call_later(
                    rng.randint(1, 30) * NS_PER_MS, lambda: cluster.restart(victim)
                )
            scheduler.call_later(rng.randint(50, 300) * NS_PER_MS, crash_one)

        crash_one()

        def stop() -> None:
            nonlocal stopped
            stopped = True
            for node in cluster.voters:
                cluster.restart(node)

        return stop

    def _grudge(self, kind: NemesisKind, nodes: tuple[int, ...], rng: random.Random) -> Grudge:
        if kind is NemesisKind.PARTITION_MAJORITY:
            return grudges.majority_minority(nodes, rng)
        if kind is NemesisKind.PARTITION_HALVES:
            return grudges.random_halves(nodes, rng)
        if kind is NemesisKind.PARTITION_BRIDGE:
            shuffled = list(nodes)
            rng.shuffle(shuffled)
            return grudges.bridge_of(shuffled)
        leader = self.cluster.leader() or rng.choice(nodes)
        if kind is NemesisKind.PARTITION_LEADER:
            return grudges.isolate(leader, nodes)
        # PARTITION_ONE_WAY: the leader still sends, but hears nobody.
        cut = Grudge()
        for other in nodes:
            if other != leader:
                cut = cut | grudges.one_way(other, leader)
        return cut

"""The node's asyncio loop driving a one-node replica in-process: commits, and fails stop
(a storage failure, a snapshot save that fails, a Ready loop or ticker that dies, a core
that finds its state impossible), never leaving a healthy-looking node behind."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest

import nodes.server.main as server_main
from nodes.kv import Ok, Put
from nodes.raft import (
    Entry,
    HardState,
    InvariantViolation,
    Message,
    MessageType,
    Ready,
    Role,
    Snapshot,
)
from nodes.replica import Applied, ProposalOutcome, Unknown
from nodes.rpc import chaoslab_pb2 as pb
from nodes.server import Node, NodeSettings, load_settings
from nodes.server.services import AdminService
from nodes.storage import MemoryStorage, StorageFailure


class FailingStorage(MemoryStorage):
    """Memory storage whose saves fail once ``broken`` is set (a dying disk)."""

    broken = False

    def save(self, *, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        if self.broken:
            msg = "fsync failed: EIO (simulated)"
            raise StorageFailure(msg)
        super().save(hard_state=hard_state, entries=entries)


class SnapshotFailingStorage(MemoryStorage):
    """Memory storage whose snapshot saves fail (the disk dies while compacting)."""

    def save_snapshot(self, snapshot: Snapshot) -> None:
        msg = "fsync failed: EIO (simulated) while saving a snapshot"
        raise StorageFailure(msg)


def _settings(tmp_path: Path, **extra: object) -> NodeSettings:
    return load_settings(
        {"id": 1, "listen": "127.0.0.1:1", "data_dir": str(tmp_path), "tick_ms": 5, **extra},
        env={},
    )


async def _health(node: Node) -> tuple[bool, str]:
    reply = await AdminService(node).Health(pb.HealthRequest(), None)  # type: ignore[arg-type]
    return reply.healthy, reply.reason


async def _stopped_by(node: Node, breakage: str) -> tuple[str | None, tuple[bool, str]]:
    """Break the running leader ``node`` one way, then wait for it to fail stop."""
    await _leader(node)
    replica = node.replica
    if breakage == "ready":

        def broken_ready() -> Ready:
            raise KeyError(2)  # what issue 11 saw: a lookup of progress that was gone

        replica.core.ready = broken_ready  # type: ignore[method-assign]
        node.propose(Put(key="k", value="v"))
    elif breakage == "tick":

        def broken_tick() -> None:
            raise RuntimeError("tick exploded")

        replica.tick = broken_tick  # type: ignore[method-assign]
    elif breakage == "step":

        def broken_step(message: Message) -> None:
            raise InvariantViolation("leader's entry 7 conflicts with our committed entry")

        replica.step = broken_step  # type: ignore[method-assign]
        node.step(Message(type=MessageType.APP, to=1, frm=2, term=1))
    await asyncio.wait_for(node.failed.wait(), 10)
    return node.failure, await _health(node)


async def _leader(node: Node) -> None:
    for _ in range(400):
        if node.replica.is_leader:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a one-node cluster never elected itself")


class TestNode:
    """One node, no peers: it elects itself and commits alone."""

    def test_put_commits(self, tmp_path: Path) -> None:
        """A proposal on the elected single node is applied with result Ok."""

        async def main() -> ProposalOutcome:
            node = Node(_settings(tmp_path), MemoryStorage(), random.Random(1))
            node.start()
            try:
                await _leader(node)
                return await asyncio.wait_for(node.propose(Put(key="k", value="v")), 10)
            finally:
                await node.stop()

        outcome = asyncio.run(main())

        assert Applied(result=Ok()) == outcome

    def test_storage_failure_stops_the_node(self, tmp_path: Path) -> None:
        """When saving fails, the node marks itself failed and waiting writes become Unknown."""
        storage = FailingStorage()

        async def main() -> tuple[ProposalOutcome, bool, str | None]:
            node = Node(_settings(tmp_path), storage, random.Random(2))
            node.start()
            try:
                await _leader(node)
                storage.broken = True
                future = node.propose(Put(key="k", value="v"))
                outcome = await asyncio.wait_for(future, 10)
                await asyncio.wait_for(node.failed.wait(), 10)
                return outcome, node.failed.is_set(), node.failure
            finally:
                await node.stop()

        outcome, failed, reason = asyncio.run(main())

        assert isinstance(outcome, Unknown)
        assert (True, True) == (failed, "EIO" in (reason or ""))

    def test_failing_snapshot_save_stops_the_node(self, tmp_path: Path) -> None:
        """A snapshot save is a disk write under the storage guard: failing, it stops the node."""

        async def main() -> str | None:
            settings = _settings(tmp_path, snapshot_every=2)
            node = Node(settings, SnapshotFailingStorage(), random.Random(3))
            node.start()
            try:
                await _leader(node)
                for i in range(3):
                    node.propose(Put(key="k", value=str(i)))
                await asyncio.wait_for(node.failed.wait(), 10)
                return node.failure
            finally:
                await node.stop()

        reason = asyncio.run(main())

        assert "while saving a snapshot" in (reason or "")


class TestFailStop:
    """Whatever dies inside, the node stops and says so; health never says healthy."""

    @pytest.mark.parametrize(
        ("breakage", "cause"),
        [
            ("ready", "the ready loop died: KeyError: 2"),
            ("tick", "the ticker died: RuntimeError: tick exploded"),
            ("step", "the raft core failed on a message from node 2"),
        ],
    )
    def test_node_stops_and_reports_unhealthy(
        self, tmp_path: Path, breakage: str, cause: str
    ) -> None:
        """A dying Ready loop, ticker or core step sets failed; health answers not healthy."""

        async def main() -> tuple[str | None, tuple[bool, str]]:
            node = Node(_settings(tmp_path), MemoryStorage(), random.Random(4))
            node.start()
            try:
                return await _stopped_by(node, breakage)
            finally:
                await node.stop()

        reason, (healthy, why) = asyncio.run(main())

        assert cause in (reason or "")
        assert (False, f"stopped: {reason}") == (healthy, why)

    def test_waiting_writes_get_an_honest_outcome(self, tmp_path: Path) -> None:
        """A write waiting when the Ready loop dies completes as Unknown, not never."""

        async def main() -> ProposalOutcome:
            node = Node(_settings(tmp_path), MemoryStorage(), random.Random(5))
            node.start()
            try:
                await _leader(node)

                def broken_ready() -> Ready:
                    raise KeyError(2)

                node.replica.core.ready = broken_ready  # type: ignore[method-assign]
                future = node.propose(Put(key="k", value="v"))
                return await asyncio.wait_for(future, 10)
            finally:
                await node.stop()

        outcome = asyncio.run(main())

        assert isinstance(outcome, Unknown)


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ReadyDiesNode(Node):
    """A node whose core's ``ready`` raises once it leads (what issue 11 saw live)."""

    def start(self) -> None:
        super().start()
        core = self.replica.core
        real_ready = core.ready

        def ready() -> Ready:
            if core.role is Role.LEADER:
                raise KeyError(2)
            return real_ready()

        core.ready = ready  # type: ignore[method-assign]


class TestProcessExit:
    def test_serve_exits_non_zero_when_the_ready_loop_dies(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The server returns exit code 1 (not a zombie) when its Ready loop dies."""
        monkeypatch.setattr(server_main, "Node", ReadyDiesNode)
        settings = _settings(tmp_path, listen=f"127.0.0.1:{_free_loopback_port()}")

        code = asyncio.run(asyncio.wait_for(server_main.serve(settings, seed=6), 30))

        assert 1 == code

"""The node's asyncio loop driving a one-node replica in-process: commits, and stops on
storage failure."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path

from nodes.kv import Ok, Put
from nodes.raft import Entry, HardState
from nodes.replica import Applied, ProposalOutcome, Unknown
from nodes.server import Node, NodeSettings, load_settings
from nodes.storage import MemoryStorage, StorageFailure


class FailingStorage(MemoryStorage):
    """Memory storage whose saves fail once ``broken`` is set (a dying disk)."""

    broken = False

    def save(self, *, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        if self.broken:
            msg = "fsync failed: EIO (simulated)"
            raise StorageFailure(msg)
        super().save(hard_state=hard_state, entries=entries)


def _settings(tmp_path: Path) -> NodeSettings:
    return load_settings(
        {"id": 1, "listen": "127.0.0.1:1", "data_dir": str(tmp_path), "tick_ms": 5}, env={}
    )


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

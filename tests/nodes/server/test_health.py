"""The admin Health call (the containers' healthcheck) reports a node that stopped."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nodes.kv import Put
from nodes.raft import Entry, HardState
from nodes.rpc import chaoslab_pb2 as pb
from nodes.server import Node, load_settings
from nodes.server.services import AdminService
from nodes.storage import MemoryStorage, StorageFailure


class DyingStorage(MemoryStorage):
    """Memory storage whose saves fail once ``broken`` is set (a dying disk)."""

    broken = False

    def save(self, *, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        if self.broken:
            msg = "fsync failed: EIO (simulated)"
            raise StorageFailure(msg)
        super().save(hard_state=hard_state, entries=entries)


class TestHealth:
    def test_healthy_then_unhealthy_once_the_node_stopped(self, tmp_path: Path) -> None:
        """A one-node cluster is healthy once it leads; after its Ready loop stopped on a
        storage failure, Health says unhealthy and why."""
        settings = load_settings(
            {"id": 1, "listen": "127.0.0.1:1", "data_dir": str(tmp_path), "tick_ms": 5}, env={}
        )
        storage = DyingStorage()
        context: Any = None

        async def main() -> tuple[pb.HealthReply, pb.HealthReply]:
            node = Node(settings, storage, random.Random(3))
            admin = AdminService(node)
            node.start()
            try:
                for _ in range(400):
                    if node.replica.is_leader:
                        break
                    await asyncio.sleep(0.01)
                before = await admin.Health(pb.HealthRequest(), context)
                storage.broken = True
                node.propose(Put(key="k", value="v"))  # the Ready loop must write it: it fails
                await asyncio.wait_for(node.failed.wait(), 10)
                after = await admin.Health(pb.HealthRequest(), context)
            finally:
                await node.stop()
            return before, after

        before, after = asyncio.run(main())

        assert (True, False, True) == (before.healthy, after.healthy, "EIO" in after.reason)

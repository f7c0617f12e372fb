"""The replica wires core, storage and KV in the Ready order and reports honest outcomes."""

from __future__ import annotations

import random
from pathlib import PurePosixPath

import pytest
import structlog

from nodes.kv import Cas, Mismatch, Ok, Put
from nodes.raft import Config, Entry, HardState, Message, NotLeader, Ready, Snapshot
from nodes.replica import (
    Applied,
    NotApplied,
    ProposalOutcome,
    ReadDone,
    ReadFailed,
    ReadOutcome,
    ReadyBatch,
    Replica,
    ReplicaOptions,
    Unknown,
)
from nodes.storage import MemoryStorage, SimFileSystem, StorageFailure, WalStorage

DATA = PurePosixPath("/data")


class Cluster:
    """Three replicas over in-memory disks, with a lossless in-order message pump."""

    def __init__(self, size: int = 3, snapshot_every: int = 10_000) -> None:
        self.voters = tuple(range(1, size + 1))
        self.disks = {i: SimFileSystem() for i in self.voters}
        self.options = ReplicaOptions(snapshot_every=snapshot_every)
        self.replicas = {i: self._boot(i) for i in self.voters}
        self.cut: set[int] = set()
        self.queue: list[Message] = []

    def _boot(self, node: int) -> Replica:
        config = Config(id=node, voters=self.voters, election_tick=10, heartbeat_tick=1)
        storage = WalStorage(self.disks[node], DATA)
        return Replica(config, storage, random.Random(node), self.options)

    def crash_and_restart(self, node: int) -> None:
        self.disks[node].crash()
        self.replicas[node] = self._boot(node)

    def settle(self, rounds: int = 200) -> None:
        for _ in range(rounds):
            for node, replica in self.replicas.items():
                if node not in self.cut:
                    self.queue.extend(replica.handle_ready())
            if not self.queue:
                return
            batch, self.queue = self.queue, []
            for message in batch:
                if message.to not in self.cut and message.frm not in self.cut:
                    self.replicas[message.to].step(message)

    def elect(self, node: int) -> Replica:
        self.replicas[node].core.campaign()
        self.settle()
        replica = self.replicas[node]
        assert replica.is_leader
        return replica


class TestProposals:
    def test_committed_write_is_applied_with_its_result(self) -> None:
        """A proposal on the leader reports Applied(Ok) once a quorum has it."""
        cluster = Cluster()
        leader = cluster.elect(1)
        outcomes: list[ProposalOutcome] = []

        leader.propose(Put(key="x", value="1"), outcomes.append)
        cluster.settle()

        assert [Applied(result=Ok())] == outcomes
        assert "1" == leader.kv.get("x")
        leader.tick()  # followers learn the new commit index from the next heartbeat
        cluster.settle()
        assert all(r.kv.get("x") == "1" for r in cluster.replicas.values())

    def test_cas_mismatch_reports_the_current_value(self) -> None:
        """A cas that finds another value is applied as a Mismatch carrying that value."""
        cluster = Cluster()
        leader = cluster.elect(1)
        outcomes: list[ProposalOutcome] = []
        leader.propose(Put(key="x", value="1"), outcomes.append)
        leader.propose(Cas(key="x", expected="2", new="3"), outcomes.append)
        cluster.settle()

        assert Applied(result=Mismatch(current="1")) == outcomes[-1]

    def test_follower_refuses_with_a_leader_hint(self) -> None:
        """Proposing on a follower raises NotLeader naming the leader."""
        cluster = Cluster()
        cluster.elect(1)

        with pytest.raises(NotLeader) as caught:
            cluster.replicas[2].propose(Put(key="x", value="1"), lambda _: None)

        assert 1 == caught.value.leader_hint

    def test_overwritten_proposal_is_not_applied(self) -> None:
        """A deposed leader's uncommitted proposal is reported NotApplied when its slot is lost."""
        cluster = Cluster()
        old = cluster.elect(1)
        outcomes: list[ProposalOutcome] = []
        cluster.cut = {1}
        old.propose(Put(key="x", value="lost"), outcomes.append)
        cluster.settle()
        for _ in range(60):  # the majority side notices the silence and elects a leader
            cluster.replicas[2].tick()
            cluster.replicas[3].tick()
            cluster.settle()
        new = next(r for n, r in cluster.replicas.items() if n != 1 and r.is_leader)
        new.propose(Put(key="x", value="kept"), lambda _: None)
        cluster.settle()

        cluster.cut = set()
        for _ in range(30):
            for replica in cluster.replicas.values():
                replica.tick()
            cluster.settle()

        assert [NotApplied(reason=outcomes[0].reason)] == outcomes  # type: ignore[union-attr]
        assert "kept" == old.kv.get("x")

    def test_stopping_fails_every_waiter_honestly(self) -> None:
        """fail_pending gives proposals Unknown (they may commit) and reads ReadFailed."""
        cluster = Cluster()
        leader = cluster.elect(1)
        cluster.cut = {2, 3}
        proposals: list[ProposalOutcome] = []
        reads: list[ReadOutcome] = []
        leader.propose(Put(key="x", value="1"), proposals.append)
        leader.read("x", reads.append)

        leader.fail_pending("stopping")

        assert [Unknown(reason="stopping")] == proposals
        assert [ReadFailed(reason="stopping")] == reads


class TestReads:
    def test_linearizable_read_on_leader_and_follower(self) -> None:
        """ReadIndex reads return the committed value on the leader and through a follower."""
        cluster = Cluster()
        leader = cluster.elect(1)
        leader.propose(Put(key="x", value="7"), lambda _: None)
        cluster.settle()
        reads: list[ReadOutcome] = []

        leader.read("x", reads.append)
        cluster.replicas[3].read("x", reads.append)
        cluster.settle()

        assert [ReadDone(value="7"), ReadDone(value="7")] == reads

    def test_read_without_leader_raises(self) -> None:
        """A node that knows no leader refuses the read at once."""
        cluster = Cluster()

        with pytest.raises(NotLeader):
            cluster.replicas[2].read("x", lambda _: None)


class TestDurability:
    def test_state_survives_a_crash_of_every_node(self) -> None:
        """Acknowledged writes survive crashing every node (unsynced data lost, synced kept)."""
        cluster = Cluster()
        leader = cluster.elect(1)
        outcomes: list[ProposalOutcome] = []
        for i in range(20):
            leader.propose(Put(key=f"k{i}", value=str(i)), outcomes.append)
        cluster.settle()
        assert all(isinstance(o, Applied) for o in outcomes)

        for node in cluster.voters:
            cluster.crash_and_restart(node)
        leader = cluster.elect(2)
        reads: list[ReadOutcome] = []
        leader.read("k19", reads.append)
        cluster.settle()

        assert [ReadDone(value="19")] == reads

    def test_compaction_and_snapshot_install(self) -> None:
        """A node that missed compacted entries catches up by snapshot."""
        cluster = Cluster(snapshot_every=5)
        leader = cluster.elect(1)
        cluster.cut = {3}
        for i in range(30):
            leader.propose(Put(key="x", value=str(i)), lambda _: None)
            cluster.settle()
        assert leader.stats.snapshots_taken > 0

        cluster.cut = set()
        for _ in range(20):
            leader.tick()
            cluster.settle()

        assert cluster.replicas[3].stats.snapshots_installed >= 1
        assert "29" == cluster.replicas[3].kv.get("x")


class TestNeedsDisk:
    def test_commit_only_batches_need_no_disk(self) -> None:
        """Entries, snapshots and term/vote changes need the disk; a commit-only batch does not."""
        replica = Cluster().replicas[1]
        entry = Entry(term=1, index=1)

        assert not replica.needs_disk(Ready(hard_state=HardState(term=0, vote=0, commit=3)))
        assert replica.needs_disk(Ready(hard_state=HardState(term=1, vote=1)))
        assert replica.needs_disk(Ready(entries=(entry,)))

    def test_a_persisted_vote_is_remembered(self) -> None:
        """Once a term/vote was persisted, repeating it with a new commit needs no disk."""
        replica = Cluster().replicas[1]
        replica.write(ReadyBatch(ready=Ready(hard_state=HardState(term=2, vote=1))))

        assert not replica.needs_disk(Ready(hard_state=HardState(term=2, vote=1, commit=4)))


class SnapshotFailingStorage(MemoryStorage):
    """Memory storage whose snapshot saves fail (a disk that dies while compacting)."""

    def save_snapshot(self, snapshot: Snapshot) -> None:
        msg = "fsync failed: EIO (simulated) while saving a snapshot"
        raise StorageFailure(msg)


def _single(storage: MemoryStorage, snapshot_every: int) -> Replica:
    config = Config(id=1, voters=(1,), election_tick=10, heartbeat_tick=1)
    replica = Replica(
        config, storage, random.Random(1), ReplicaOptions(snapshot_every=snapshot_every)
    )
    replica.core.campaign()
    replica.handle_ready()
    assert replica.is_leader
    return replica


class TestReadyLoop:
    def test_compaction_is_written_by_the_next_batch_not_by_finish(self) -> None:
        """finish only snapshots in memory; the next batch carries the snapshot to write."""
        storage = MemoryStorage()
        replica = _single(storage, snapshot_every=3)
        for i in range(3):
            replica.propose(Put(key="x", value=str(i)), lambda _: None)
        first = replica.next_batch()
        assert first is not None
        replica.write(first)
        replica.finish(first)
        saved_after_finish = storage.snapshot_index

        second = replica.next_batch()
        assert second is not None
        replica.write(second)

        assert (0, True) == (saved_after_finish, second.needs_disk)
        assert (4, storage.snapshot_index) == (replica.snapshot_index, 4)
        assert second.compaction is not None and 4 == second.compaction.meta.index
        assert None is replica.next_batch()

    def test_failing_snapshot_save_raises_from_write(self) -> None:
        """A snapshot save that fails raises StorageFailure from write, where drivers guard."""
        replica = _single(SnapshotFailingStorage(), snapshot_every=2)
        for i in range(2):
            replica.propose(Put(key="x", value=str(i)), lambda _: None)
        first = replica.next_batch()
        assert first is not None
        replica.write(first)
        replica.finish(first)  # compacts in memory: no IO, nothing raised

        second = replica.next_batch()
        assert second is not None
        with pytest.raises(StorageFailure, match="while saving a snapshot"):
            replica.write(second)

    def test_inputs_between_write_and_finish_join_the_next_batch(self) -> None:
        """Proposals made while a batch is being written are persisted together next time."""
        storage = MemoryStorage()
        replica = _single(storage, snapshot_every=100)
        replica.propose(Put(key="a", value="1"), lambda _: None)
        batch = replica.next_batch()
        assert batch is not None
        replica.write(batch)
        replica.propose(Put(key="b", value="2"), lambda _: None)  # arrives mid-write
        replica.propose(Put(key="c", value="3"), lambda _: None)
        replica.finish(batch)

        following = replica.next_batch()

        assert following is not None
        assert ([2], [3, 4]) == (
            [e.index for e in batch.ready.entries],
            [e.index for e in following.ready.entries],
        )

    def test_anomalies_are_logged_as_errors(self) -> None:
        """A Ready warning from the core is logged at error level with its text."""
        replica = _single(MemoryStorage(), snapshot_every=100)
        batch = ReadyBatch(ready=Ready(warnings=("follower 2 lost entries",)))

        with structlog.testing.capture_logs() as logs:
            replica.finish(batch)

        assert [("error", "follower 2 lost entries")] == [
            (e["log_level"], e["detail"]) for e in logs if e["event"] == "raft_anomaly"
        ]

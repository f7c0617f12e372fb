"""The ap replica: local reads and writes, sessions, anti-entropy that converges after any
partition, deletes that stay deleted, and an HLC monotonic across restarts."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.ap import ApLog, ApReplica, Timestamp
from nodes.kv import Cas, Delete, Mismatch, NotFound, Ok, Put, StaleSequence
from nodes.storage import SimFileSystem

DIR = PurePosixPath("/ap")
NODES = (1, 2, 3)


class World:
    """Three replicas on simulated disks, one shared physical clock (ms), pairwise syncs."""

    def __init__(self) -> None:
        self.now = 1_000
        self.disks = {n: SimFileSystem() for n in NODES}
        self.replicas = {n: self.boot(n) for n in NODES}

    def boot(self, node: int) -> ApReplica:
        return ApReplica(node, NODES, ApLog(self.disks[node], DIR), lambda: self.now)

    def restart(self, node: int) -> None:
        self.disks[node].crash()
        self.replicas[node] = self.boot(node)

    def sync(self, src: int, dst: int) -> None:
        sender, receiver = self.replicas[src], self.replicas[dst]
        while (batch := sender.outgoing(dst, limit=2)) is not None:
            receiver.receive(batch.versions)
            sender.acknowledged(dst, batch)

    def heal(self) -> None:
        for _ in range(2):
            for src in NODES:
                for dst in NODES:
                    if src != dst:
                        self.sync(src, dst)


class TestLocalCommands:
    def test_a_write_is_read_back_locally(self) -> None:
        """put then get on the same replica."""
        world = World()
        replica = world.replicas[1]

        assert (Ok(), "v") == (replica.execute(Put(key="k", value="v")), replica.read("k"))

    def test_cas_compares_with_the_local_value(self) -> None:
        """cas against a value this replica does not hold is a mismatch naming it."""
        world = World()
        replica = world.replicas[1]
        replica.execute(Put(key="k", value="a"))

        assert Mismatch(current="a") == replica.execute(Cas(key="k", expected="b", new="c"))

    def test_deleting_an_absent_key_is_not_found(self) -> None:
        """delete of a key this replica never saw."""
        assert NotFound() == World().replicas[1].execute(Delete(key="k"))

    def test_a_retried_write_applies_once(self) -> None:
        """The same session and sequence number returns the first result, writes nothing."""
        replica = World().replicas[1]
        replica.execute(Put(key="k", value="a", client_id="c", seq=1))
        changes = replica.store.seq

        again = replica.execute(Put(key="k", value="a", client_id="c", seq=1))
        changed = replica.execute(Put(key="k", value="z", client_id="c", seq=1))

        assert (Ok(), Ok(), changes, "a") == (again, changed, replica.store.seq, replica.read("k"))

    def test_an_older_sequence_is_stale(self) -> None:
        """A sequence number below the session's last is refused."""
        replica = World().replicas[1]
        replica.execute(Put(key="k", value="a", client_id="c", seq=2))

        assert StaleSequence(last_seq=2) == replica.execute(
            Put(key="k", value="b", client_id="c", seq=1))


class TestAntiEntropy:
    def test_later_writer_wins_everywhere(self) -> None:
        """Concurrent writes on two replicas end as the later one on all three."""
        world = World()
        world.replicas[1].execute(Put(key="k", value="first"))
        world.now += 5
        world.replicas[2].execute(Put(key="k", value="second"))
        world.heal()

        assert {"second"} == {r.read("k") for r in world.replicas.values()}

    def test_a_delete_is_not_undone_by_a_late_older_write(self) -> None:
        """A replica that missed the delete cannot resurrect the key when it syncs."""
        world = World()
        world.replicas[1].execute(Put(key="k", value="v"))
        world.sync(1, 2)
        world.now += 1
        world.replicas[2].execute(Delete(key="k"))
        world.heal()

        assert {None} == {r.read("k") for r in world.replicas.values()}

    def test_hlc_monotonic_across_restarts(self) -> None:
        """A replica restarted with its clock far behind stamps above what it wrote."""
        world = World()
        world.replicas[1].execute(Put(key="k", value="before"))
        before = world.replicas[1].store.version("k")
        world.now -= 500
        world.restart(1)
        world.replicas[1].execute(Put(key="k", value="after"))
        after = world.replicas[1].store.version("k")

        assert before is not None and after is not None
        assert (after.stamp > before.stamp, "after") == (True, world.replicas[1].read("k"))

    def test_a_restart_loses_no_acknowledged_write_and_resends_everything(self) -> None:
        """A crash keeps every acknowledged write; its peers still get them afterwards."""
        world = World()
        world.replicas[1].execute(Put(key="k", value="v"))
        world.restart(1)
        world.heal()

        assert {"v"} == {r.read("k") for r in world.replicas.values()}


operation = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(NODES), st.sampled_from("abc")),
    st.tuples(st.just("delete"), st.sampled_from(NODES), st.sampled_from("abc")),
    st.tuples(st.just("sync"), st.sampled_from(NODES), st.sampled_from(NODES)),
    st.tuples(st.just("partition"), st.sampled_from(NODES), st.just("")),
    st.tuples(st.just("restart"), st.sampled_from(NODES), st.just("")),
    st.tuples(st.just("tick"), st.integers(-50, 50), st.just("")),
)


class TestConvergence:
    @settings(max_examples=150, deadline=None)
    @given(st.lists(operation, max_size=60))
    def test_replicas_agree_after_any_partition_and_no_deleted_key_returns(
        self, operations: list[tuple[str, int, str]]
    ) -> None:
        """Writes, deletes, syncs across partitions, restarts and clock steps in any order:
        after the heal every replica holds the same map, and every key's newest
        version (largest stamp ever issued) is what all of them hold, tombstones too."""
        world = World()
        cut: int | None = None
        number = 0
        newest: dict[str, tuple[Timestamp, str | None]] = {}
        for kind, node, key in operations:
            if kind in {"put", "delete"}:
                number += 1
                replica = world.replicas[node]
                command = Put(key=key, value=f"v{number}") if kind == "put" else Delete(key=key)
                replica.execute(command)
                version = replica.store.version(key)
                if version is not None and version.stamp.node == node and (
                    key not in newest or version.stamp > newest[key][0]
                ):
                    newest[key] = (version.stamp, version.value)
            elif kind == "sync" and node != int(key) and cut not in (node, int(key)):
                world.sync(node, int(key))
            elif kind == "partition":
                cut = node if cut is None else None
            elif kind == "restart":
                world.restart(node)
            elif kind == "tick":
                world.now = max(0, world.now + node)
        world.heal()
        maps = [r.store.digest() for r in world.replicas.values()]

        assert all(m == maps[0] for m in maps)
        assert {k: v for k, (_, v) in newest.items()} == {
            k: world.replicas[1].read(k) for k in newest}

"""Storage recovery gaps on real node processes (127.0.0.1 only; issue 11, item 4).

A follower whose WAL lost its last record (torn mid-record, or a flipped byte) had
acknowledged those entries; recovery truncates them. Before the fix the leader
probed it just above its log end forever (each burning ~45 % of a core) and the
follower never caught up. Now the follower proves its loss on the next heartbeat,
the leader resends, both log ``raft_anomaly``, and the follower catches up. A
deleted hard state file next to a WAL refuses to start, naming the file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from experiments.cluster import ClusterError, LocalCluster
from experiments.cluster.testing import caught_up, running_cluster, wait_for
from nodes.client import Client


def _newest_segment(data_dir: Path) -> Path:
    return max(data_dir.glob("wal-*.log"))


def _damage_last_record(segment: Path, how: str) -> None:
    data = bytearray(segment.read_bytes())
    if how == "torn":
        del data[-5:]  # a write cut short by the crash
    else:
        data[-3] ^= 0x40  # a flipped byte in the last record
    segment.write_bytes(bytes(data))


def _events(log: Path, event: str) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found


def _leader_and_follower(cluster: LocalCluster) -> tuple[int, int]:
    leader = cluster.wait_for_leader(30).id
    follower = next(n.id for n in cluster.state().nodes if n.id != leader)
    return leader, follower


def _term(cluster: LocalCluster) -> int:
    view = cluster.wait_for_leader(30).view
    assert view is not None
    return view.term


@pytest.mark.parametrize("how", ["torn", "flipped"])
def test_follower_that_lost_acknowledged_entries_catches_up(tmp_path: Path, how: str) -> None:
    """Damage the last WAL record of a killed follower: restarted, it catches up (no livelock)
    and both it and the leader log the anomaly."""
    with running_cluster(tmp_path / "c") as cluster:
        addresses = cluster.state().client_addresses
        leader, follower = _leader_and_follower(cluster)
        with Client(addresses, timeout_s=10.0, seed=3) as client:
            acked = [client.put(f"k{i}", f"v{i}").ok for i in range(20)]
            target = max(r.view.commit_index for r in cluster.status() if r.view)
            wait_for(lambda: caught_up(cluster, follower, target), what="the follower")
            term_before = _term(cluster)
            cluster.kill(follower)
            entry = cluster.state().node(follower)
            _damage_last_record(_newest_segment(Path(entry.data_dir)), how)
            cluster.restart(follower)
            more = [client.put(f"after{i}", "x").ok for i in range(5)]
            target = max(r.view.commit_index for r in cluster.status() if r.view)
            wait_for(
                lambda: caught_up(cluster, follower, target),
                what="the damaged follower to catch up",
                timeout_s=30,
            )
            same_leadership = term_before == _term(cluster)
            time.sleep(0.5)  # let the leader's log line reach its file
        state = cluster.state()
        follower_log = Path(state.node(follower).log)
        leader_log = Path(state.node(leader).log)
        dropped = _events(follower_log, "wal_torn_tail_truncated")
        follower_anomalies = _events(follower_log, "raft_anomaly")
        leader_anomalies = _events(leader_log, "raft_anomaly")

    assert all(acked) and all(more)
    assert dropped
    if not same_leadership:
        return  # (a loaded machine) a new leader probes from scratch: nothing to repair
    assert 1 <= len(follower_anomalies)
    assert [f"follower {follower} holds entries only up to index"] == [
        str(e["detail"]).split(" but ")[0].rsplit(" ", 1)[0] for e in leader_anomalies[:1]
    ]


def test_deleted_hard_state_refuses_to_start(tmp_path: Path) -> None:
    """A node whose hard state file was deleted does not start; its log names the file."""
    with running_cluster(tmp_path / "c") as cluster:
        with Client(cluster.state().client_addresses, timeout_s=10.0, seed=4) as client:
            assert client.put("k", "v").ok
        _, follower = _leader_and_follower(cluster)
        cluster.kill(follower)
        entry = cluster.state().node(follower)
        hard_state = Path(entry.data_dir) / "hardstate"
        hard_state.unlink()
        with pytest.raises(ClusterError):
            cluster.restart(follower)
        refusals = _events(Path(entry.log), "node_refused_to_start")

    assert [str(hard_state)] == [str(e["reason"]).split(": ")[0] for e in refusals]
    assert "restore that file from a backup" in str(refusals[0]["reason"])

"""Which leader a set of status reports agrees on."""

from __future__ import annotations

from experiments.cluster import NodeReport
from experiments.docker.client import agreed_leader
from nodes.client import NodeView


def _report(node: int, role: str, leader: int, term: int) -> NodeReport:
    view = NodeView(
        id=node,
        address=f"n{node}:7000",
        role=role,
        term=term,
        leader_id=leader,
        leader_address="",
        commit_index=0,
        applied_index=0,
        first_index=0,
        last_index=0,
        log_size=0,
        snapshot_index=0,
        unsafe_no_sync=False,
    )
    return NodeReport(id=node, address=f"127.0.0.1:{node}", view=view)


def _unreachable(node: int) -> NodeReport:
    return NodeReport(id=node, address=f"127.0.0.1:{node}", view=None, error="UNAVAILABLE")


class TestAgreedLeader:
    def test_majority_agrees(self) -> None:
        """A leader named by a majority in its own term is the agreed leader."""
        reports = [_report(1, "leader", 1, 3), _report(2, "follower", 1, 3)]
        reports += [_report(3, "follower", 1, 3), _unreachable(4), _unreachable(5)]
        expected = 1

        actual = agreed_leader(reports)

        assert expected == actual

    def test_minority_leader_is_not_agreed(self) -> None:
        """A stale leader followed by only a minority is not the cluster's leader."""
        reports = [_report(1, "leader", 1, 3), _report(2, "follower", 1, 3)]
        reports += [_report(3, "candidate", 0, 5), _unreachable(4), _unreachable(5)]
        expected = None

        actual = agreed_leader(reports)

        assert expected == actual

    def test_other_term_does_not_count(self) -> None:
        """Followers that name the leader in another term do not count toward its majority."""
        reports = [_report(1, "leader", 1, 4), _report(2, "follower", 1, 3)]
        reports += [_report(3, "follower", 1, 3)]
        expected = None

        actual = agreed_leader(reports)

        assert expected == actual

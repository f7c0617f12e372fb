"""How the etcd adapter classifies failed calls (ok / fail / info honesty)."""

from __future__ import annotations

import grpc
import pytest

from experiments.stores.etcd import classify_error, sent_failures
from nodes.client.policy import Result


class FakeError(grpc.RpcError):
    """A failed call as grpc reports it."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        """The status code."""
        return self._code

    def details(self) -> str:
        """The server's (or the channel's) message."""
        return self._details


@pytest.mark.parametrize(
    ("code", "details", "result"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", Result.TIMEOUT),
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: "
            "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused",
            Result.UNREACHABLE,
        ),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out", Result.UNKNOWN),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed", Result.UNKNOWN),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader", Result.UNAVAILABLE),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: too many requests", Result.UNAVAILABLE),
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided", Result.INVALID),
        (grpc.StatusCode.UNKNOWN, "Stream removed", Result.UNKNOWN),
    ],
)
def test_classification(code: grpc.StatusCode, details: str, result: Result) -> None:
    """Only what certainly did nothing is definite; everything else may have applied."""
    attempted = classify_error(FakeError(code, details))

    assert (result, True) == (attempted.result, details in attempted.error)


def test_sent_failures_are_read_per_peer_from_metrics() -> None:
    """etcd's failed-send counters, mapped from member ids (hex in the labels) to nodes."""
    page = "\n".join(
        [
            "# HELP etcd_network_peer_sent_failures_total The total number of send failures.",
            "# TYPE etcd_network_peer_sent_failures_total counter",
            'etcd_network_peer_sent_failures_total{To="8e9e05c52164694d"} 12',
            'etcd_network_peer_sent_failures_total{To="91bc3c398fb3c146"} 3',
            'etcd_network_peer_sent_failures_total{To="ffff"} 7',
            'etcd_network_peer_sent_bytes_total{To="8e9e05c52164694d"} 999',
        ]
    )
    members = {0x8E9E05C52164694D: 2, 0x91BC3C398FB3C146: 3}

    assert {2: 12, 3: 3} == sent_failures(page, members)

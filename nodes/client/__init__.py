"""Clients of a chaoslab cluster: ``Client`` (blocking) and ``AsyncClient`` (asyncio).

Rules: this facade only re-exports. Clients never raise for a cluster-side
failure: every call returns an honest ``Outcome`` (ok / fail / info).
"""

from nodes.client.aio import AsyncClient
from nodes.client.failpoints import FailpointSecretError, failpoint_metadata
from nodes.client.outcome import (
    CONSISTENCIES,
    Consistency,
    FailpointRequest,
    FailpointState,
    InvalidRequest,
    NodeView,
    Outcome,
    OutcomeStatus,
    PeerView,
)
from nodes.client.sync import Client

__all__ = [
    "CONSISTENCIES",
    "AsyncClient",
    "Client",
    "Consistency",
    "FailpointRequest",
    "FailpointSecretError",
    "FailpointState",
    "InvalidRequest",
    "NodeView",
    "Outcome",
    "OutcomeStatus",
    "PeerView",
    "failpoint_metadata",
]

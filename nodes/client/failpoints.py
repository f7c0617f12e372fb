"""What a caller of the admin failpoint call needs: the cluster's peer token.

Rules: the token is derived from the cluster's secret file exactly as a member derives it
(``nodes.server.auth``: one implementation, imported only when a token is asked for, so
the client stays light), and only travels in the call's metadata.
"""

from __future__ import annotations

from pathlib import Path

from nodes.errors import NodeError

__all__ = ["FailpointSecretError", "failpoint_metadata"]


class FailpointSecretError(NodeError):
    """The cluster's secret file is missing, unsafe or too short (the message says which)."""


def failpoint_metadata(secret_file: str | Path, cluster_id: str) -> tuple[tuple[str, str], ...]:
    """The metadata a failpoint call carries: the cluster's peer token, from its secret.

    Raises:
        FailpointSecretError: the secret file is missing, unsafe or too short.
    """
    from nodes.server.auth import PeerAuthError, peer_metadata, read_secret  # noqa: PLC0415

    try:
        return peer_metadata(read_secret(Path(secret_file)), cluster_id, 0)
    except PeerAuthError as exc:
        raise FailpointSecretError(str(exc)) from None

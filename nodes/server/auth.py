"""Peer authentication: the cluster's shared secret, the token every peer call carries,
the server interceptor that checks it, and optional mutual TLS.

Rules: the secret never leaves this module in clear: it is read from a file that only its
owner may read (mode 0600 or 0400), never logged, never put on a command line, and what
travels is ``HMAC-SHA256(secret, "chaoslab-peer-v1" + cluster id)`` in the call's metadata.
The receiver compares it in constant time (``hmac.compare_digest``) before the call's
handler runs; a call without the right token is UNAUTHENTICATED and never reaches the
Raft core. The token proves membership, not freshness: whoever can read the peer links
can replay it, which mutual TLS (``--peer-tls-*``) prevents.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

import grpc

from nodes.errors import NodeError

TOKEN_KEY = "x-chaoslab-peer-token"
CLUSTER_KEY = "x-chaoslab-cluster"
SENDER_KEY = "x-chaoslab-sender"
_CONTEXT = b"chaoslab-peer-v1\0"
MIN_SECRET_BYTES = 16
SECRET_BYTES = 32
"""A generated secret: 32 random bytes, written as 64 hex digits."""

Metadata = tuple[tuple[str, str], ...]
Request = TypeVar("Request")
Response = TypeVar("Response")
if TYPE_CHECKING:
    Handler: TypeAlias = grpc.RpcMethodHandler[Request, Response]


class PeerAuthError(NodeError):
    """The peer secret or TLS files are missing or unsafe (the operator's fault)."""


def generate_secret() -> str:
    """A fresh random secret, as text (hex)."""
    return secrets.token_hex(SECRET_BYTES)


def write_secret(path: Path) -> bool:
    """Create ``path`` holding a fresh secret, readable by its owner only (0600).

    Returns:
        True when it was created, False when it already existed (left untouched).

    Raises:
        PeerAuthError: the file cannot be created.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        msg = f"cannot create the peer secret {path}: {exc.strerror or exc}"
        raise PeerAuthError(msg) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(generate_secret() + "\n")
    return True


def read_secret(path: Path) -> bytes:
    """Read the peer secret from ``path``.

    Raises:
        PeerAuthError: the file is missing, not a regular file, readable or writable by
            group or others, or too short to be a secret.
    """
    try:
        info = path.stat()
        raw = path.read_bytes()
    except OSError as exc:
        msg = f"peer secret {path}: cannot read it: {exc.strerror or exc}"
        raise PeerAuthError(msg) from None
    if not stat.S_ISREG(info.st_mode):
        msg = f"peer secret {path}: not a regular file"
        raise PeerAuthError(msg)
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        msg = (
            f"peer secret {path}: mode {mode:04o} lets group or others read it; "
            f"run `chmod 600 {path}`"
        )
        raise PeerAuthError(msg)
    secret = raw.strip()
    if len(secret) < MIN_SECRET_BYTES:
        msg = f"peer secret {path}: shorter than {MIN_SECRET_BYTES} bytes"
        raise PeerAuthError(msg)
    return secret


def peer_token(secret: bytes, cluster_id: str) -> str:
    """The token members of ``cluster_id`` send with every peer call (hex)."""
    return hmac.new(secret, _CONTEXT + cluster_id.encode(), hashlib.sha256).hexdigest()


def _metadata(token: str, cluster_id: str, sender: int) -> Metadata:
    return ((TOKEN_KEY, token), (CLUSTER_KEY, cluster_id), (SENDER_KEY, str(sender)))


def peer_metadata(secret: bytes, cluster_id: str, sender: int) -> Metadata:
    """The metadata of one peer call from ``sender`` (what a member sends)."""
    return _metadata(peer_token(secret, cluster_id), cluster_id, sender)


def _read_pem(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        msg = f"--peer-tls-{what} {path}: cannot read it: {exc.strerror or exc}"
        raise PeerAuthError(msg) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerTls:
    """PEM material for mutual TLS on the peer links."""

    cert: bytes
    key: bytes = field(repr=False)
    ca: bytes
    server_name: str

    @classmethod
    def load(cls, cert: Path, key: Path, ca: Path, server_name: str) -> PeerTls:
        """Read the three PEM files.

        Raises:
            PeerAuthError: a file cannot be read.
        """
        return cls(
            cert=_read_pem(cert, "cert"),
            key=_read_pem(key, "key"),
            ca=_read_pem(ca, "ca"),
            server_name=server_name,
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        """The peer listener's credentials: it demands a certificate signed by the CA."""
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)], root_certificates=self.ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """A peer link's credentials: it presents ours and checks the peer's."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )

    def channel_options(self) -> list[tuple[str, str]]:
        """Check the peer's certificate against ``server_name``, not the (proxy) address."""
        return [("grpc.ssl_target_name_override", self.server_name)]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerCredentials:
    """What a node needs to call its peers and to check their calls."""

    cluster_id: str
    token: str = field(repr=False)
    tls: PeerTls | None = None

    @classmethod
    def load(
        cls,
        *,
        cluster_id: str,
        secret_file: Path | None,
        tls_files: tuple[Path, Path, Path] | None = None,
        tls_server_name: str = "chaoslab-peer",
    ) -> PeerCredentials:
        """Read the secret (and TLS files) of a node.

        Without a secret file the token is empty: such a node has no peers, and its
        peer listener (if any) refuses every call.

        Raises:
            PeerAuthError: a file is missing or unsafe.
        """
        token = "" if secret_file is None else peer_token(read_secret(secret_file), cluster_id)
        tls = None if tls_files is None else PeerTls.load(*tls_files, tls_server_name)
        return cls(cluster_id=cluster_id, token=token, tls=tls)

    def metadata(self, sender: int) -> Metadata:
        """The metadata of a peer call from ``sender``."""
        return _metadata(self.token, self.cluster_id, sender)

    def accepts(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> bool:
        """Whether a call's metadata carries this cluster's token (constant-time check)."""
        if not self.token:
            return False
        offered = ""
        for key, value in metadata or ():
            if key == TOKEN_KEY and isinstance(value, str):
                offered = value
        return hmac.compare_digest(offered.encode(), self.token.encode())


Behaviour = Callable[..., Awaitable[Any]]


def refusing_handler(
    handler: Handler[Request, Response], code: grpc.StatusCode, details: str
) -> Handler[Request, Response]:
    """A handler of the same shape as ``handler`` that ends every call with ``code``."""

    async def refuse(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, details)

    make: Any = grpc.unary_unary_rpc_method_handler
    if handler.request_streaming and handler.response_streaming:
        make = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        make = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        make = grpc.unary_stream_rpc_method_handler
    refusing = make(refuse, handler.request_deserializer, handler.response_serializer)
    return cast("Handler[Request, Response]", refusing)


class PeerAuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuse (UNAUTHENTICATED) every call that lacks this cluster's peer token.

    Args:
        credentials: this node's peer credentials.
    """

    def __init__(self, credentials: PeerCredentials) -> None:
        self._credentials = credentials

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[Handler[Request, Response] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler[Request, Response] | None:
        handler = await continuation(handler_call_details)
        if handler is None or self._credentials.accepts(handler_call_details.invocation_metadata):
            return handler
        return refusing_handler(
            handler,
            grpc.StatusCode.UNAUTHENTICATED,
            "peer calls need this cluster's peer token (see --peer-secret-file)",
        )

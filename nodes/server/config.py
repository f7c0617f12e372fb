"""A node's settings: from CLI flags, a TOML file and ``CHAOSLAB_*`` environment variables.

Rules: validation only (pydantic), plus reading the one TOML file named. Precedence,
highest first: CLI flags, environment variables, the TOML file, defaults. Every error
names the field (and where its value came from) so the operator knows what to fix.
"""

from __future__ import annotations

import enum
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nodes.errors import NodeError
from nodes.server.limits import HANDSHAKE_TIMEOUT_MS, IDLE_TIMEOUT_MS
from nodes.timing import DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, DEFAULT_TICK_MS

ENV_PREFIX = "CHAOSLAB_"
DEFAULT_CLUSTER_ID = "chaoslab"
_CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SettingsError(NodeError):
    """The node's settings are invalid (the operator's fault); the message names the field."""


class Unsafe(enum.StrEnum):
    """UNSAFE lab switches: each breaks the store on purpose, so a chaos run can show that its
    checkers catch the bug on real processes (the simulator's seeded bugs of the same names).
    Never for anything but experiments; a node with one logs it loudly at start."""

    LEADER_READS_WITHOUT_READINDEX = "leader-reads-without-readindex"
    """The leader serves reads from its own state without confirming it still leads, and
    never steps down by CheckQuorum: a deposed leader serves stale reads."""
    NO_SESSION_DEDUPE = "no-session-dedupe"
    """The state machine ignores client sessions: a retried write applies twice."""
    COMMIT_PRIOR_TERM = "commit-prior-term"
    """A leader commits entries of earlier terms by counting replicas (the Raft paper's
    Figure 8 mistake), and appends no empty entry when elected."""


class Consistency(enum.StrEnum):
    """How the cluster trades consistency for availability (the CAP experiments)."""

    CP = "cp"
    """Raft: ReadIndex reads, writes through the leader (linearizable; the default)."""
    LEASE = "lease"
    """UNSAFE under clock faults: the leader answers reads from its lease, without a
    quorum round; followers hand reads to the leader."""
    STALE = "stale"
    """UNSAFE: every replica answers reads from its own state (stale reads); writes go
    through the leader as in cp."""
    AP = "ap"
    """UNSAFE: every replica reads and writes locally (last-writer-wins on hybrid logical
    clocks, anti-entropy after a partition); no Raft at all."""

    @property
    def unsafe(self) -> bool:
        """Whether the mode gives up linearizability (always, or under clock faults)."""
        return self is not Consistency.CP

    @property
    def warning(self) -> str:
        """What the mode gives up, for logs and status output ("" for cp)."""
        return _MODE_WARNINGS[self]


_MODE_WARNINGS = {
    Consistency.CP: "",
    Consistency.LEASE: "UNSAFE under clock faults: lease reads are stale when a leader's "
    "clock runs slow or jumps back",
    Consistency.STALE: "UNSAFE: reads are served from each replica's own state and may be stale",
    Consistency.AP: "UNSAFE: every replica accepts writes alone; concurrent writes are "
    "resolved last-writer-wins (lost updates, stale reads)",
}


class SyncMode(enum.StrEnum):
    """When the node fsyncs its log."""

    ALWAYS = "always"
    NEVER = "never"
    """UNSAFE: acknowledged writes can be lost on a crash."""


def parse_address_map(value: str) -> dict[int, str]:
    """Parse ``"2=HOST:PORT,3=HOST:PORT"`` into ``{2: "HOST:PORT", 3: "HOST:PORT"}``.

    Raises:
        ValueError: an item is not ``ID=HOST:PORT``.
    """
    result: dict[int, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        node, sep, address = item.partition("=")
        if not sep or not node.strip().isdigit():
            msg = f"{item!r} is not ID=HOST:PORT"
            raise ValueError(msg)
        result[int(node)] = address.strip()
    return result


def _check_address(address: str) -> str:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        msg = f"{address!r} is not HOST:PORT with a port in 1..65535"
        raise ValueError(msg)
    return address


class NodeSettings(BaseModel):
    """Everything ``chaoslab node`` needs; field names match the flags (``--tick-ms``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(ge=1, le=99)
    listen: str
    """The client listener (Kv and Admin services)."""
    peer_listen: str | None = None
    """The peer listener (the Peer service only); required when the node has peers."""
    peers: dict[int, str] = Field(default_factory=dict)
    """Where this node sends to each peer's peer listener (may be Toxiproxy proxies)."""
    data_dir: Path
    client_addresses: dict[int, str] = Field(default_factory=dict)
    """The address clients use to reach each node (what NOT_LEADER carries)."""
    cluster_id: str = DEFAULT_CLUSTER_ID
    """Names the cluster in every peer call; nodes of another cluster are refused."""
    peer_secret_file: Path | None = None
    """The cluster's shared peer secret (mode 0600); required when the node has peers."""
    peer_tls_cert: Path | None = None
    """Optional mTLS on the peer listener and links: this node's certificate (PEM)..."""
    peer_tls_key: Path | None = None
    """... its private key (PEM) ..."""
    peer_tls_ca: Path | None = None
    """... and the CA that signed every member's certificate (PEM)."""
    peer_tls_server_name: str = "chaoslab-peer"
    """The name peers' certificates are checked against (they are dialled through proxies,
    so the address is never the certificate's name)."""
    spool_dir: Path | None = None
    """Where incoming snapshots are streamed (default: DATA_DIR.incoming, a sibling)."""
    handshake_timeout_ms: int = Field(default=HANDSHAKE_TIMEOUT_MS, ge=100)
    idle_timeout_ms: int = Field(default=IDLE_TIMEOUT_MS, ge=1000)
    tick_ms: int = Field(default=DEFAULT_TICK_MS, ge=1, le=10_000)
    election_tick: int = Field(default=DEFAULT_ELECTION_TICKS, ge=2)
    heartbeat_tick: int = Field(default=DEFAULT_HEARTBEAT_TICKS, ge=1)
    sync: SyncMode = SyncMode.ALWAYS
    consistency: Consistency = Consistency.CP
    """The consistency mode; every node of a cluster must run the same one."""
    failpoints: bool = False
    """Accept the admin failpoint call (clock and disk faults, for chaos experiments)."""
    forward_writes: bool = False
    unsafe: tuple[Unsafe, ...] = ()
    """UNSAFE lab switches (see ``Unsafe``); empty for every real use."""
    snapshot_every: int = Field(default=10_000, ge=1)
    peer_queue: int = Field(default=4096, ge=1)
    """Messages waiting per peer; more are dropped (Raft retransmits)."""
    peer_timeout_ms: int = Field(default=1000, ge=10)
    keepalive_ms: int = Field(default=1000, ge=100)

    @field_validator("peers", "client_addresses", mode="before")
    @classmethod
    def _parse_map(cls, value: Any) -> Any:
        return parse_address_map(value) if isinstance(value, str) else value

    @field_validator("unsafe", mode="before")
    @classmethod
    def _parse_unsafe(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("peer_listen")
    @classmethod
    def _peer_listen(cls, value: str | None) -> str | None:
        return None if value is None or value == "" else _check_address(value)

    @field_validator("cluster_id")
    @classmethod
    def _cluster_id(cls, value: str) -> str:
        if not _CLUSTER_ID.match(value):
            msg = (
                f"{value[:70]!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit"
            )
            raise ValueError(msg)
        return value

    @field_validator("peers", "client_addresses")
    @classmethod
    def _addresses(cls, value: dict[int, str]) -> dict[int, str]:
        for node, address in value.items():
            if not 1 <= node <= 99:
                msg = f"node id {node} is outside 1..99"
                raise ValueError(msg)
            _check_address(address)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> NodeSettings:
        if self.id in self.peers:
            msg = f"peers: lists this node's own id {self.id}"
            raise ValueError(msg)
        if self.heartbeat_tick >= self.election_tick:
            msg = (
                f"heartbeat_tick ({self.heartbeat_tick}) must be below "
                f"election_tick ({self.election_tick})"
            )
            raise ValueError(msg)
        unknown = set(self.client_addresses) - set(self.peers) - {self.id}
        if unknown:
            msg = f"client_addresses: nodes {sorted(unknown)} are neither this node nor a peer"
            raise ValueError(msg)
        if self.peers and self.peer_listen is None:
            msg = "peer-listen: required when the node has peers (peers use their own listener)"
            raise ValueError(msg)
        if self.peers and self.peer_secret_file is None:
            msg = (
                "peer-secret-file: required when the node has peers (every peer call is "
                "authenticated); create one with `chaoslab admin init-secret FILE`"
            )
            raise ValueError(msg)
        if self.peer_listen is not None and self.peer_listen == self.listen:
            msg = f"peer-listen: {self.peer_listen} is also --listen; give peers their own port"
            raise ValueError(msg)
        tls = (self.peer_tls_cert, self.peer_tls_key, self.peer_tls_ca)
        if any(tls) and not all(tls):
            msg = "peer-tls-cert, peer-tls-key and peer-tls-ca: give all three or none"
            raise ValueError(msg)
        return self

    @property
    def peer_tls(self) -> bool:
        """Whether peer links use mutual TLS."""
        return self.peer_tls_cert is not None

    @property
    def snapshot_spool_dir(self) -> Path:
        """Where incoming snapshots are streamed before they are checked and installed."""
        if self.spool_dir is not None:
            return self.spool_dir
        return self.data_dir.with_name(self.data_dir.name + ".incoming")

    @property
    def voters(self) -> tuple[int, ...]:
        """Every voter: this node and its peers."""
        return tuple(sorted({self.id, *self.peers}))

    def client_address(self, node: int) -> str:
        """Where clients reach ``node`` ("" when unknown: peer addresses are not for clients)."""
        if node in self.client_addresses:
            return self.client_addresses[node]
        if node == self.id:
            return self.listen
        return ""


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in NodeSettings.model_fields:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = raw
    return values


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        msg = f"--config {path}: cannot read it: {exc.strerror or exc}"
        raise SettingsError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"--config {path}: not valid TOML: {exc}"
        raise SettingsError(msg) from None
    section = data.get("node", data)
    if not isinstance(section, dict):
        msg = f"--config {path}: [node] must be a table"
        raise SettingsError(msg)
    return {key.replace("-", "_"): value for key, value in section.items()}


def load_settings(
    cli: Mapping[str, Any],
    *,
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> NodeSettings:
    """Merge defaults < TOML file < environment < CLI flags, and validate.

    Args:
        cli: flag values; None means "not given".
        config_file: a TOML file (keys at the top or under ``[node]``).
        env: the environment (default: ``os.environ``).

    Returns:
        The validated settings.

    Raises:
        SettingsError: a value is invalid; the message names the field and its source.
    """
    layers: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        layers.append((f"--config {config_file}", _from_toml(config_file)))
    layers.append(("environment", _from_env(os.environ if env is None else env)))
    layers.append(("flags", {k: v for k, v in cli.items() if v is not None}))
    merged: dict[str, Any] = {}
    source: dict[str, str] = {}
    for where, values in layers:
        merged.update(values)
        source.update(dict.fromkeys(values, where))
    try:
        return NodeSettings.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            origin = source.get(str(error["loc"][0]), "default") if error["loc"] else "settings"
            shown = field.replace("_", "-")
            problems.append(f"{shown} (from {origin}): {error['msg']}")
        raise SettingsError("invalid node settings: " + "; ".join(problems)) from None

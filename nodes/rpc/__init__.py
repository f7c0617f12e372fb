"""The node's wire protocol: generated protobuf/gRPC modules and the codec to Raft values.

Rules: protobuf types stop here. ``codec`` converts them to and from the Raft
core's value types; nothing outside ``nodes.rpc``, ``nodes.server`` and
``nodes.client`` imports the generated modules. Regenerate them after editing
``chaoslab.proto`` with ``python -m nodes.rpc.regenerate`` (grpcio-tools,
mypy-protobuf and ruff, from the ``dev`` extra); ``--check`` tells whether the
committed modules are current (a test runs it). The generated code checks its
runtime: protobuf >= 6.33.5 and grpcio >= 1.81.1.
"""

from nodes.rpc.codec import (
    MAX_INDEX,
    MAX_NODE_ID,
    MAX_TERM,
    SNAPSHOT_CHUNK_BYTES,
    CodecError,
    SnapshotAssembler,
    message_from_pb,
    message_to_pb,
    snapshot_chunks,
)

__all__ = [
    "MAX_INDEX",
    "MAX_NODE_ID",
    "MAX_TERM",
    "SNAPSHOT_CHUNK_BYTES",
    "CodecError",
    "SnapshotAssembler",
    "message_from_pb",
    "message_to_pb",
    "snapshot_chunks",
]

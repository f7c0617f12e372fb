"""The node's wire protocol: generated protobuf/gRPC modules and the codec to Raft values.

Rules: protobuf types stop here. ``codec`` converts them to and from the Raft
core's value types; nothing outside ``nodes.rpc``, ``nodes.server`` and
``nodes.client`` imports the generated modules. Regenerate with
``python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=.
nodes/rpc/chaoslab.proto`` from the repository root.
"""

from nodes.rpc.codec import (
    SNAPSHOT_CHUNK_BYTES,
    CodecError,
    SnapshotAssembler,
    message_from_pb,
    message_to_pb,
    snapshot_chunks,
)

__all__ = [
    "SNAPSHOT_CHUNK_BYTES",
    "CodecError",
    "SnapshotAssembler",
    "message_from_pb",
    "message_to_pb",
    "snapshot_chunks",
]

"""The node's wire protocol: generated protobuf/gRPC modules and the codec to Raft values.

Rules: protobuf types stop here. ``codec`` converts them to and from the Raft
core's value types; nothing outside ``nodes.rpc``, ``nodes.server`` and
``nodes.client`` imports the generated modules. Regenerate from the repository
root with grpcio-tools and mypy-protobuf (typed stubs for the strict mypy run)::

    python -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. \
        --mypy_out=. --mypy_grpc_out=. nodes/rpc/chaoslab.proto

then put ``# ruff: noqa`` on the first line of both ``.pyi`` files and drop the
``# noqa: Y015`` comments (flake8-pyi codes ruff does not know). The
generated code checks its runtime: protobuf >= 6.33.5 and grpcio >= 1.81.1.
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

"""The committed protobuf/gRPC modules are what ``nodes/rpc/chaoslab.proto`` generates."""

from __future__ import annotations

import shutil

import pytest

from nodes.rpc import regenerate


class TestStubs:
    """python -m nodes.rpc.regenerate --check."""

    def test_committed_stubs_are_current(self) -> None:
        """Regenerating from the proto changes nothing (skipped without the dev tools)."""
        pytest.importorskip("grpc_tools", reason="needs grpcio-tools (the dev extra)")
        for tool in ("protoc-gen-mypy", "ruff"):
            if shutil.which(tool) is None:
                pytest.skip(f"needs {tool} on PATH (the dev extra)")

        assert [] == regenerate.stale_files()

"""DESIGN.md's dependency rules: nodes and proxy stand alone; the Raft core is stdlib only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "_pb2" not in p.name)


class TestLayering:
    @pytest.mark.parametrize(
        ("package", "forbidden"),
        [("nodes", {"proxy", "experiments"}), ("proxy", {"nodes", "experiments"})],
    )
    def test_package_does_not_import_its_neighbours(
        self, package: str, forbidden: set[str]
    ) -> None:
        """nodes and proxy import neither each other nor experiments."""
        offenders = {
            str(path.relative_to(ROOT)): sorted(_imports(path) & forbidden)
            for path in _sources(package)
            if _imports(path) & forbidden
        }

        assert {} == offenders

    def test_raft_core_uses_only_the_standard_library(self) -> None:
        """nodes/raft imports nothing outside the standard library and itself."""
        allowed = set(sys.stdlib_module_names) | {"nodes", "__future__"}
        offenders = {
            str(path.relative_to(ROOT)): sorted(_imports(path) - allowed)
            for path in _sources("nodes/raft")
            if _imports(path) - allowed
        }

        assert {} == offenders


def _modules(path: Path) -> set[str]:
    """Every module ``path`` imports, fully dotted (``nodes.client.aio``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


CLIENT_SIDE = ("nodes.client", "nodes.errors", "nodes.kv", "nodes.timing")
"""What experiments may use of nodes: the client, its errors, and the KV command types and
limits the client validates with."""
SIMULATOR = ("experiments/sim/", "experiments/backends/sim.py")
"""The simulator runs the real node code in-process: the one exception, by name."""


class TestClientSideOnly:
    def test_experiments_use_only_the_client_side_of_nodes(self) -> None:
        """Outside the simulator, experiments import nothing of nodes but the client side."""
        offenders = {}
        for path in _sources("experiments"):
            relative = str(path.relative_to(ROOT))
            if relative.startswith(SIMULATOR):
                continue
            server_side = sorted(
                name for name in _modules(path)
                if name.split(".")[0] == "nodes" and name != "nodes"
                and not name.startswith(CLIENT_SIDE)
            )
            if server_side:
                offenders[relative] = server_side

        assert {} == offenders

    def test_only_rpc_server_and_client_import_the_stubs(self) -> None:
        """The generated protobuf stubs stay behind nodes/rpc, nodes/server, nodes/client."""
        allowed = ("nodes/rpc/", "nodes/server/", "nodes/client/")
        offenders = sorted(
            str(path.relative_to(ROOT))
            for package in ("nodes", "proxy", "experiments")
            for path in _sources(package)
            if not str(path.relative_to(ROOT)).startswith(allowed)
            and any("chaoslab_pb2" in name for name in _modules(path))
        )

        assert [] == offenders

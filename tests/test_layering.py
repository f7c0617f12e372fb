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

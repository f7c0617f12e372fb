"""Data-driven Raft scenarios: each ``scenarios/*.txt`` script must print what it expects.

Run ``pytest tests/nodes/raft/test_scenarios.py --rewrite`` to regenerate the
expectations after a deliberate behaviour change, then review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nodes.raft.testing import HANDLERS, Network, parse, render, run

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.txt"))


class TestScenario:
    @pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
    def test_script_prints_its_expectations(
        self, path: Path, request: pytest.FixtureRequest
    ) -> None:
        """Running the script reproduces the expected output under every command."""
        blocks = parse(path.read_text())
        outputs = run(blocks, HANDLERS, Network())
        if request.config.getoption("--rewrite"):
            path.write_text(render(blocks, outputs))
        actual = render(blocks, outputs)

        assert path.read_text() == actual

    def test_scenarios_exist(self) -> None:
        """The scenario directory is not silently empty."""
        names = {p.stem for p in SCENARIOS}

        assert {"election", "figure8", "snapshot"} <= names

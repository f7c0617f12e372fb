"""``chaoslab bench faults`` runs every step against a server and reports each one."""

from __future__ import annotations

import json

from click.testing import CliRunner

from experiments.cli import main
from proxy.control import ToxiproxyControl


class TestBenchFaults:
    def test_json_rows(self, reset: str) -> None:
        """--json prints one row per step, each run --repeat times, and leaves no proxy."""
        result = CliRunner().invoke(
            main, ["bench", "faults", "--url", reset, "--repeat", "2", "--json"]
        )

        rows = json.loads(result.stdout)["rows"]
        steps = {r["step"]: (r["calls"], r["runs"]) for r in rows}
        assert (0, 13, {}, (24, 2), (25, 2)) == (
            result.exit_code,
            len(rows),
            ToxiproxyControl(reset).proxies(),
            steps["partition drop (bisect): apply"],
            steps["heal sweep after drop partition"],
        )

"""``chaoslab bench proxy`` runs end to end with small counts and reports every figure."""

from __future__ import annotations

import json

from click.testing import CliRunner

from experiments.cli import main


class TestBenchProxy:
    def test_small_run_reports_every_figure_as_json(self) -> None:
        """With tiny counts the bench completes every connection and prints JSON figures."""
        args = ["bench", "proxy", "--json", "--round-trips", "20", "--stream-mb", "1"]
        args += ["--connections", "5", "--per-connection-kb", "10", "--samples", "5"]

        result = CliRunner().invoke(main, args)

        figures = {f["metric"]: f for f in json.loads(result.output)["figures"]}
        assert 0 == result.exit_code
        assert 5 == figures["5 concurrent connections completed"]["value"]
        assert {
            "added latency p50 (one hop)",
            "one stream, proxied",
            "latency toxic 50±10 ms: observed p50",
        } <= set(figures)

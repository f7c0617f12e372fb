"""``chaoslab bench storage`` measures both modes on the real disk and reports JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from structlog.testing import capture_logs

from nodes.bench.storage import storage


class TestStorageBench:
    def test_json_reports_both_modes(self, tmp_path: Path) -> None:
        """A short run prints one JSON object per mode, counting entries as saves x batch."""
        with capture_logs():
            result = CliRunner().invoke(
                storage, ["--seconds", "0.05", "--batch", "8", "--dir", str(tmp_path), "--json"]
            )
        rows = json.loads(result.stdout)

        assert 0 == result.exit_code, result.output
        assert [1, 8] == [row["entries_per_save"] for row in rows]
        assert [row["saves"] * row["entries_per_save"] for row in rows] == [
            row["entries"] for row in rows
        ]
        assert [] == list(tmp_path.iterdir())

    def test_bad_batch_is_a_usage_error(self) -> None:
        """A batch size of zero exits 2 naming the option."""
        result = CliRunner().invoke(storage, ["--batch", "0"])

        assert 2 == result.exit_code
        assert "--batch" in result.output

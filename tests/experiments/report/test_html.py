"""report.html is one self-contained page: every part inline, data escaped, written atomically."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from experiments.report import render_run
from experiments.report.html import embed_json
from experiments.report.testing import SampleRuns


class _Collector(HTMLParser):
    """Collects ids, external references and the embedded data of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.external: list[str] = []
        self.data: str | None = None
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        for name in ("src", "href"):
            value = found.get(name) or ""
            if re.match(r"^(https?:)?//", value) or (tag == "link" and name == "href"):
                self.external.append(value)
        self._in_data = found.get("id") == "report-data"

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data = (self.data or "") + data

    def handle_endtag(self, tag: str) -> None:
        self._in_data = False


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


class TestRenderRun:
    def test_passing_report_has_every_section(self, samples: SampleRuns) -> None:
        """The page has the verdict, checks, timeline, charts, availability and faults."""
        page = _parse(render_run(samples.passing))

        assert {"verdict", "checks", "command", "timeline", "overview", "latency", "throughput",
                "availability-table", "faults-table"} <= page.ids
        assert "cx-svg" not in page.ids

    def test_failing_report_has_the_counterexample(self, samples: SampleRuns) -> None:
        """A non-linearizable run gets the counterexample drawing and table."""
        page = _parse(render_run(samples.failing))

        assert {"counterexample", "cx-svg", "cx-table", "cx-zoom"} <= page.ids

    def test_self_contained(self, samples: SampleRuns) -> None:
        """No script, style, font or image is loaded from elsewhere: nothing external."""
        path = render_run(samples.passing)
        text = path.read_text(encoding="utf-8")

        assert [] == _parse(path).external
        assert not re.search(r"<script[^>]+src=|@import|url\(", text)

    def test_data_is_valid_json_with_every_op(self, samples: SampleRuns) -> None:
        """The embedded data parses as JSON and holds one entry per client operation."""
        results = json.loads((samples.passing / "results.json").read_text())
        data = json.loads(_parse(render_run(samples.passing)).data or "")

        assert results["stats"]["operations"] + 3 == len(data["ops"]["start"])  # final reads

    def test_values_cannot_close_the_script(self, old_format: Path) -> None:
        """A value holding "</script>" stays inside the data (escaped), and parses back."""
        page = render_run(old_format)
        data = json.loads(_parse(page).data or "")

        assert "</script><b>3</b>" in data["ops"]["value"]
        assert 2 == page.read_text().count("</script>")  # the data's and the code's own

    def test_rendering_is_deterministic(self, tiny_fail: Path) -> None:
        """Rendering the same run twice gives the same bytes."""
        first = render_run(tiny_fail).read_bytes()

        assert first == render_run(tiny_fail).read_bytes()

    def test_no_temporary_files_left(self, tiny_fail: Path) -> None:
        """The atomic write leaves only report.html behind."""
        render_run(tiny_fail)

        assert [] == [p.name for p in tiny_fail.iterdir() if p.name.startswith(".")]

    def test_old_runs_render(self, old_format: Path) -> None:
        """A run without events, experiment.yaml or availability still renders, saying so."""
        text = render_run(old_format).read_text(encoding="utf-8")

        assert "has no availability figures" in text
        assert 'class="badge unknown"' in text

    def test_large_report_within_budget(self, samples: SampleRuns) -> None:
        """The 20,000-operation report stays well under the 5 MB target."""
        size = render_run(samples.large).stat().st_size

        assert size < 5_000_000


def test_embed_json_escapes_markup() -> None:
    """Every "<" and the JavaScript line separators are escaped; the JSON means the same."""
    text = embed_json({"a": "</script><!--", "b": "\u2028"})

    assert ("<" not in text, {"a": "</script><!--", "b": "\u2028"}) == (
        True, json.loads(text))

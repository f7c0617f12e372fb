"""The three sample reports in a real browser (headless Chromium): they load without a console
error, show what they must, respond to hover, zoom and pan; a screenshot of each is saved.

Screenshots go to ``$CHAOSLAB_SCREENSHOTS`` (default: the test's temporary directory), scaled by
``$CHAOSLAB_SCREENSHOT_SCALE`` (default 1). Skipped, with the reason, when no Chromium exists.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from experiments.report import render_run
from experiments.report.browser import Page, find_chromium, open_page
from experiments.report.testing import SampleRuns

T = TypeVar("T")
pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium: install Debian's chromium (.ci/run does when it can) or set "
           "CHAOSLAB_CHROMIUM")

SUMMARY_JS = """(() => ({
  verdict: document.getElementById("verdict").textContent.trim(),
  checks: document.querySelectorAll("#checks li").length,
  failedChecks: document.querySelectorAll("#checks li.fail").length,
  ready: document.body.dataset.ready === "true",
  timelineHeight: document.querySelector("#timeline canvas").height,
  operations: window.chaoslabReport.operations,
  availabilityRows: document.querySelectorAll("#availability-table tbody tr").length,
  faultButtons: document.querySelectorAll("#timeline-toolbar [data-fault]").length,
  counterexampleBars: document.querySelectorAll("#cx-svg a").length,
  throughputSeries: document.querySelectorAll("#throughput-legend input").length,
}))()"""


@pytest.fixture(name="shots")
def fixture_shots(tmp_path: Path) -> Path:
    """Where screenshots go: $CHAOSLAB_SCREENSHOTS, else this test's temporary directory."""
    chosen = os.environ.get("CHAOSLAB_SCREENSHOTS")
    target = Path(chosen) if chosen else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


def _in_browser(report: Path, body: Callable[[Page], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_page() as page:
            loaded = await page.load(report.resolve().as_uri())
            assert [] == loaded.console_errors
            return await body(page)
    return asyncio.run(run())


def _summary_and_shot(report: Path, shot: Path) -> dict[str, Any]:
    scale = float(os.environ.get("CHAOSLAB_SCREENSHOT_SCALE", "1"))

    async def body(page: Page) -> dict[str, Any]:
        summary: dict[str, Any] = await page.evaluate(SUMMARY_JS)
        shot.write_bytes(await page.screenshot(scale=scale))
        summary["errors"] = list(page.errors)
        return summary
    return _in_browser(report, body)


class TestReportsLoad:
    def test_passing_report(self, samples: SampleRuns, shots: Path) -> None:
        """The passing run: green verdict, 7 checks, every fault as a zoom button, no error."""
        summary = _summary_and_shot(render_run(samples.passing), shots / "report-pass.png")

        assert ("PASS", 7, 0, True, 3, 0, []) == (
            summary["verdict"], summary["checks"], summary["failedChecks"], summary["ready"],
            summary["faultButtons"], summary["counterexampleBars"], summary["errors"])
        assert 8 + 3 == summary["availabilityRows"]
        assert summary["timelineHeight"] > 200
        assert (shots / "report-pass.png").read_bytes().startswith(b"\x89PNG")

    def test_failing_report_with_counterexample(self, samples: SampleRuns, shots: Path) -> None:
        """The failing run: red verdict, its failed checks, the counterexample drawn."""
        summary = _summary_and_shot(render_run(samples.failing), shots / "report-fail.png")

        assert ("FAIL", 2, []) == (summary["verdict"], summary["failedChecks"],
                                   summary["errors"])
        assert summary["counterexampleBars"] >= 3
        assert (shots / "report-fail.png").read_bytes().startswith(b"\x89PNG")

    def test_large_report(self, samples: SampleRuns, shots: Path) -> None:
        """The 20,000-operation run loads with every operation in the timeline and no error."""
        summary = _summary_and_shot(render_run(samples.large), shots / "report-large.png")

        assert ("PASS", True, []) == (summary["verdict"], summary["ready"], summary["errors"])
        assert summary["operations"] > 19_000
        assert (shots / "report-large.png").read_bytes().startswith(b"\x89PNG")


class TestInteraction:
    def test_hover_shows_the_full_operation(self, samples: SampleRuns) -> None:
        """Hovering an operation's bar shows its f, process, node, times and history lines."""
        report = render_run(samples.passing)

        async def body(page: Page) -> str:
            await page.evaluate("window.chaoslabReport.setView(2000000, 2300000)")
            await page.evaluate("new Promise(r => requestAnimationFrame(() => r(0)))")
            where = await page.evaluate(
                "(() => { document.getElementById('timeline').scrollIntoView();"
                " for (let i = 0; i < 400; i++) { const p = window.chaoslabReport.locate(i);"
                " if (p && p.y > 0 && p.y < innerHeight) return p; } return null; })()")
            assert where is not None
            await page.mouse("mouseMoved", where["x"], where["y"])
            text: str = await page.evaluate(
                "document.getElementById('tooltip').hidden ? '' :"
                " document.getElementById('tooltip').innerText")
            return text

        text = _in_browser(report, body)

        assert "history.jsonl lines" in text
        assert "process" in text
        assert "called" in text

    def test_fault_button_zooms_and_drag_pans(self, samples: SampleRuns) -> None:
        """A fault's button zooms every chart onto its window; dragging the timeline pans."""
        report = render_run(samples.passing)

        async def body(page: Page) -> tuple[list[float], list[float]]:
            await page.evaluate("document.querySelector('[data-fault=\"0\"]').click()")
            zoomed = await page.evaluate("[window.chaoslabReport.view.x0,"
                                         " window.chaoslabReport.view.x1]")
            box = await page.evaluate(
                "(() => { const c = document.querySelector('#timeline canvas');"
                " c.scrollIntoView(); const r = c.getBoundingClientRect();"
                " return {x: r.left + r.width / 2, y: r.top + 40}; })()")
            await page.mouse("mousePressed", box["x"], box["y"], button="left")
            await page.mouse("mouseMoved", box["x"] - 200, box["y"], button="left")
            await page.mouse("mouseReleased", box["x"] - 200, box["y"], button="left")
            panned = await page.evaluate("[window.chaoslabReport.view.x0,"
                                         " window.chaoslabReport.view.x1]")
            return zoomed, panned

        zoomed, panned = _in_browser(report, body)

        assert [7_500_000, 22_500_000] == zoomed  # the window, 10-20 s, padded by a quarter
        assert panned[0] > zoomed[0]
        assert round(panned[1] - panned[0]) == round(zoomed[1] - zoomed[0])


class TestSmallRuns:
    def test_hand_written_and_empty_runs_load_cleanly(self, tiny_fail: Path, old_format: Path,
                                                      tmp_path: Path) -> None:
        """Tiny, old-style and empty runs load without a console error."""
        empty = tmp_path / "empty" / "20260101T000000Z-sim-0"
        empty.mkdir(parents=True)
        (empty / "history.jsonl").write_text("")
        (empty / "results.json").write_text("{}")
        reports = [render_run(d) for d in (tiny_fail, old_format, empty)]

        async def run() -> list[list[str]]:
            found = []
            async with open_page() as page:
                for report in reports:
                    loaded = await page.load(report.resolve().as_uri())
                    ready = await page.evaluate("document.body.dataset.ready")
                    found.append([*loaded.console_errors, *([] if ready else ["not ready"])])
                    page.errors.clear()
            return found

        assert [[], [], []] == asyncio.run(run())

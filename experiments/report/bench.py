"""``chaoslab bench report``: report size and render time by history size, and browser load time.

Rules: the sample runs are generated (seeded, untimed) into a temporary
directory; only ``render_run`` is timed (best of ``--repeat``). The browser
figure is the page's own time from navigation to the charts' first drawing
(after the load event) in headless Chromium (best of ``--repeat``), measured
only when a Chromium is installed.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from experiments.report.browser import BrowserError, find_chromium, open_page
from experiments.report.html import render_run
from experiments.report.testing import large_run, write_sample_run

_FIRST_DRAW_JS = """new Promise(done => {
  const since = performance.now();
  (function wait() {
    const drawn = window.chaoslabReport && window.chaoslabReport.firstDrawMs;
    if (drawn) done(drawn);
    else if (performance.now() - since > 20000) done(0);
    else requestAnimationFrame(wait);
  })();
})"""
"""Resolves to the page-clock time of the charts' first drawing (0: not within 20 s)."""


async def _browser_load_ms(report: Path, repeat: int) -> tuple[float, int]:
    """Best time from navigation to the charts drawn, and the console errors of the loads."""
    best, errors = float("inf"), 0
    async with open_page() as page:
        for _ in range(repeat):
            loaded = await page.load(report.resolve().as_uri())
            drawn = float(await page.evaluate(_FIRST_DRAW_JS) or 0)
            best = min(best, max(loaded.load_ms, drawn))
            errors = len(loaded.console_errors)
    return best, errors


def measure(sizes: list[int], repeat: int, *, browser: bool) -> list[dict[str, Any]]:
    """Render a sample run of each size and measure it.

    Args:
        sizes: approximate operation counts.
        repeat: timings per figure (the best is kept).
        browser: also load each report in headless Chromium.

    Returns:
        One row per size: ops, bytes, render_s, and browser_load_ms (navigation
        to charts drawn, or None).
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="chaoslab-bench-report-") as tmp:
        for size in sizes:
            run_dir = write_sample_run(Path(tmp), large_run(size, seed=size))
            operations = json.loads((run_dir / "results.json").read_text())["stats"]["operations"]
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                page = render_run(run_dir)
                best = min(best, time.perf_counter() - started)
            load_ms: float | None = None
            errors = 0
            if browser:
                load_ms, errors = asyncio.run(_browser_load_ms(page, repeat))
            rows.append({"ops": operations, "bytes": page.stat().st_size,
                         "render_s": round(best, 3),
                         "browser_load_ms": None if load_ms is None else round(load_ms, 1),
                         "console_errors": errors})
    return rows


@click.command("report")
@click.option("--ops", default="1000,10000,20000", show_default=True,
              help="Comma-separated history sizes (operations).")
@click.option("--repeat", type=click.IntRange(1, 20), default=3, show_default=True)
@click.option("--browser/--no-browser", default=True, show_default=True,
              help="Also time loading each report in headless Chromium (when installed).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def report_bench(ops: str, repeat: int, browser: bool, as_json: bool) -> None:
    """Report size and render time per history size; browser load time."""
    try:
        sizes = [int(part) for part in ops.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {ops!r}",
                                 param_hint="--ops") from None
    use_browser = browser and find_chromium() is not None
    try:
        rows = measure(sizes, repeat, browser=use_browser)
    except BrowserError as exc:
        raise click.ClickException(f"headless Chromium: {exc}") from None
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="report.html by history size"
                  + ("" if use_browser else " (no Chromium: no load times)"))
    for column in ("operations", "size", "render", "browser load", "console errors"):
        table.add_column(column, justify="right")
    for row in rows:
        load = row["browser_load_ms"]
        table.add_row(str(row["ops"]), f"{row['bytes'] / 1e6:.2f} MB", f"{row['render_s']:.3f} s",
                      "none" if load is None else f"{load:.0f} ms", str(row["console_errors"]))
    Console().print(table)

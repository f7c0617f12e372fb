"""report.html: one self-contained page per run, rendered with Jinja2 from the run's files.

Rules: the page loads nothing from anywhere: its CSS, its script and its data
are inline (the data as JSON in a ``<script type="application/json">``, with
``<`` escaped so no value can close the tag). Writing is atomic (a temporary
file renamed over the old report), so a crash never leaves half a report.

Libraries: Jinja2 for the page (autoescaping every value from the run's
files). The charts are hand-drawn on canvas by ``static/report.js`` (about
30 KB): a plotting library that inlines its JavaScript costs megabytes per
report (plotly.js alone is over 3 MB, Bokeh's about 1 MB) and none draws a
lane-per-process timeline of 20,000 bars with hover, zoom and pan any faster
than a canvas that draws only what is on screen.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from experiments.report.rundir import REPORT, load_run
from experiments.report.view import ReportView, build_view

FORMAT: Final = 1
"""The report's own format version, shown in the page's generator tag."""

_HERE: Final = Path(__file__).parent


@cache
def templates() -> jinja2.Environment:
    """The Jinja2 environment of the report templates (autoescaping HTML)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _asset(name: str) -> str:
    return (_HERE / "static" / name).read_text(encoding="utf-8")


def _version() -> str:
    try:
        return importlib.metadata.version("chaoslab")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source checkout
        return "(source)"


def embed_json(value: Any) -> str:
    """JSON safe to place inside a ``<script>`` element.

    Args:
        value: a JSON-serialisable value.

    Returns:
        Compact JSON with every ``<`` escaped (so ``</script>`` cannot appear).
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _bucket_words(bucket_us: int) -> str:
    seconds = bucket_us / 1e6
    return f"{seconds:g} s" if seconds >= 1 else f"{seconds * 1000:g} ms"


def render_html(view: ReportView) -> str:
    """The report page for a view.

    Args:
        view: what to show (see ``build_view``).

    Returns:
        The complete HTML document.
    """
    template = templates().get_template("report.html")
    return template.render(
        v=view,
        css=Markup(_asset("report.css")),
        js=Markup(_asset("report.js")),
        payload=Markup(embed_json(view.payload)),
        bucket=_bucket_words(int(view.payload.get("bucket_us", 1_000_000))),
        format=FORMAT,
        version=_version(),
    )


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one rename.

    Args:
        path: the file to (over)write.
        text: its new contents.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render_run(run_dir: Path) -> Path:
    """Render ``report.html`` in a run directory from its files.

    Args:
        run_dir: the run directory (history.jsonl and results.json required;
            experiment.yaml and events.jsonl optional).

    Returns:
        The path of the written report.

    Raises:
        RunDirError: a required file is missing or malformed (names which).
    """
    run_dir = Path(run_dir)
    view = build_view(load_run(run_dir))
    path = run_dir / REPORT
    write_atomically(path, render_html(view))
    return path

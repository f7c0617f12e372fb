"""``chaoslab serve``: browse the runs directory on 127.0.0.1, as Jepsen's ``serve`` does.

Rules: listens on 127.0.0.1 only; serves GET/HEAD of files inside the runs
directory and nothing else (paths are resolved and must stay inside it, so
``..`` and symlinks out of it are 404); the index lists at most
``MAX_LISTED`` runs, newest first, filtered by verdict and experiment. A run
without report.html (or junit.xml) gets one rendered on first request, so old
runs are browsable too. Stops on Ctrl-C / SIGTERM, or after ``--for`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Final
from urllib.parse import quote

import click
import structlog
from aiohttp import web

from experiments.report.html import render_run, templates
from experiments.report.junit import write_junit
from experiments.report.listing import find_runs
from experiments.report.rundir import JUNIT, REPORT, RESULTS, RunDirError

MAX_LISTED: Final = 2000
"""The index shows at most this many runs (the newest)."""
_TEXT: Final = {".jsonl": "text/plain", ".json": "application/json", ".yaml": "text/plain",
                ".yml": "text/plain", ".log": "text/plain", ".txt": "text/plain",
                ".xml": "application/xml", ".html": "text/html", ".png": "image/png"}
_RUNS_DIR: Final = web.AppKey("runs_dir", Path)
log = structlog.get_logger(__name__)


async def _index(request: web.Request) -> web.Response:
    root = request.app[_RUNS_DIR]
    every = await asyncio.to_thread(find_runs, root)
    verdict = request.query.get("verdict", "")
    experiment = request.query.get("experiment", "")
    chosen = [r for r in every if (not verdict or r.verdict == verdict)
              and (not experiment or r.experiment == experiment)]
    shown = []
    for run in chosen[:MAX_LISTED]:
        rel = run.dir.relative_to(root).as_posix()
        shown.append({**run.to_json(), "problem": run.problem, "rel": rel,
                      "href": f"/runs/{quote(rel)}/"})
    counts = {v: sum(1 for r in every if r.verdict == v)
              for v in ("pass", "fail", "unknown", "broken")}
    page = templates().get_template("index.html").render(
        runs_dir=str(root), verdict=verdict, experiment=experiment,
        verdicts=[v for v, n in counts.items() if n or v == verdict], counts=counts,
        experiments=sorted({r.experiment for r in every}), shown=shown, total=len(every),
        truncated=len(chosen) > MAX_LISTED)
    return web.Response(text=page, content_type="text/html")


async def _file(request: web.Request) -> web.StreamResponse:
    root = request.app[_RUNS_DIR].resolve()
    target = (root / request.match_info["path"]).resolve()
    if not target.is_relative_to(root):
        raise web.HTTPNotFound(text="outside the runs directory")
    if target.is_dir():
        raise web.HTTPFound(f"/runs/{quote(target.relative_to(root).as_posix())}/{REPORT}")
    run_dir = target.parent
    if not target.exists() and target.name in (REPORT, JUNIT) and (run_dir / RESULTS).exists():
        try:
            await asyncio.to_thread(render_run if target.name == REPORT else write_junit,
                                    run_dir)
        except RunDirError as exc:
            raise web.HTTPUnprocessableEntity(text=f"cannot render this run: {exc}") from None
    if not target.is_file():
        raise web.HTTPNotFound(text=f"no such file: {target.relative_to(root)}")
    kind = _TEXT.get(target.suffix, "application/octet-stream")
    texty = kind.startswith("text/") or kind.endswith(("json", "xml"))
    charset = "; charset=utf-8" if texty else ""
    return web.FileResponse(target, headers={"Content-Type": kind + charset})


def make_app(runs_dir: Path) -> web.Application:
    """The web application serving a runs directory.

    Args:
        runs_dir: the directory holding ``<experiment>/<run>/``.

    Returns:
        The aiohttp application (GET/HEAD only).
    """
    app = web.Application(client_max_size=64 * 1024)
    app[_RUNS_DIR] = Path(runs_dir)
    app.router.add_get("/", _index)
    app.router.add_get("/runs/{path:.+}", _file)
    return app


async def serve_runs(runs_dir: Path, port: int, *, seconds: float | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``seconds`` pass), on 127.0.0.1:``port``.

    Args:
        runs_dir: the runs directory.
        port: the port (0: any free one).
        seconds: stop after this long; None to run until interrupted.
    """
    runner = web.AppRunner(make_app(runs_dir), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        host, bound = runner.addresses[0][:2]
        click.echo(f"serving {runs_dir} on http://{host}:{bound}/ (Ctrl-C to stop)")
        log.info("serving", runs_dir=str(runs_dir), port=bound)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    finally:
        await runner.cleanup()


@click.command("serve")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"),
              show_default=True, help="The runs directory to serve.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--for", "seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
def serve(runs_dir: Path, port: int, seconds: float | None) -> None:
    """Serve the runs directory on 127.0.0.1: an index of runs linking every report."""
    if not runs_dir.is_dir():
        raise click.UsageError(f"--runs-dir {runs_dir}: not a directory")
    try:
        asyncio.run(serve_runs(runs_dir, port, seconds=seconds))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc}") from None

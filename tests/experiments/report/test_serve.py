"""``chaoslab serve``: an index of runs newest first, filters, every report, nothing outside."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from experiments.report.serve import make_app

T = TypeVar("T")
Client = TestClient[web.Request, web.Application]


def _with_client(runs_dir: Path, body: Callable[[Client], Awaitable[T]]) -> T:
    async def run() -> T:
        async with TestClient(TestServer(make_app(runs_dir), host="127.0.0.1")) as client:
            return await body(client)
    return asyncio.run(run())


def _get(runs_dir: Path, url: str) -> tuple[int, str]:
    async def body(client: Client) -> tuple[int, str]:
        response = await client.get(url, allow_redirects=False)
        return response.status, await response.text()
    return _with_client(runs_dir, body)


class TestIndex:
    def test_lists_runs_newest_first_with_links(self, data_runs: Path) -> None:
        """The index links each run's report, newest first."""
        status, page = _get(data_runs, "/")

        assert 200 == status
        first = page.index("/runs/tiny-fail/20260101T000000Z-sim-1/report.html")
        assert 0 < first < page.index("/runs/old-format/20250601T120000Z-local-3/report.html")

    def test_filters_by_verdict_and_experiment(self, data_runs: Path) -> None:
        """?verdict= and ?experiment= keep only the matching runs."""
        _, failing = _get(data_runs, "/?verdict=fail")
        _, old = _get(data_runs, "/?experiment=old-format")

        assert ("tiny-fail/" in failing, "old-format/2" in failing) == (True, False)
        assert ("tiny-fail/" in old, "old-format/2" in old) == (False, True)


class TestFiles:
    def test_report_is_rendered_on_first_request(self, data_runs: Path) -> None:
        """A run without report.html gets one rendered when it is asked for."""
        status, page = _get(data_runs, "/runs/tiny-fail/20260101T000000Z-sim-1/report.html")

        assert (200, True) == (status, page.startswith("<!doctype html>"))
        assert (data_runs / "tiny-fail" / "20260101T000000Z-sim-1" / "report.html").is_file()

    def test_history_is_text(self, data_runs: Path) -> None:
        """history.jsonl is served as UTF-8 text, so a browser shows it."""
        async def body(client: Client) -> str:
            response = await client.get("/runs/tiny-fail/20260101T000000Z-sim-1/history.jsonl")
            return response.headers["Content-Type"]

        assert "text/plain; charset=utf-8" == _with_client(data_runs, body)

    def test_nothing_outside_the_runs_dir(self, data_runs: Path) -> None:
        """Paths escaping the runs directory are 404, even through a symlink."""
        (data_runs.parent / "secret.txt").write_text("no")
        (data_runs / "escape").symlink_to(data_runs.parent)

        assert (404, 404) == (_get(data_runs, "/runs/../secret.txt")[0],
                              _get(data_runs, "/runs/escape/secret.txt")[0])

    def test_run_directory_redirects_to_its_report(self, data_runs: Path) -> None:
        """A run directory URL redirects to its report."""
        status, _ = _get(data_runs, "/runs/tiny-fail/20260101T000000Z-sim-1")

        assert 302 == status

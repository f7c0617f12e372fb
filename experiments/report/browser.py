"""Headless Chromium over the DevTools protocol, for testing reports in a real browser.

Rules: drives Debian's ``chromium`` (or ``$CHAOSLAB_CHROMIUM``) with the
DevTools protocol over a websocket on 127.0.0.1, using aiohttp (already a
dependency) as the websocket client: no driver binary, no browser download
(playwright and pyppeteer fetch their own browser builds, which cannot be
fetched here; selenium needs a matching chromedriver). Only loopback is
reachable from the browser: every host name resolves to nothing except
127.0.0.1, and background networking is off. Every wait is bounded; the
browser process is killed on exit, whatever happened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

from experiments.errors import LabError

CANDIDATES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV_VAR: Final = "CHAOSLAB_CHROMIUM"
START_TIMEOUT_S: Final = 30.0
COMMAND_TIMEOUT_S: Final = 60.0
_FLAGS: Final = (
    "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--no-pings", "--mute-audio",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--hide-scrollbars",
)


class BrowserError(LabError, RuntimeError):
    """The browser could not be started or did not answer in time."""


def find_chromium() -> str | None:
    """The Chromium executable to use: ``$CHAOSLAB_CHROMIUM``, else the first on PATH.

    Returns:
        Its path, or None when there is none.
    """
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return chosen if Path(chosen).exists() else shutil.which(chosen)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(slots=True)
class PageLoad:
    """What loading a page produced.

    Attributes:
        console_errors: console.error / assert messages, uncaught exceptions and
            error log entries (failed loads), in order.
        load_ms: navigation start to the end of the load event (the page's own clock).
    """

    console_errors: list[str] = field(default_factory=list)
    load_ms: float = 0.0


class Page:
    """One tab, reached through its own DevTools websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.errors: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.json()
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
                continue
            self._note(data.get("method", ""), data.get("params", {}))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BrowserError("the browser closed the connection"))

    def _note(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            self.errors.append("console: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in args))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self.errors.append("exception: " + str(exception.get("description")
                                                   or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        queue = self._events.get(method)
        if queue is not None:
            queue.put_nowait(params)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and wait (bounded) for its result.

        Raises:
            BrowserError: the command failed or timed out.
        """
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = future
        await self._ws.send_json({"id": self._next_id, "method": method, "params": params})
        try:
            reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        except TimeoutError:
            msg = f"{method}: no answer within {COMMAND_TIMEOUT_S:g} s"
            raise BrowserError(msg) from None
        if "error" in reply:
            msg = f"{method}: {reply['error'].get('message')}"
            raise BrowserError(msg)
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def load(self, url: str, *, width: int = 1400, height: int = 900) -> PageLoad:
        """Navigate to ``url`` and wait for its load event.

        Args:
            url: what to load (file:// or http://127.0.0.1).
            width: the viewport width in CSS pixels.
            height: the viewport height.

        Returns:
            The console errors so far and the load time.
        """
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable")
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=False)
        loaded = self._events.setdefault("Page.loadEventFired", asyncio.Queue())
        while not loaded.empty():
            loaded.get_nowait()
        await self.send("Page.navigate", url=url)
        try:
            await asyncio.wait_for(loaded.get(), COMMAND_TIMEOUT_S)
        except TimeoutError:
            msg = f"{url}: no load event within {COMMAND_TIMEOUT_S:g} s"
            raise BrowserError(msg) from None
        load_ms = await self.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n ? n.loadEventEnd - n.startTime : 0; })()")
        return PageLoad(console_errors=list(self.errors), load_ms=float(load_ms or 0))

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited).

        Raises:
            BrowserError: the expression threw.
        """
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=True)
        if "exceptionDetails" in result:
            msg = f"{expression[:60]}...: {result['exceptionDetails'].get('text')}"
            raise BrowserError(msg)
        return result.get("result", {}).get("value")

    async def mouse(self, kind: str, x: float, y: float, *, button: str = "none") -> None:
        """Dispatch one mouse event (``mouseMoved``, ``mousePressed``, ``mouseReleased``)."""
        await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button=button,
                        buttons=1 if button == "left" and kind != "mouseReleased" else 0,
                        clickCount=1 if kind != "mouseMoved" else 0)

    async def screenshot(self, *, max_height: int = 6000, scale: float = 1.0) -> bytes:
        """A PNG of the page from its top, up to ``max_height`` CSS pixels, scaled by ``scale``."""
        size = await self.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": 0, "y": 0, "width": size[0], "height": min(size[1], max_height),
            "scale": scale}}
        data = await self.send("Page.captureScreenshot", **params)
        return base64.b64decode(data["data"])

    async def close(self) -> None:
        """Stop reading and close the websocket."""
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def _wait_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_TIMEOUT_S
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"chromium exited at start (code {process.returncode})"
            raise BrowserError(msg)
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int(marker.read_text().splitlines()[0])
        await asyncio.sleep(0.05)
    msg = f"chromium did not open its DevTools port within {START_TIMEOUT_S:g} s"
    raise BrowserError(msg)


@contextlib.asynccontextmanager
async def open_page(executable: str | None = None) -> AsyncIterator[Page]:
    """Start a headless Chromium with a fresh profile and yield its first tab.

    Args:
        executable: the browser (default: ``find_chromium()``).

    Yields:
        The page; the browser is killed and its profile removed afterwards.

    Raises:
        BrowserError: no browser, or it did not start in time.
    """
    browser = executable or find_chromium()
    if browser is None:
        msg = f"no Chromium found (install Debian's chromium or set ${ENV_VAR})"
        raise BrowserError(msg)
    with tempfile.TemporaryDirectory(prefix="chaoslab-chromium-") as profile:
        flags = [*_FLAGS, f"--user-data-dir={profile}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to sandbox as root
        process = subprocess.Popen(  # a long-lived child, killed below
            [browser, *flags, "about:blank"], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port = await _wait_port(Path(profile), process)
            timeout = aiohttp.ClientTimeout(total=COMMAND_TIMEOUT_S)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json()
                pages = [t for t in targets if t.get("type") == "page"]
                if not pages:
                    msg = "chromium has no page to drive"
                    raise BrowserError(msg)
                ws = await session.ws_connect(pages[0]["webSocketDebuggerUrl"],
                                              max_msg_size=256 * 1024 * 1024)
                page = Page(ws)
                try:
                    yield page
                finally:
                    await page.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

"""``chaoslab bench proxy``: what the embedded Toxiproxy server costs and how exact it is.

Rules: measurement only. The proxy server and the target (echo / sink)
server each run in their own process, as they would in use, so the client's
timing is not muddled by one interpreter lock. Every loop is bounded by a
count and every socket by a timeout. Numbers depend on the machine's load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import socket
import statistics
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from multiprocessing.queues import Queue
from typing import Any

import click
import requests
import structlog
from rich.console import Console
from rich.table import Table

from proxy.server import EmbeddedToxiproxy

IO_TIMEOUT_S = 60.0
_ECHO, _SINK = b"E", b"S"
_BLOCK = 256 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """One measured figure."""

    metric: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None


def _quiet_logs() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


async def _handle_target(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo everything (mode E) or read a length-prefixed blob and answer ``k`` (mode S)."""
    try:
        mode = await reader.readexactly(1)
        if mode == _SINK:
            (remaining,) = struct.unpack("!Q", await reader.readexactly(8))
            while remaining > 0:
                data = await reader.read(min(remaining, _BLOCK))
                if not data:
                    return
                remaining -= len(data)
            writer.write(b"k")
        else:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _run_target(queue: Queue[str]) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_handle_target, "127.0.0.1", 0)
        queue.put(f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await asyncio.Event().wait()

    asyncio.run(main())


def _run_proxy_server(queue: Queue[str], seed: int) -> None:
    _quiet_logs()

    async def main() -> None:
        server = EmbeddedToxiproxy("127.0.0.1", 0, seed=seed)
        await server.start()
        queue.put(server.url)
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def _process(target: Any, *args: Any) -> Iterator[str]:
    """Run a server function in a spawned process; yield the address it reports."""
    context = multiprocessing.get_context("spawn")
    queue: Queue[str] = context.Queue()
    process = context.Process(target=target, args=(queue, *args), daemon=True)
    process.start()
    try:
        yield queue.get(timeout=IO_TIMEOUT_S)
    finally:
        process.terminate()
        process.join(IO_TIMEOUT_S)


def _connect(address: str, mode: bytes) -> socket.socket:
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(mode)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = sock.recv(size - len(data))
        if not more:
            raise ConnectionError(f"connection closed after {len(data)} of {size} bytes")
        data += more
    return data


def _round_trips_ms(address: str, count: int, size: int = 64) -> list[float]:
    payload = b"r" * size
    with _connect(address, _ECHO) as sock:
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            sock.sendall(payload)
            _recv_exactly(sock, size)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _sink_seconds(address: str, size: int) -> float:
    block = memoryview(b"s" * _BLOCK)
    with _connect(address, _SINK) as sock:
        start = time.perf_counter()
        sock.sendall(struct.pack("!Q", size))
        sent = 0
        while sent < size:
            chunk = block[: min(_BLOCK, size - sent)]
            sock.sendall(chunk)
            sent += len(chunk)
        _recv_exactly(sock, 1)
        return time.perf_counter() - start


async def _concurrent(address: str, connections: int, size: int) -> tuple[int, float]:
    host, _, port = address.rpartition(":")
    block = b"c" * min(_BLOCK, size)

    async def one() -> bool:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(_SINK + struct.pack("!Q", size))
            sent = 0
            while sent < size:
                piece = block[: size - sent]
                writer.write(piece)
                await writer.drain()
                sent += len(piece)
            return await asyncio.wait_for(reader.readexactly(1), IO_TIMEOUT_S) == b"k"
        finally:
            writer.close()

    start = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(connections)), return_exceptions=True)
    return sum(r is True for r in results), time.perf_counter() - start


class _Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def proxy(self, name: str, upstream: str) -> str:
        body = {"name": name, "upstream": upstream, "listen": "127.0.0.1:0"}
        response = self.session.post(f"{self.url}/proxies", json=body, timeout=IO_TIMEOUT_S)
        response.raise_for_status()
        listen: str = response.json()["listen"]
        return listen

    def toxic(self, proxy: str, **fields: Any) -> None:
        response = self.session.post(
            f"{self.url}/proxies/{proxy}/toxics", json=fields, timeout=IO_TIMEOUT_S
        )
        response.raise_for_status()


def measure(
    *, round_trips: int, stream_mb: int, connections: int, per_connection_kb: int, samples: int
) -> list[Figure]:
    """Run every measurement against fresh server processes.

    Args:
        round_trips: small request/response round trips per path (direct, proxied).
        stream_mb: megabytes pushed through one proxied stream.
        connections: concurrent proxied connections.
        per_connection_kb: kilobytes each concurrent connection pushes.
        samples: round trips per latency-toxic setting.

    Returns:
        The figures, in a stable order.
    """
    figures: list[Figure] = []
    with _process(_run_target) as target, _process(_run_proxy_server, 1) as url:
        api = _Api(url)
        listen = api.proxy("bench", target)
        _round_trips_ms(listen, min(200, round_trips))
        direct = _round_trips_ms(target, round_trips)
        proxied = _round_trips_ms(listen, round_trips)
        added_p50 = _percentile(proxied, 0.5) - _percentile(direct, 0.5)
        figures += [
            Figure(metric="round trip p50, direct", value=_percentile(direct, 0.5), unit="ms"),
            Figure(metric="round trip p50, proxied", value=_percentile(proxied, 0.5), unit="ms"),
            Figure(
                metric="added latency p50 (one hop)",
                value=added_p50,
                unit="ms",
                target="<= 0.3",
                met=added_p50 <= 0.3,
            ),
            Figure(
                metric="added latency p99 (one hop)",
                value=_percentile(proxied, 0.99) - _percentile(direct, 0.99),
                unit="ms",
            ),
        ]
        size = stream_mb * 1_000_000
        direct_rate = size / _sink_seconds(target, size) / 1e6
        stream_rate = size / _sink_seconds(listen, size) / 1e6
        figures += [
            Figure(metric="one stream, direct", value=direct_rate, unit="MB/s"),
            Figure(
                metric="one stream, proxied",
                value=stream_rate,
                unit="MB/s",
                target=">= 50",
                met=stream_rate >= 50,
            ),
        ]
        each = per_connection_kb * 1000
        done, seconds = asyncio.run(_concurrent(listen, connections, each))
        figures += [
            Figure(
                metric=f"{connections} concurrent connections completed",
                value=done,
                unit="conns",
                target=f"= {connections}",
                met=done == connections,
            ),
            Figure(
                metric=f"{connections} concurrent, aggregate",
                value=connections * each / seconds / 1e6,
                unit="MB/s",
            ),
        ]
        base = statistics.median(_round_trips_ms(target, samples))
        for latency, jitter in ((20, 0), (50, 10)):
            name = f"lat{latency}_{jitter}"
            listen = api.proxy(name, target)
            api.toxic(name, type="latency", attributes={"latency": latency, "jitter": jitter})
            added = [rt - base for rt in _round_trips_ms(listen, samples)]
            inside = sum(latency - jitter <= a <= latency + jitter + 2 for a in added)
            label = f"latency toxic {latency}±{jitter} ms"
            figures += [
                Figure(metric=f"{label}: observed p50", value=statistics.median(added), unit="ms"),
                Figure(metric=f"{label}: observed min", value=min(added), unit="ms"),
                Figure(metric=f"{label}: observed max", value=max(added), unit="ms"),
                Figure(
                    metric=f"{label}: share within [L-J, L+J+2ms]",
                    value=100 * inside / len(added),
                    unit="%",
                ),
            ]
    return figures


@click.command("proxy")
@click.option("--round-trips", type=click.IntRange(10, 100_000), default=2000, show_default=True)
@click.option("--stream-mb", type=click.IntRange(1, 4096), default=200, show_default=True)
@click.option("--connections", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option(
    "--per-connection-kb", type=click.IntRange(1, 100_000), default=1000, show_default=True
)
@click.option("--samples", type=click.IntRange(5, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def proxy_bench(
    *,
    round_trips: int,
    stream_mb: int,
    connections: int,
    per_connection_kb: int,
    samples: int,
    as_json: bool,
) -> None:
    """Measure the embedded Toxiproxy: hop latency, throughput, concurrency, toxic accuracy."""
    figures = measure(
        round_trips=round_trips,
        stream_mb=stream_mb,
        connections=connections,
        per_connection_kb=per_connection_kb,
        samples=samples,
    )
    if as_json:
        click.echo(json.dumps({"figures": [asdict(f) for f in figures]}))
        return
    table = Table(title="embedded Toxiproxy server (separate processes, loopback)")
    for column in ("metric", "value", "unit", "target", "met"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        table.add_row(f.metric, f"{f.value:.3f}", f.unit, f.target, met)
    Console().print(table)

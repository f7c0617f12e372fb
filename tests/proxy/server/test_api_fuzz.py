"""Robustness: random requests and garbage never crash the embedded server or leak tasks.

Tried: random methods (the verbs aiohttp's parser knows), paths built from the
API's words plus random segments, bodies of random bytes, random JSON, and
JSON shaped like proxies/toxics with wrong types; raw non-HTTP bytes on the
API port. Listen addresses are drawn from a loopback-only list so the fuzz
never binds a public interface.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.server import ServerThread

DOCUMENTED = {200, 201, 204, 400, 403, 404, 405, 409, 500}
LOOPBACK_LISTENS = ["127.0.0.1:0", "localhost:0", "[::1]:0", "127.0.0.1:99999", "nonsense", None]

words = st.sampled_from(
    ["proxies", "toxics", "populate", "reset", "version", "p", "t", "latency_downstream"]
)
segments = st.one_of(words, st.text(min_size=1, max_size=8).map(lambda s: quote(s, safe="")))
paths = st.lists(segments, min_size=0, max_size=5).map(lambda parts: "/" + "/".join(parts))
# aiohttp's C parser (llhttp) refuses made-up methods with its own 400, where Go would answer
# 404/405: a known difference, so the fuzz draws only methods llhttp knows.
methods = st.sampled_from(
    ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "PURGE"]
)
safe_keys = st.text(max_size=8).filter(lambda k: k.lower() != "listen")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_keys, inner, max_size=3),
    max_leaves=10,
)
proxy_like = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["p", "q", ""]), json_values),
        "upstream": st.one_of(st.just("127.0.0.1:9"), json_values),
        "listen": st.sampled_from(LOOPBACK_LISTENS),
        "enabled": st.one_of(st.booleans(), json_values),
    },
)
toxic_like = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.sampled_from(["t", ""]), json_values),
        "type": st.one_of(st.sampled_from(["latency", "timeout", "slicer", "x"]), json_values),
        "stream": st.one_of(st.sampled_from(["upstream", "DOWNSTREAM", ""]), json_values),
        "toxicity": json_values,
        "attributes": st.one_of(
            json_values, st.dictionaries(st.sampled_from(["latency", "timeout"]), json_values)
        ),
    },
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    proxy_like.map(lambda v: json.dumps(v).encode()),
    st.lists(proxy_like, max_size=3).map(lambda v: json.dumps(v).encode()),
    toxic_like.map(lambda v: json.dumps(v).encode()),
)


async def _task_count() -> int:
    return len(asyncio.all_tasks())


def settle_task_count(server: ServerThread, at_most: int) -> int:
    """The loop's task count (counting itself), polled (50 x 0.1 s) until <= at_most."""
    count = server.call(_task_count())
    for _ in range(50):
        if count <= at_most:
            break
        time.sleep(0.1)
        count = server.call(_task_count())
    return count


@pytest.fixture(name="fuzz_session")
def fixture_fuzz_session(embedded_server: ServerThread) -> Iterator[requests.Session]:
    """A session to the embedded server; every proxy is deleted afterwards."""
    session = requests.Session()
    yield session
    for name in session.get(f"{embedded_server.url}/proxies", timeout=10).json():
        session.delete(f"{embedded_server.url}/proxies/{name}", timeout=10)
    session.close()


def check_response(response: requests.Response) -> None:
    """Assert a response is one Toxiproxy could send."""
    assert response.status_code in DOCUMENTED, (response.status_code, response.text)
    if response.request.method == "HEAD":
        return
    if response.status_code in (400, 409, 500) or (
        response.status_code == 404 and response.text != "404 page not found\n"
    ):
        body: dict[str, Any] = json.loads(response.text)
        assert response.status_code == body["status"]
        assert "internal error" not in body["error"]


class TestApiFuzz:
    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(method=methods, path=paths, body=bodies)
    def test_random_requests_get_documented_answers(
        self,
        embedded_server: ServerThread,
        fuzz_session: requests.Session,
        method: str,
        path: str,
        body: bytes | None,
    ) -> None:
        """Any method, path and body gets a documented status and a well-formed body."""
        fuzz_session.post(
            f"{embedded_server.url}/proxies",
            json={"name": "p", "upstream": "127.0.0.1:9", "listen": "127.0.0.1:0"},
            timeout=10,
        )

        response = fuzz_session.request(method, embedded_server.url + path, data=body, timeout=10)

        check_response(response)

    def test_no_task_growth_and_still_answers(
        self, embedded_server: ServerThread, fuzz_session: requests.Session
    ) -> None:
        """After many mixed requests and garbage, the task count is back and /version answers."""
        baseline = settle_task_count(embedded_server, at_most=1)
        url = embedded_server.url
        for i in range(30):
            fuzz_session.post(
                f"{url}/proxies",
                json={"name": f"n{i}", "upstream": "127.0.0.1:9", "listen": "127.0.0.1:0"},
                timeout=10,
            )
            fuzz_session.post(f"{url}/proxies/n{i}/toxics", json={"type": "latency"}, timeout=10)
            fuzz_session.post(f"{url}/proxies/n{i}/toxics", data=b"\x00garbage", timeout=10)
            fuzz_session.delete(f"{url}/proxies/n{i}", timeout=10)
        host, port = url.removeprefix("http://").split(":")
        for garbage in (b"\x16\x03\x01\x00\xa5", b"GET\r\n\r\n", b"NOT HTTP AT ALL\n" * 100):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(garbage)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
        fuzz_session.close()

        after = settle_task_count(embedded_server, at_most=baseline)
        version = requests.get(f"{url}/version", timeout=10)

        assert (baseline, 200) == (after, version.status_code)

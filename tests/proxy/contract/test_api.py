"""Toxiproxy's HTTP API contract: endpoints, JSON shapes, status codes, error bodies, headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.proxy.contract.conftest import Api

TEXT_PLAIN = "text/plain; charset=utf-8"


def error_body(status: int, message: str) -> str:
    """The exact error body Toxiproxy sends (Go's http.Error adds the newline)."""
    return f'{{"error":"{message}","status":{status}}}\n'


def summary(response: Any) -> tuple[int, str, str]:
    """Status, content type and text of a response."""
    return response.status_code, response.headers.get("Content-Type", ""), response.text


class TestProxies:
    def test_create_show_list_delete(self, api: Api, echo_server: str) -> None:
        """A created proxy is shown with its real port, listed by name, and deleted with 204."""
        created = api.create_proxy("web", echo_server)
        shown = api.request("GET", "/proxies/web").json()
        listed = api.request("GET", "/proxies").json()
        deleted = api.request("DELETE", "/proxies/web").status_code
        after = api.request("GET", "/proxies/web").status_code

        assert ("web", echo_server, True, []) == (
            created["name"],
            created["upstream"],
            created["enabled"],
            created["toxics"],
        )
        assert created["listen"].startswith("127.0.0.1:")
        assert not created["listen"].endswith(":0")
        assert created == shown
        assert {"web": created} == listed
        assert (204, 404) == (deleted, after)

    def test_empty_list_is_an_object(self, api: Api) -> None:
        """GET /proxies with no proxies is ``{}``, typed application/json."""
        response = api.request("GET", "/proxies")

        assert (200, "application/json", "{}") == summary(response)

    def test_duplicate_name_is_409(self, api: Api, echo_server: str) -> None:
        """Creating a name twice is 409 with Toxiproxy's body and text/plain type."""
        api.create_proxy("dup", echo_server)

        response = api.request("POST", "/proxies", {"name": "dup", "upstream": echo_server})

        assert (409, TEXT_PLAIN, error_body(409, "proxy already exists")) == summary(response)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"upstream": "127.0.0.1:1"}, "missing required field: name"),
            ({"name": "x"}, "missing required field: upstream"),
        ],
    )
    def test_missing_fields_are_400(self, api: Api, body: dict[str, str], message: str) -> None:
        """A missing name or upstream is a 400 naming the field."""
        response = api.request("POST", "/proxies", body)

        assert (400, TEXT_PLAIN, error_body(400, message)) == summary(response)

    def test_bad_body_is_400(self, api: Api) -> None:
        """A body that is not JSON is a 400 ``bad request body: ...``."""
        response = api.request("POST", "/proxies", raw=b"{nope")

        assert 400 == response.status_code
        assert response.json()["error"].startswith("bad request body: ")

    def test_localhost_is_shown_as_127_0_0_1(self, api: Api, echo_server: str) -> None:
        """``localhost:0`` is shown as ``127.0.0.1:PORT``."""
        created = api.create_proxy("lh", echo_server, listen="localhost:0")

        assert created["listen"].startswith("127.0.0.1:")

    def test_disabled_proxy_keeps_listen_as_given(self, api: Api, echo_server: str) -> None:
        """A proxy created disabled keeps its listen address unresolved."""
        created = api.create_proxy("off", echo_server, listen="localhost:0", enabled=False)

        assert ("localhost:0", False) == (created["listen"], created["enabled"])

    def test_port_clash_is_500_with_go_message(self, api: Api, echo_server: str) -> None:
        """Binding a port in use is a 500 ``listen tcp ...: bind: address already in use``."""
        taken = api.create_proxy("first", echo_server)["listen"]

        response = api.request(
            "POST", "/proxies", {"name": "second", "upstream": echo_server, "listen": taken}
        )

        message = f"listen tcp {taken}: bind: address already in use"
        assert (500, error_body(500, message)) == (response.status_code, response.text)

    def test_unknown_proxy_is_404(self, api: Api) -> None:
        """Every per-proxy endpoint answers 404 ``proxy not found`` for an unknown name."""
        responses = [
            api.request("GET", "/proxies/ghost"),
            api.request("PATCH", "/proxies/ghost", {"enabled": False}),
            api.request("DELETE", "/proxies/ghost"),
            api.request("GET", "/proxies/ghost/toxics"),
            api.request("POST", "/proxies/ghost/toxics", {"type": "latency"}),
        ]

        assert [(404, error_body(404, "proxy not found"))] * 5 == [
            (r.status_code, r.text) for r in responses
        ]

    def test_update_keeps_omitted_fields(self, api: Api, echo_server: str) -> None:
        """PATCH with only ``enabled`` keeps listen and upstream; re-enabling keeps the port."""
        created = api.create_proxy("p", echo_server)

        disabled = api.request("PATCH", "/proxies/p", {"enabled": False}).json()
        enabled = api.request("POST", "/proxies/p", {"enabled": True}).json()

        assert (False, True) == (disabled["enabled"], enabled["enabled"])
        assert (created["listen"], echo_server) == (enabled["listen"], enabled["upstream"])


class TestPopulate:
    def test_creates_in_input_order(self, api: Api, echo_server: str) -> None:
        """/populate answers 201 with the proxies in input order."""
        body = [
            {"name": "b", "upstream": echo_server, "listen": "127.0.0.1:0"},
            {"name": "a", "upstream": echo_server, "listen": "127.0.0.1:0", "enabled": False},
        ]

        response = api.request("POST", "/populate", body)

        proxies = response.json()["proxies"]
        assert 201 == response.status_code
        assert [("b", True), ("a", False)] == [(p["name"], p["enabled"]) for p in proxies]

    def test_validates_everything_first(self, api: Api, echo_server: str) -> None:
        """A bad entry fails the call with ``proxies: null`` and creates nothing."""
        body = [{"name": "ok", "upstream": echo_server, "listen": "127.0.0.1:0"}, {"name": "x"}]

        response = api.request("POST", "/populate", body)

        assert (400, "application/json") == (
            response.status_code,
            response.headers["Content-Type"],
        )
        assert {
            "error": "missing required field: upstream at proxy 2",
            "status": 400,
            "proxies": None,
        } == response.json()
        assert {} == api.request("GET", "/proxies").json()

    def test_matching_entry_is_untouched_and_changed_one_replaced(
        self, api: Api, echo_server: str
    ) -> None:
        """An identical entry keeps its toxics; a changed upstream replaces it (toxics lost)."""
        same = api.create_proxy("same", echo_server)
        changed = api.create_proxy("changed", echo_server)
        for name in ("same", "changed"):
            api.add_toxic(name, type="latency", attributes={"latency": 1})

        response = api.request(
            "POST",
            "/populate",
            [
                {"name": "same", "upstream": echo_server, "listen": same["listen"]},
                {"name": "changed", "upstream": "127.0.0.1:9", "listen": changed["listen"]},
            ],
        )

        toxics = {p["name"]: len(p["toxics"]) for p in response.json()["proxies"]}
        assert (201, {"same": 1, "changed": 0}) == (response.status_code, toxics)


class TestToxics:
    def test_create_defaults_and_shapes(self, api: Api, echo_server: str) -> None:
        """A toxic defaults to downstream, ``<type>_<stream>``, toxicity 1; create answers 200."""
        api.create_proxy("p", echo_server)

        response = api.request(
            "POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 5}}
        )

        assert (200, "application/json") == (
            response.status_code,
            response.headers["Content-Type"],
        )
        assert {
            "attributes": {"latency": 5, "jitter": 0},
            "name": "latency_downstream",
            "type": "latency",
            "stream": "downstream",
            "toxicity": 1,
        } == response.json()

    def test_list_show_update_delete(self, api: Api, echo_server: str) -> None:
        """Upstream toxics list first; update changes given keys only; delete answers 204."""
        api.create_proxy("p", echo_server)
        api.add_toxic("p", type="latency", name="down", attributes={"latency": 5, "jitter": 1})
        api.add_toxic("p", type="bandwidth", stream="upstream", name="up", toxicity=0.5)

        names = [t["name"] for t in api.request("GET", "/proxies/p/toxics").json()]
        updated = api.request(
            "PATCH", "/proxies/p/toxics/down", {"attributes": {"latency": 9}}
        ).json()
        shown = api.request("GET", "/proxies/p/toxics/down").json()
        deleted = api.request("DELETE", "/proxies/p/toxics/down").status_code
        gone = api.request("GET", "/proxies/p/toxics/down")

        assert ["up", "down"] == names
        assert ({"latency": 9, "jitter": 1}, 1) == (updated["attributes"], updated["toxicity"])
        assert updated == shown
        assert (204, 404, error_body(404, "toxic not found")) == (
            deleted,
            gone.status_code,
            gone.text,
        )

    def test_stream_is_case_insensitive_and_keeps_spelling(
        self, api: Api, echo_server: str
    ) -> None:
        """``UPSTREAM`` is accepted and shown as sent, in the stream and the default name."""
        api.create_proxy("p", echo_server)

        toxic = api.add_toxic("p", type="noop", stream="UPSTREAM")

        assert ("noop_UPSTREAM", "UPSTREAM") == (toxic["name"], toxic["stream"])

    def test_names_are_unique_across_streams(self, api: Api, echo_server: str) -> None:
        """A name taken downstream cannot be used upstream: 409."""
        api.create_proxy("p", echo_server)
        api.add_toxic("p", type="latency", name="t")

        response = api.request(
            "POST", "/proxies/p/toxics", {"type": "latency", "name": "t", "stream": "upstream"}
        )

        assert (409, TEXT_PLAIN, error_body(409, "toxic already exists")) == summary(response)

    @pytest.mark.parametrize(
        ("body", "status", "message"),
        [
            (
                {"type": "latency", "stream": ""},
                400,
                "stream was invalid, can be either upstream or downstream",
            ),
            ({"type": "lag"}, 400, "invalid toxic type"),
            (
                {"type": "lag", "stream": "both"},
                400,
                "stream was invalid, can be either upstream or downstream",
            ),
        ],
    )
    def test_bad_stream_and_type(
        self, api: Api, echo_server: str, body: dict[str, str], status: int, message: str
    ) -> None:
        """Bad streams and types are 400s; the stream is checked before the type."""
        api.create_proxy("p", echo_server)

        response = api.request("POST", "/proxies/p/toxics", body)

        assert (status, error_body(status, message)) == (response.status_code, response.text)

    @pytest.mark.parametrize("value", [100.0, "100", 1.5])
    def test_attributes_must_be_ints(self, api: Api, echo_server: str, value: object) -> None:
        """A float (even 100.0) or a string attribute is a 400 bad request body."""
        api.create_proxy("p", echo_server)

        response = api.request(
            "POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": value}}
        )

        assert 400 == response.status_code
        assert response.json()["error"].startswith("bad request body: ")

    def test_duplicate_is_checked_before_attributes(self, api: Api, echo_server: str) -> None:
        """A taken name with bad attributes is a 409, not a 400."""
        api.create_proxy("p", echo_server)
        api.add_toxic("p", type="latency")

        response = api.request(
            "POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": "x"}}
        )

        assert 409 == response.status_code

    def test_unknown_attributes_are_ignored(self, api: Api, echo_server: str) -> None:
        """Unknown attribute keys are dropped silently."""
        api.create_proxy("p", echo_server)

        toxic = api.add_toxic("p", type="timeout", attributes={"timeout": 3, "bogus": 1})

        assert {"timeout": 3} == toxic["attributes"]


class TestServer:
    def test_reset_enables_and_clears_but_keeps_proxies(self, api: Api, echo_server: str) -> None:
        """/reset answers 204, re-enables every proxy and removes every toxic."""
        api.create_proxy("p", echo_server)
        api.add_toxic("p", type="latency")
        api.request("PATCH", "/proxies/p", {"enabled": False})

        status = api.request("POST", "/reset").status_code
        proxy = api.request("GET", "/proxies/p").json()

        assert (204, True, []) == (status, proxy["enabled"], proxy["toxics"])

    def test_version_is_json(self, api: Api) -> None:
        """/version is ``{"version": "2.x.y"}`` plus a newline."""
        response = api.request("GET", "/version")

        assert 200 == response.status_code
        assert response.text.endswith("}\n")
        assert response.json()["version"].startswith("2.")

    def test_unknown_path_wrong_method_and_browsers(self, api: Api) -> None:
        """Unknown paths get Go's 404 text, wrong methods an empty 405, browsers a 403."""
        missing = api.request("GET", "/nowhere")
        wrong = api.request("PUT", "/proxies")
        browser = api.request("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0"})

        assert (404, "404 page not found\n") == (missing.status_code, missing.text)
        assert (405, "") == (wrong.status_code, wrong.text)
        assert (403, "User agent not allowed\n") == (browser.status_code, browser.text)

    def test_responses_carry_a_request_id(self, api: Api) -> None:
        """Matched routes answer with an X-Toxiproxy-Request-Id header."""
        response = api.request("GET", "/proxies")

        assert response.headers.get("X-Toxiproxy-Request-Id")

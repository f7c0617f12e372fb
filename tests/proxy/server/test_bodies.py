"""Request bodies: defaults, Toxiproxy's order of checks, and the float32 toxicity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.server import bodies
from proxy.server.chain import ToxicChain, float32_json, to_float32
from proxy.server.errors import ApiError
from proxy.server.streams import Direction
from proxy.server.toxics import Latency


def error_of(call: object) -> tuple[int, str]:
    """Run a zero-argument callable expected to raise ApiError; return (status, message)."""
    assert callable(call)
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.status, caught.value.message


class TestProxyBodies:
    def test_create_defaults(self) -> None:
        """listen defaults to "" and enabled to true."""
        spec = bodies.proxy_create(b'{"name": "a", "upstream": "h:1"}')

        assert bodies.ProxySpec(name="a", listen="", upstream="h:1", enabled=True) == spec

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (b'{"upstream": "h:1"}', (400, "missing required field: name")),
            (b'{"name": "a", "upstream": ""}', (400, "missing required field: upstream")),
            (
                b'{"name": 1}',
                (
                    400,
                    "bad request body: json: cannot unmarshal number 1 into"
                    " Go struct field Proxy.name of type string",
                ),
            ),
        ],
    )
    def test_create_errors(self, body: bytes, expected: tuple[int, str]) -> None:
        """Missing fields and wrong types are 400s with Toxiproxy's messages."""
        assert expected == error_of(lambda: bodies.proxy_create(body))

    def test_update_keeps_omitted_keys_and_the_name(self) -> None:
        """Omitted keys keep their values; a name in the body is ignored."""
        current = bodies.ProxySpec(name="a", listen="l:1", upstream="u:1", enabled=True)

        spec = bodies.proxy_update(b'{"name": "z", "enabled": false}', current)

        assert bodies.ProxySpec(name="a", listen="l:1", upstream="u:1", enabled=False) == spec

    def test_populate_checks_every_entry_first(self) -> None:
        """A missing field anywhere fails the whole body, naming the entry from 1."""
        body = b'[{"name": "a", "upstream": "u:1"}, {"name": "b"}]'

        assert (400, "missing required field: upstream at proxy 2") == error_of(
            lambda: bodies.populate(body)
        )

    def test_populate_null_is_empty(self) -> None:
        """A null body is an empty list."""
        assert [] == bodies.populate(b"null")


class TestToxicCreate:
    def test_defaults(self) -> None:
        """stream downstream, name <type>_<stream>, toxicity 1, attributes 0."""
        spec = bodies.toxic_create(b'{"type": "latency"}', lambda _: False)

        assert (
            bodies.ToxicSpec(
                name="latency_downstream",
                stream="downstream",
                direction=Direction.DOWNSTREAM,
                toxicity=1.0,
                toxic=Latency(),
            )
            == spec
        )

    def test_stream_parses_case_insensitively_keeping_the_spelling(self) -> None:
        """``UpStream`` is upstream, and the name and stream keep the caller's spelling."""
        spec = bodies.toxic_create(b'{"type": "noop", "stream": "UpStream"}', lambda _: False)

        assert ("noop_UpStream", "UpStream", Direction.UPSTREAM) == (
            spec.name,
            spec.stream,
            spec.direction,
        )

    @pytest.mark.parametrize(
        ("body", "taken", "expected"),
        [
            (b"[]", False, 400),
            (b'{"type": "nope", "stream": "sideways"}', False, 400),
            (b'{"type": "latency", "stream": ""}', False, 400),
            (b'{"type": "nope"}', True, 400),
            (b'{"type": "latency", "attributes": {"latency": "1"}}', True, 409),
            (b'{"type": "latency", "attributes": {"latency": 1.0}}', False, 400),
            (b'{"type": "latency", "attributes": 5}', True, 400),
        ],
    )
    def test_checks_run_in_toxiproxys_order(self, body: bytes, taken: bool, expected: int) -> None:
        """Body, stream, type, duplicate name, then attributes: the first failing check wins."""
        status, message = error_of(lambda: bodies.toxic_create(body, lambda _: taken))

        kinds = {
            "bad request body": 400,
            "stream was invalid": 400,
            "invalid toxic type": 400,
            "toxic already exists": 409,
        }
        assert expected == status
        assert any(message.startswith(prefix) for prefix in kinds)

    def test_invalid_stream_is_reported_before_invalid_type(self) -> None:
        """With both a bad stream and a bad type, the stream error wins."""
        body = b'{"type": "nope", "stream": "sideways"}'

        assert (400, "stream was invalid, can be either upstream or downstream") == error_of(
            lambda: bodies.toxic_create(body, lambda _: False)
        )


class TestToxicUpdate:
    def test_given_attributes_change_and_toxicity_is_kept(self) -> None:
        """Only given attribute keys change; absent toxicity keeps its value."""
        chain = ToxicChain()
        entry, _ = chain.append(
            name="l",
            stream="downstream",
            direction=Direction.DOWNSTREAM,
            toxicity=0.5,
            toxic=Latency(latency=10, jitter=2),
        )

        toxic, toxicity = bodies.toxic_update(b'{"attributes": {"jitter": 5}}', entry)

        assert (Latency(latency=10, jitter=5), 0.5) == (toxic, toxicity)


class TestFloat32:
    @pytest.mark.parametrize(
        ("value", "shown"), [(1.0, 1), (0.5, 0.5), (0.1, 0.1), (0.0, 0), (-2.0, -2)]
    )
    def test_shown_as_go_writes_float32(self, value: float, shown: float) -> None:
        """Integral toxicity is written without a fraction; others in their shortest form."""
        assert shown == float32_json(to_float32(value))

    @settings(max_examples=200)
    @given(value=st.floats(-1e30, 1e30, allow_nan=False))
    def test_shown_value_reads_back_the_same_float32(self, value: float) -> None:
        """The shortest form parses back to the same float32."""
        stored = to_float32(value)

        assert stored == to_float32(float(float32_json(stored)))

"""Go-flavoured JSON decoding and encoding of API bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.server.decode import DecodeError, GoType, decode_struct, dump, parse

FIELDS = {"name": GoType.STRING, "enabled": GoType.BOOL, "toxicity": GoType.FLOAT32}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


class TestParse:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"", "EOF"),
            (b"  \n", "EOF"),
            (b'{"name": ', "unexpected EOF"),
            (b"x", "invalid character 'x' looking for beginning of value"),
            (b"NaN", "invalid character 'N' looking for beginning of value"),
        ],
    )
    def test_bad_bodies_get_go_messages(self, body: bytes, message: str) -> None:
        """Empty, truncated and non-JSON bodies fail with Go's decoder wording."""
        with pytest.raises(DecodeError) as caught:
            parse(body)

        assert message == str(caught.value)

    def test_only_the_first_value_is_read(self) -> None:
        """Bytes after the first JSON value are ignored, as json.Decoder.Decode does."""
        value = parse(b'{"a": 1} trailing garbage')

        assert {"a": 1} == value

    def test_lone_surrogates_become_replacement_characters(self) -> None:
        """A lone UTF-16 surrogate decodes to U+FFFD, as in Go."""
        value = parse(b'"a\\ud800b"')

        assert "a\ufffdb" == value

    @settings(max_examples=100)
    @given(value=json_values)
    def test_dump_then_parse_round_trips(self, value: Any) -> None:
        """What dump writes, parse reads back unchanged (HTML escaping included)."""
        cleaned = parse(json.dumps(value).encode())

        assert cleaned == parse(dump(cleaned))


class TestDecodeStruct:
    def test_keys_match_case_insensitively_and_unknown_keys_are_ignored(self) -> None:
        """``NAME`` fills ``name``; an exact-case key wins; unknown keys are dropped."""
        fields = decode_struct(
            {"NAME": "a", "name": "b", "other": 1}, struct="toxiproxy.Proxy", fields=FIELDS
        )

        assert {"name": "b"} == fields

    def test_null_leaves_fields_unset(self) -> None:
        """A null field (or a null body) decodes to nothing."""
        assert ({}, {}) == (
            decode_struct({"name": None}, struct="toxiproxy.Proxy", fields=FIELDS),
            decode_struct(None, struct="toxiproxy.Proxy", fields=FIELDS),
        )

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ([], "json: cannot unmarshal array into Go value of type toxiproxy.Proxy"),
            (
                {"enabled": "yes"},
                "json: cannot unmarshal string into Go struct field Proxy.enabled of type bool",
            ),
            (
                {"toxicity": 1e39},
                "json: cannot unmarshal number 1e+39 into Go struct field Proxy.toxicity"
                " of type float32",
            ),
        ],
    )
    def test_wrong_types_are_refused(self, value: Any, message: str) -> None:
        """A non-object body or a field of the wrong Go type is a decode error."""
        with pytest.raises(DecodeError) as caught:
            decode_struct(value, struct="toxiproxy.Proxy", fields=FIELDS)

        assert message == str(caught.value)


class TestDump:
    def test_compact_and_html_safe(self) -> None:
        """Output is compact, UTF-8, with <, > and & escaped as Go does."""
        data = dump({"a": "<é&>"})

        assert '{"a":"\\u003cé\\u0026\\u003e"}'.encode() == data

"""The write path's checks before proposing: sizes computed exactly, without encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.kv import Cas, Delete, InvalidCommand, Put, encode_command
from nodes.server.limits import MAX_CLIENT_ID_BYTES, MAX_COMMAND_BYTES
from nodes.server.writes import check_command, encoded_size

text = st.text(max_size=40)
keys = st.text(min_size=1, max_size=20)
sessions = st.one_of(
    st.tuples(st.none(), st.none()),
    st.tuples(st.text(min_size=1, max_size=20), st.integers(min_value=1, max_value=2**63)),
)
commands = st.one_of(
    st.builds(lambda k, v, s: Put(key=k, value=v, client_id=s[0], seq=s[1]), keys, text, sessions),
    st.builds(lambda k, s: Delete(key=k, client_id=s[0], seq=s[1]), keys, sessions),
    st.builds(
        lambda k, e, n, s: Cas(key=k, expected=e, new=n, client_id=s[0], seq=s[1]),
        keys,
        st.none() | text,
        text,
        sessions,
    ),
)


class TestEncodedSize:
    """encoded_size(c) == len(encode_command(c)), for every command."""

    @settings(max_examples=300, deadline=None)
    @given(command=commands)
    def test_matches_the_encoding(self, command: Put | Delete | Cas) -> None:
        """Quotes, backslashes, control characters and non-ASCII text are counted exactly."""
        assert len(encode_command(command)) == encoded_size(command)


class TestCheckCommand:
    """Commands that do not fit the log are refused before they are proposed."""

    def test_long_client_id_is_refused(self) -> None:
        """A client id over 256 bytes is InvalidCommand naming the limit."""
        command = Put(key="k", value="v", client_id="c" * (MAX_CLIENT_ID_BYTES + 1), seq=1)

        with pytest.raises(InvalidCommand, match="client_id is 257 bytes"):
            check_command(command)

    def test_escapes_that_overflow_the_log_limit_are_refused(self) -> None:
        """A value within 1 MiB that JSON escaping would blow past the command limit (every
        character a control character, 6 bytes each) is refused before proposing."""
        command = Put(key="k", value="\x01" * (1024 * 1024))

        with pytest.raises(InvalidCommand, match=f"the limit is {MAX_COMMAND_BYTES}"):
            check_command(command)

    def test_a_maximal_value_fits(self) -> None:
        """A 1 MiB plain value passes and its encoded size is returned."""
        command = Put(key="k", value="x" * (1024 * 1024))

        assert len(encode_command(command)) == check_command(command)

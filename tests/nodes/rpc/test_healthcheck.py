"""The lean container healthcheck: verdict by exit status, a line saying why."""

from __future__ import annotations

import socket

import pytest

from nodes.rpc.healthcheck import main


def _unbound_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_node_that_does_not_answer_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens: exit 1, and the line names the gRPC status."""
    code = main([f"127.0.0.1:{_unbound_port()}", "0.5"])

    assert (1, "unhealthy: UNAVAILABLE") == (code, capsys.readouterr().out[:22])


@pytest.mark.parametrize("argv", [[], ["127.0.0.1:1", "nan"], ["127.0.0.1:1", "0"],
                                  ["127.0.0.1:1", "1", "extra"], [""]])
def test_a_wrong_command_line_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 with the usage, never a traceback (argv in the test id)."""
    code = main(argv)

    assert (2, True) == (code, capsys.readouterr().err.startswith("usage:"))

"""The ``chaoslab`` entry point wires its subcommands and rejects bad input with exit 2."""

from __future__ import annotations

from click.testing import CliRunner

from experiments.cli import main


class TestMain:
    def test_help_lists_usage(self) -> None:
        """``chaoslab --help`` exits 0 and describes the tool."""
        result = CliRunner().invoke(main, ["--help"])

        assert 0 == result.exit_code
        assert "chaoslab" in result.output

    def test_unknown_command_is_bad_input(self) -> None:
        """An unknown subcommand is a usage error: exit 2 naming the command."""
        result = CliRunner().invoke(main, ["no-such-command"])

        assert 2 == result.exit_code
        assert "no-such-command" in result.output

"""The scenario-script machinery: parsing, command splitting, errors and rewriting."""

from __future__ import annotations

import pytest

from nodes.raft.testing import HANDLERS, Network, ScriptError, parse, render, run
from nodes.raft.testing.script import split_command


class TestParse:
    def test_blocks_keep_comments_and_expectations(self) -> None:
        """Each block has its comments, command and expected output."""
        blocks = parse("# hello\nheal\n----\nok\n\nstate\n----\n1 crashed\n")

        assert [(("# hello",), "heal", "ok"), ((), "state", "1 crashed")] == [
            (b.comments, b.command, b.expected) for b in blocks
        ]

    def test_missing_separator_names_the_line(self) -> None:
        """A command without ``----`` under it is reported with its line number."""
        with pytest.raises(ScriptError) as info:
            parse("heal\n----\nok\n\nstate\nnope\n")

        assert 5 == info.value.line


class TestSplitCommand:
    def test_parentheses_group_words(self) -> None:
        """``drop=(2 3)`` is one option with both ids."""
        name, args = split_command("deliver from=1 drop=(2 3)")

        assert ("deliver", {1}, {2, 3}) == (name, args.ids("from"), args.ids("drop"))


class TestRun:
    def test_unknown_command_is_a_script_error(self) -> None:
        """An unknown command fails with the script's line, not a KeyError."""
        with pytest.raises(ScriptError) as info:
            run(parse("\nfly 1\n----\nok\n"), HANDLERS, Network())

        assert 2 == info.value.line

    def test_render_round_trips(self) -> None:
        """Rendering the actual outputs of a passing script gives the script back."""
        text = (
            "# c\nadd-nodes 1\n----\n"
            "1 follower term=0 vote=0 lead=0 commit=0 applied=0 log=1..0 last_term=0\n"
            "\nheal\n----\nok\n"
        )
        blocks = parse(text)

        assert text == render(blocks, run(blocks, HANDLERS, Network()))

    def test_deliver_drop_loses_messages(self) -> None:
        """``deliver drop=(2)`` loses messages to node 2 and delivers the rest."""
        script = "add-nodes 3 pre_vote=false\n----\n\ncampaign 1\n----\n\ndeliver drop=(2)\n----\n"
        outputs = run(parse(script), HANDLERS, Network())

        assert ["dropped 1->2 VOTE term=1 last=0/0", "1->3 VOTE term=1 last=0/0"] == outputs[
            2
        ].splitlines()

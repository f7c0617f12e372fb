"""``messages.fast_init``: the cheaper ``__init__`` of the hot value types is the
dataclass's in every way a caller can see."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from nodes.raft import Entry, EntryType, HardState, Message, MessageType, Ready, SoftState
from nodes.raft.messages import ReadState, fast_init
from nodes.raft.ready import Role

FAST = (Entry, HardState, Message, ReadState, Ready, SoftState)


def _plain(cls: type) -> type:
    """The same class as the dataclass decorator alone would make it."""
    return dataclass(frozen=True, slots=True, kw_only=True)(
        type(cls.__name__, (), {"__annotations__": dict(cls.__annotations__), **{
            f.name: f.default for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING
        }, "__module__": cls.__module__})
    )


class TestFastInit:
    @pytest.mark.parametrize("cls", FAST)
    def test_signature_is_the_dataclass_one(self, cls: type) -> None:
        """Same keyword-only parameters, in the same order, with the same defaults."""

        assert str(inspect.signature(_plain(cls))) == str(inspect.signature(cls))

    def test_values_equality_hash_and_repr(self) -> None:
        """A message built by the fast ``__init__`` holds every field given or defaulted."""
        entry = Entry(term=2, index=7, data=b"x")
        m = Message(type=MessageType.APP, to=2, frm=1, term=3, entries=(entry,), commit=5)

        assert (MessageType.APP, 2, 1, 3, 0, 0, (entry,), 5, False, 0, None, b"", 0, False) == (
            tuple(getattr(m, f.name) for f in dataclasses.fields(m))
        )
        assert m == Message(type=MessageType.APP, to=2, frm=1, term=3, entries=(entry,), commit=5)
        assert hash(m) == hash(dataclasses.replace(m))
        assert repr(m).startswith("Message(type=<MessageType.APP: 'app'>, to=2, frm=1, term=3")
        assert EntryType.NORMAL is entry.type
        assert Ready() == Ready(hard_state=None, messages=())
        assert SoftState(role=Role.LEADER).leader_id == 0
        assert HardState() == HardState(term=0, vote=0, commit=0)

    def test_still_frozen_and_keyword_only(self) -> None:
        """Assignment is refused; positional or missing arguments fail as before."""
        m = Message(type=MessageType.VOTE, to=1, frm=2)

        with pytest.raises(dataclasses.FrozenInstanceError):
            m.term = 9  # type: ignore[misc]
        with pytest.raises(TypeError):
            Message(MessageType.VOTE, 1, 2)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="frm"):
            Message(type=MessageType.VOTE, to=1)  # type: ignore[call-arg]

    def test_refuses_default_factories(self) -> None:
        """A default_factory would need calling per instance: not supported."""

        @dataclass(frozen=True, slots=True, kw_only=True)
        class WithFactory:
            items: list[int] = field(default_factory=list)

        with pytest.raises(TypeError, match="default_factory"):
            fast_init(WithFactory)

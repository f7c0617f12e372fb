"""The KV state machine: operations, limits, sessions, snapshots, determinism."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.kv import (
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    ApplyOrderError,
    Cas,
    Command,
    Delete,
    EmptyKey,
    Get,
    InvalidSession,
    InvalidSnapshot,
    KeyTooLarge,
    KvStateMachine,
    Mismatch,
    Noop,
    NotFound,
    Ok,
    Put,
    Rejected,
    StaleSequence,
    ValueTooLarge,
    decode_command,
    encode_command,
)


class Applier:
    """Feeds commands to a state machine at increasing indexes."""

    def __init__(self, machine: KvStateMachine) -> None:
        self.machine = machine
        self.index = 0

    def __call__(self, command: Command | bytes) -> object:
        self.index += 1
        data = command if isinstance(command, bytes) else encode_command(command)
        return self.machine.apply(self.index, data)


@pytest.fixture(name="apply")
def _apply() -> Applier:
    return Applier(KvStateMachine())


class TestOperations:
    def test_put_then_get(self, apply: Applier) -> None:
        """A put is visible to a later get."""
        apply(Put(key="k", value="v"))

        assert Ok(value="v") == apply(Get(key="k"))

    def test_get_absent_key(self, apply: Applier) -> None:
        """Reading a key never written is NotFound."""
        assert NotFound() == apply(Get(key="nope"))

    def test_delete(self, apply: Applier) -> None:
        """Delete removes a key; deleting it again is NotFound."""
        apply(Put(key="k", value="v"))

        assert [Ok(), NotFound(), NotFound()] == [
            apply(Delete(key="k")),
            apply(Delete(key="k")),
            apply(Get(key="k")),
        ]

    def test_cas_success_and_mismatch(self, apply: Applier) -> None:
        """cas writes only when the current value matches, and reports the value it found."""
        apply(Put(key="k", value="a"))

        assert [Ok(), Mismatch(current="b"), Ok(value="b")] == [
            apply(Cas(key="k", expected="a", new="b")),
            apply(Cas(key="k", expected="a", new="c")),
            apply(Get(key="k")),
        ]

    def test_cas_expected_none_means_absent(self, apply: Applier) -> None:
        """cas with expected None succeeds only while the key is absent."""
        assert [Ok(), Mismatch(current="x")] == [
            apply(Cas(key="k", expected=None, new="x")),
            apply(Cas(key="k", expected=None, new="y")),
        ]

    def test_empty_entry_is_a_noop(self, apply: Applier) -> None:
        """An empty entry (a leader's no-op) changes nothing but the applied index."""
        result = apply(b"")

        assert (Noop(), 1, 0) == (result, apply.machine.applied_index, len(apply.machine))

    def test_old_index_is_a_programming_error(self, apply: Applier) -> None:
        """Applying an index at or below the applied index raises ApplyOrderError."""
        apply(Put(key="k", value="v"))

        with pytest.raises(ApplyOrderError, match="indexes must increase"):
            apply.machine.apply(1, encode_command(Put(key="k", value="w")))


class TestLimits:
    def test_empty_key(self) -> None:
        """An empty key is refused when the command is built."""
        with pytest.raises(EmptyKey, match="empty"):
            Put(key="", value="v")

    def test_key_too_large_names_limit_and_size(self) -> None:
        """A key over 1 KiB of UTF-8 is refused with its size and the limit."""
        key = "é" * (MAX_KEY_BYTES // 2 + 1)

        with pytest.raises(
            KeyTooLarge, match=f"{MAX_KEY_BYTES + 2} bytes.*limit is {MAX_KEY_BYTES}"
        ):
            Get(key=key)

    def test_key_at_the_limit_is_fine(self) -> None:
        """A key of exactly 1 KiB is accepted."""
        assert MAX_KEY_BYTES == len(Get(key="k" * MAX_KEY_BYTES).key)

    def test_value_too_large(self) -> None:
        """A value over 1 MiB of UTF-8 is refused with its size and the limit."""
        with pytest.raises(ValueTooLarge, match=f"limit is {MAX_VALUE_BYTES}"):
            Put(key="k", value="v" * (MAX_VALUE_BYTES + 1))

    def test_cas_expected_value_is_checked(self) -> None:
        """The expected value of a cas obeys the value limit too."""
        with pytest.raises(ValueTooLarge, match="expected value"):
            Cas(key="k", expected="v" * (MAX_VALUE_BYTES + 1), new="n")

    def test_half_a_session_is_refused(self) -> None:
        """A client_id without a seq is refused."""
        with pytest.raises(InvalidSession, match="together"):
            Put(key="k", value="v", client_id="c")

    def test_oversized_value_in_the_log_is_rejected_at_apply(self, apply: Applier) -> None:
        """Bytes in the log that break a limit are rejected deterministically, not applied."""
        data = b'[1,"put","k","' + b"v" * (MAX_VALUE_BYTES + 1) + b'",null,null]'
        result = apply(data)

        assert isinstance(result, Rejected)
        assert "limit is" in result.reason
        assert NotFound() == apply(Get(key="k"))


class TestEncoding:
    @settings(max_examples=50)
    @given(
        key=st.text(min_size=1, max_size=20),
        value=st.text(max_size=20),
        expected=st.none() | st.text(max_size=5),
        session=st.none() | st.tuples(st.text(min_size=1, max_size=5), st.integers(1, 2**40)),
    )
    def test_round_trip(
        self, key: str, value: str, expected: str | None, session: tuple[str, int] | None
    ) -> None:
        """Every command decodes to itself."""
        client_id, seq = session if session else (None, None)
        commands: list[Command] = [
            Get(key=key, client_id=client_id, seq=seq),
            Put(key=key, value=value, client_id=client_id, seq=seq),
            Delete(key=key, client_id=client_id, seq=seq),
            Cas(key=key, expected=expected, new=value, client_id=client_id, seq=seq),
        ]

        assert commands == [decode_command(encode_command(c)) for c in commands]

    def test_equal_commands_equal_bytes(self) -> None:
        """Encoding is deterministic."""
        assert encode_command(Put(key="k", value="ü")) == encode_command(Put(key="k", value="ü"))

    @settings(max_examples=200)
    @given(data=st.binary(max_size=64) | st.text(max_size=40).map(str.encode))
    def test_garbage_is_rejected_not_raised(self, data: bytes) -> None:
        """Arbitrary bytes applied as a command never raise: they are applied or Rejected."""
        machine = KvStateMachine()
        result = machine.apply(1, data)

        assert isinstance(result, Ok | NotFound | Mismatch | Rejected | Noop)

    @pytest.mark.parametrize(
        "data",
        [
            b"\xff\xfe",
            b"{}",
            b'[2,"get","k",null,null]',
            b'[1,"get",5,null,null]',
            b'[1,"put","k",null,null,null]',
            b'[1,"nop","k",null,null]',
            b'[1,"get","k","c",true]',
        ],
    )
    def test_malformed_examples(self, data: bytes, apply: Applier) -> None:
        """Known-bad encodings give Rejected with a reason."""
        result = apply(data)

        assert isinstance(result, Rejected)


class TestSessions:
    def test_retry_applies_once_and_returns_the_original_result(self, apply: Applier) -> None:
        """A duplicated cas (same client and seq) takes effect once and repeats its result."""
        apply(Put(key="k", value="a"))
        command = Cas(key="k", expected="a", new="b", client_id="c1", seq=1)
        first = apply(command)
        apply(Put(key="k", value="a"))
        retry = apply(command)

        assert (Ok(), Ok()) == (first, retry)
        assert Ok(value="a") == apply(Get(key="k"))

    def test_older_sequence_is_stale(self, apply: Applier) -> None:
        """A command older than the client's last applied one gets StaleSequence."""
        apply(Put(key="k", value="a", client_id="c1", seq=5))

        assert StaleSequence(last_seq=5) == apply(Put(key="k", value="z", client_id="c1", seq=4))
        assert Ok(value="a") == apply(Get(key="k"))

    def test_unsafe_switch_applies_retries_again(self) -> None:
        """With the UNSAFE dedupe switch a retried cas is applied twice (the seeded bug)."""
        apply = Applier(KvStateMachine(unsafe_disable_session_dedupe=True))
        apply(Put(key="k", value="a"))
        command = Cas(key="k", expected="a", new="b", client_id="c1", seq=1)
        apply(command)
        apply(Put(key="k", value="a"))

        assert Ok() == apply(command)
        assert Ok(value="b") == apply(Get(key="k"))

    def test_least_recently_used_session_is_evicted(self) -> None:
        """With max_sessions=2, the client not heard from longest is forgotten (B, not A or C).

        B's forgotten retry is applied again; C's retry is still deduplicated.
        """
        apply = Applier(KvStateMachine(max_sessions=2))
        apply(Put(key="a", value="1", client_id="A", seq=1))
        apply(Put(key="b", value="1", client_id="B", seq=1))
        apply(Put(key="a", value="2", client_id="A", seq=2))
        apply(Put(key="c", value="1", client_id="C", seq=1))
        apply(Put(key="b", value="x", client_id="B", seq=1))
        apply(Put(key="c", value="x", client_id="C", seq=1))

        assert [Ok(value="x"), Ok(value="1")] == [apply(Get(key="b")), apply(Get(key="c"))]

    @settings(max_examples=30, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_replicas_agree(self, seed: int) -> None:
        """Two replicas applying the same random commands end with identical snapshots."""
        rng = random.Random(seed)
        commands = [random_command(rng) for _ in range(80)]
        replicas = [Applier(KvStateMachine(max_sessions=3)) for _ in range(2)]
        results = [[replica(c) for c in commands] for replica in replicas]

        assert results[0] == results[1], f"seed={seed}"
        assert replicas[0].machine.snapshot() == replicas[1].machine.snapshot(), f"seed={seed}"


def random_command(rng: random.Random) -> Command:
    """A random command over few keys and clients, often a retry."""
    key = rng.choice("xyz")
    client = rng.choice([None, "A", "B", "C", "D", "E"])
    seq = rng.randint(1, 6) if client else None
    kind = rng.randrange(4)
    if kind == 0:
        return Get(key=key, client_id=client, seq=seq)
    if kind == 1:
        return Put(key=key, value=str(rng.randrange(5)), client_id=client, seq=seq)
    if kind == 2:
        return Delete(key=key, client_id=client, seq=seq)
    expected = rng.choice([None, *map(str, range(5))])
    return Cas(key=key, expected=expected, new=str(rng.randrange(5)), client_id=client, seq=seq)


class TestSnapshot:
    @settings(max_examples=30, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def test_restore_gives_an_equal_machine(self, seed: int) -> None:
        """A restored replica has equal snapshot bytes and answers the next commands the same."""
        rng = random.Random(seed)
        original = Applier(KvStateMachine(max_sessions=3))
        for _ in range(40):
            original(random_command(rng))
        restored = Applier(KvStateMachine(max_sessions=3))
        restored.machine.restore(original.machine.snapshot())
        restored.index = original.index
        tail = [random_command(rng) for _ in range(40)]

        assert original.machine.snapshot() == restored.machine.snapshot(), f"seed={seed}"
        assert [original(c) for c in tail] == [restored(c) for c in tail], f"seed={seed}"

    def test_snapshot_carries_applied_index(self, apply: Applier) -> None:
        """The applied index travels with the snapshot."""
        apply(Put(key="k", value="v"))
        apply(b"")
        machine = KvStateMachine()
        machine.restore(apply.machine.snapshot())

        assert (2, "v") == (machine.applied_index, machine.get("k"))

    @pytest.mark.parametrize("data", [b"", b"[]", b'{"v":9}', b"\xff", b'{"v":1,"applied":1}'])
    def test_garbage_snapshot_is_refused(self, data: bytes) -> None:
        """restore of bytes that are not a KV snapshot raises InvalidSnapshot."""
        with pytest.raises(InvalidSnapshot):
            KvStateMachine().restore(data)

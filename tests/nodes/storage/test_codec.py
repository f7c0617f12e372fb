"""The binary encodings round-trip and reject damaged bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.raft.messages import Entry, EntryType, HardState, Snapshot, SnapshotMeta
from nodes.storage.codec import (
    RECORD_HEADER,
    AnchorRecord,
    EntriesRecord,
    PayloadError,
    decode_hard_state,
    decode_payload,
    decode_snapshot,
    encode_anchor,
    encode_entries,
    encode_hard_state,
    encode_snapshot,
    next_valid_record,
    record_at,
)

u64 = st.integers(min_value=0, max_value=2**64 - 1)
entry_lists = st.lists(
    st.builds(
        lambda term, data, kind: (term, data, kind),
        u64,
        st.binary(max_size=64),
        st.sampled_from(list(EntryType)),
    ),
    max_size=8,
)


def _payload(record: bytes) -> bytes:
    payload = record_at(record, 0)
    assert isinstance(payload, bytes)
    return payload


class TestEntriesRecord:
    @settings(max_examples=60)
    @given(commit=u64, first=st.integers(min_value=1, max_value=2**40), items=entry_lists)
    def test_round_trip(
        self, commit: int, first: int, items: list[tuple[int, bytes, EntryType]]
    ) -> None:
        """Any group commit decodes to the commit index and entries it was built from."""
        entries = tuple(
            Entry(term=term, index=first + i, type=kind, data=data)
            for i, (term, data, kind) in enumerate(items)
        )

        decoded = decode_payload(_payload(encode_entries(commit, entries)))

        assert EntriesRecord(commit=commit, entries=entries) == decoded

    def test_flipped_bit_fails_checksum(self) -> None:
        """A single flipped payload bit makes the record invalid, naming the checksum."""
        record = bytearray(encode_entries(3, [Entry(term=1, index=1, data=b"hello")]))
        record[RECORD_HEADER.size + 5] ^= 0x10

        assert "checksum mismatch" == record_at(bytes(record), 0)

    def test_truncated_record_is_torn(self) -> None:
        """A record cut short reports that it runs past the end of the file."""
        record = encode_entries(0, [Entry(term=1, index=1, data=b"abc")])

        assert "record runs past the end of the file" == record_at(record[:-1], 0)

    def test_next_valid_record_skips_garbage(self) -> None:
        """The scan for a following valid record finds it after garbage bytes."""
        garbage = b"\xff" * 13
        buf = garbage + encode_anchor(5, 2, keep_suffix=True)

        assert len(garbage) == next_valid_record(buf, 0)

    def test_checksummed_garbage_payload_is_an_error(self) -> None:
        """A payload that passes its checksum but does not parse raises PayloadError."""
        with pytest.raises(PayloadError, match="unknown record kind 9"):
            decode_payload(b"\x09abc")


class TestAnchorRecord:
    def test_round_trip(self) -> None:
        """An anchor keeps its index, term and keep-suffix decision."""
        decoded = decode_payload(_payload(encode_anchor(10, 3, keep_suffix=False)))

        assert AnchorRecord(index=10, term=3, keep_suffix=False) == decoded


class TestHardStateFile:
    def test_round_trip(self) -> None:
        """Term, vote and commit survive encoding."""
        state = HardState(term=7, vote=3, commit=42)

        assert state == decode_hard_state(encode_hard_state(state))

    def test_bit_flip_is_rejected(self) -> None:
        """A damaged hard state file is refused, not misread."""
        data = bytearray(encode_hard_state(HardState(term=7, vote=3, commit=42)))
        data[10] ^= 1

        with pytest.raises(PayloadError, match="checksum"):
            decode_hard_state(bytes(data))


class TestSnapshotFile:
    @settings(max_examples=30)
    @given(
        index=u64,
        term=u64,
        voters=st.lists(st.integers(min_value=1, max_value=99), max_size=5),
        data=st.binary(max_size=256),
    )
    def test_round_trip(self, index: int, term: int, voters: list[int], data: bytes) -> None:
        """Metadata and data survive encoding."""
        snapshot = Snapshot(
            meta=SnapshotMeta(index=index, term=term, voters=tuple(voters)), data=data
        )

        assert snapshot == decode_snapshot(encode_snapshot(snapshot))

    def test_truncated_file_is_rejected(self) -> None:
        """A snapshot file missing its last byte fails its checks."""
        data = encode_snapshot(Snapshot(meta=SnapshotMeta(index=1, term=1, voters=(1,)), data=b"x"))

        with pytest.raises(PayloadError):
            decode_snapshot(data[:-1])

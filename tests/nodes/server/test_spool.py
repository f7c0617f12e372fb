"""Receiving snapshot streams: to disk, bounded, one at a time, nothing left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from nodes.raft import Message, MessageType, Snapshot, SnapshotMeta
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import snapshot_chunks
from nodes.server.spool import SnapshotSpool, SpoolBusy, SpoolTooLarge, StreamInvalid

DATA = bytes(range(256)) * 4000  # ~1 MB


def chunks(data: bytes = DATA) -> list[pb.SnapshotChunk]:
    """A snapshot stream (header, then 256 KiB pieces)."""
    meta = SnapshotMeta(index=5, term=1, voters=(1, 2, 3))
    message = Message(
        type=MessageType.SNAP, to=2, frm=1, term=1, snapshot=Snapshot(meta=meta, data=data)
    )
    return list(snapshot_chunks(message))


async def _stream(items: Iterable[pb.SnapshotChunk]) -> AsyncIterator[pb.SnapshotChunk]:
    for item in items:
        yield item


def receive(spool: SnapshotSpool, items: Iterable[pb.SnapshotChunk]) -> tuple[int, bytes]:
    """Run one receive; the header's sender and the data."""
    first, data = asyncio.run(spool.receive(_stream(items), lambda chunk: None))
    return first.header.frm, data


class TestSpool:
    """SnapshotSpool."""

    def test_round_trip_leaves_no_file(self, tmp_path: Path) -> None:
        """The data comes back whole and the partial file is gone."""
        spool = SnapshotSpool(tmp_path / "in", max_bytes=len(DATA))

        frm, data = receive(spool, chunks())

        assert (1, DATA, []) == (frm, data, list((tmp_path / "in").iterdir()))

    def test_too_large_is_refused_and_removed(self, tmp_path: Path) -> None:
        """One byte over the limit is SpoolTooLarge; nothing stays on disk."""
        spool = SnapshotSpool(tmp_path / "in", max_bytes=len(DATA) - 1)

        with pytest.raises(SpoolTooLarge, match="limit"):
            receive(spool, chunks())

        assert [] == list((tmp_path / "in").iterdir())

    @pytest.mark.parametrize(
        ("items", "fragment"),
        [
            ([], "empty"),
            ([pb.SnapshotChunk(data=b"x")], "start with its header"),
            ([*chunks(b"ab"), chunks(b"cd")[0]], "two headers"),
        ],
        ids=["empty", "no-header", "two-headers"],
    )
    def test_malformed_streams(
        self, tmp_path: Path, items: list[pb.SnapshotChunk], fragment: str
    ) -> None:
        """Streams without a header first, with two, or empty are StreamInvalid."""
        spool = SnapshotSpool(tmp_path / "in", max_bytes=10**9)

        with pytest.raises(StreamInvalid, match=fragment):
            receive(spool, items)

    def test_header_check_runs_before_any_data(self, tmp_path: Path) -> None:
        """A header refused by the check stops the stream before a byte of data is kept."""
        spool = SnapshotSpool(tmp_path / "in", max_bytes=10**9)

        def refuse(_chunk: pb.SnapshotChunk) -> None:
            raise PermissionError("stranger")

        with pytest.raises(PermissionError):
            asyncio.run(spool.receive(_stream(chunks()), refuse))

        assert [] == list((tmp_path / "in").iterdir())

    def test_one_slot(self, tmp_path: Path) -> None:
        """With one slot a second stream is refused at once (SpoolBusy), then allowed."""
        spool = SnapshotSpool(tmp_path / "in", max_bytes=10, slots=1)

        with spool.slot(), pytest.raises(SpoolBusy), spool.slot():
            pass
        with spool.slot():
            done = True

        assert done

    def test_clear_removes_leftovers(self, tmp_path: Path) -> None:
        """clear() creates the directory and removes partial files of a crashed run."""
        directory = tmp_path / "in"
        directory.mkdir()
        (directory / "x.snapshot.part").write_bytes(b"partial")
        (directory / "keep.txt").write_bytes(b"other")

        SnapshotSpool(directory, max_bytes=1).clear()

        assert ["keep.txt"] == sorted(p.name for p in directory.iterdir())

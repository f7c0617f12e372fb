"""Receive a streamed snapshot onto disk, with bounded memory, one stream at a time.

Rules: the header (first chunk) is handed to the caller before any data is read, so a
stream from a stranger is refused before it costs a byte of disk. Data chunks go
straight to a file in the spool directory; only a complete stream within
``max_bytes`` is read back, once, for validation and install. At most ``slots``
streams are received at once; another one is refused at once (``SpoolBusy``) rather
than queued, so memory never holds more than ``slots`` snapshots. Files are removed
whatever happens; ``clear`` removes leftovers of a crashed node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from nodes.errors import NodeError
from nodes.rpc import chaoslab_pb2 as pb

SUFFIX = ".snapshot.part"


class SpoolError(NodeError):
    """A snapshot stream was refused (the message says why)."""


class SpoolBusy(SpoolError):
    """Every receive slot is taken; the sender should retry later."""


class SpoolTooLarge(SpoolError):
    """The stream carried more data than the limit."""


class StreamInvalid(SpoolError):
    """The stream is malformed (no header first, or a second header)."""


class SnapshotSpool:
    """Receive snapshot streams into ``directory``.

    Args:
        directory: where partial snapshots are written (created when missing).
        max_bytes: the largest snapshot data accepted.
        slots: streams received at once.
    """

    def __init__(self, directory: Path, *, max_bytes: int, slots: int = 1) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._free = slots

    def clear(self) -> None:
        """Create the directory and remove partial snapshots left by an earlier run.

        Raises:
            OSError: the directory cannot be created or listed.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob("*" + SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one receive slot for the duration of a stream.

        Raises:
            SpoolBusy: none is free.
        """
        if self._free <= 0:
            msg = "another snapshot is being received; retry later"
            raise SpoolBusy(msg)
        self._free -= 1
        try:
            yield
        finally:
            self._free += 1

    async def receive(
        self,
        chunks: AsyncIterator[pb.SnapshotChunk],
        check_header: Callable[[pb.SnapshotChunk], None],
    ) -> tuple[pb.SnapshotChunk, bytes]:
        """Read a whole stream: ``check_header`` sees the first chunk before any data.

        Returns:
            The first chunk (header, cluster id) and the snapshot's data.

        Raises:
            StreamInvalid: the stream is empty, does not start with a header or has two.
            SpoolTooLarge: more than ``max_bytes`` of data.
            Exception: whatever ``check_header`` raises.
        """
        first: pb.SnapshotChunk | None = None
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=SUFFIX, dir=self.directory)
        path = Path(name)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    if first is None:
                        if not chunk.HasField("header"):
                            msg = "a snapshot stream must start with its header"
                            raise StreamInvalid(msg)
                        check_header(chunk)
                        first = chunk
                    elif chunk.HasField("header"):
                        msg = "a snapshot stream carries two headers"
                        raise StreamInvalid(msg)
                    size += len(chunk.data)
                    if size > self.max_bytes:
                        msg = f"snapshot data passes the {self.max_bytes}-byte limit"
                        raise SpoolTooLarge(msg)
                    out.write(chunk.data)
            if first is None:
                msg = "an empty snapshot stream"
                raise StreamInvalid(msg)
            data = await asyncio.to_thread(path.read_bytes)
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return first, data

"""Directions and chunks: the data that flows through one link of a proxied connection.

Rules: plain values only; no IO, no clocks, no randomness here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: Largest socket read, as Toxiproxy's: a chunk is one read, never a packet.
CHUNK_SIZE = 32 * 1024


class Direction(enum.Enum):
    """Which way a link carries bytes."""

    UPSTREAM = "upstream"
    """Client to server."""
    DOWNSTREAM = "downstream"
    """Server to client."""

    @classmethod
    def parse(cls, text: str) -> Direction | None:
        """Parse a stream name case-insensitively, as Toxiproxy does.

        Args:
            text: the caller's spelling, e.g. ``"UpStream"``.

        Returns:
            The direction, or None when the text names neither.
        """
        lowered = text.lower()
        for direction in cls:
            if direction.value == lowered:
                return direction
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """One read from a socket on its way through a chain of toxics.

    Attributes:
        data: the bytes (never empty).
        stamp: event-loop time of the read; latency toxics move it forward.
    """

    data: bytes
    stamp: float


#: What flows through a chain: a chunk, or None for the source's end of stream.
Item = Chunk | None

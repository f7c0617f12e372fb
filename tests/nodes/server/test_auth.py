"""Peer authentication: the secret file, the token, and the check every peer call passes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from nodes.server.auth import (
    CLUSTER_KEY,
    TOKEN_KEY,
    PeerAuthError,
    PeerCredentials,
    peer_metadata,
    peer_token,
    read_secret,
    write_secret,
)


class TestSecretFile:
    """The secret is created owner-only and refused when others could read it."""

    def test_created_owner_only_and_kept(self, tmp_path: Path) -> None:
        """write_secret makes a 0600 file of 64 hex digits; a second call keeps it."""
        path = tmp_path / "peer.secret"

        first = write_secret(path)
        content = path.read_text()
        second = write_secret(path)

        assert (True, False, 0o600, 64) == (
            first,
            second,
            stat.S_IMODE(path.stat().st_mode),
            len(content.strip()),
        )
        assert content == path.read_text()

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
    def test_readable_by_others_is_refused(self, tmp_path: Path, mode: int) -> None:
        """A secret that group or others may read is refused, with the chmod to run."""
        path = tmp_path / "peer.secret"
        write_secret(path)
        path.chmod(mode)

        with pytest.raises(PeerAuthError, match=f"mode {mode:04o} .*chmod 600"):
            read_secret(path)

    def test_missing_and_short_secrets_are_refused(self, tmp_path: Path) -> None:
        """A missing file and a too-short secret are refused, naming the file."""
        short = tmp_path / "short"
        short.write_text("abc\n")
        short.chmod(0o600)

        with pytest.raises(PeerAuthError, match="cannot read it"):
            read_secret(tmp_path / "missing")
        with pytest.raises(PeerAuthError, match="shorter than 16 bytes"):
            read_secret(short)


class TestToken:
    """What travels is a per-cluster HMAC of the secret, checked in constant time."""

    def test_token_depends_on_secret_and_cluster(self) -> None:
        """Another secret or another cluster id gives another token; the secret never
        appears in the metadata."""
        secret = b"s" * 32
        metadata = dict(peer_metadata(secret, "lab", 3))

        tokens = {peer_token(secret, "lab"), peer_token(b"t" * 32, "lab"), peer_token(secret, "x")}

        assert 3 == len(tokens)
        assert ("lab", False) == (metadata[CLUSTER_KEY], secret.decode() in str(metadata))

    def test_accepts_only_the_clusters_token(self, tmp_path: Path) -> None:
        """Credentials accept their own token and refuse another's, a missing one, and
        everything when the node has no secret."""
        path = tmp_path / "peer.secret"
        write_secret(path)
        mine = PeerCredentials.load(cluster_id="lab", secret_file=path)
        theirs = PeerCredentials(cluster_id="lab", token=peer_token(b"x" * 32, "lab"))
        none = PeerCredentials.load(cluster_id="lab", secret_file=None)

        assert (True, False, False, False) == (
            mine.accepts(mine.metadata(1)),
            mine.accepts(theirs.metadata(1)),
            mine.accepts([]),
            none.accepts(none.metadata(1)),
        )
        assert TOKEN_KEY == mine.metadata(1)[0][0]

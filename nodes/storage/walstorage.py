"""``WalStorage``: the crash-safe ``Storage`` over any ``FileSystem``.

Rules: the only class that sequences writes. A data directory holds
``hardstate``, ``wal-<seq>.log`` segments and ``snap-<index>.snap`` files
(and, after a crash, ``*.tmp`` leftovers of unfinished atomic writes, which
recovery removes). Anything else is a foreign file: refuse to start. Under
``SyncPolicy.ALWAYS`` each ``save`` performs one fsync for the whole batch
(a group commit), plus the hard state file's fsyncs when term or vote
changed. Any ``OSError`` while writing poisons the object: that call and
every later one raise ``StorageFailure``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import PurePath

import structlog

from nodes.raft.messages import Entry, HardState, RestoredState, Snapshot, SnapshotMeta
from nodes.storage import hardstate, snapshots
from nodes.storage.atomic import TEMP_SUFFIX
from nodes.storage.codec import AnchorRecord, encode_anchor, encode_entries
from nodes.storage.fs import FileSystem
from nodes.storage.interface import (
    CorruptLogError,
    DataDirError,
    RecoveryReport,
    StorageFailure,
    StorageUsageError,
    SyncPolicy,
    check_entries,
)
from nodes.storage.replay import LogView
from nodes.storage.wal import ScannedRecord, Wal, parse_segment_name

_log = structlog.get_logger()
DEFAULT_SEGMENT_BYTES = 8 << 20


class WalStorage:
    """Hard state file + segmented WAL + snapshot files in one directory.

    Args:
        fs: the file system (``OsFileSystem`` for real, ``SimFileSystem`` in tests).
        directory: the data directory (created when missing).
        sync: the fsync policy; ``SyncPolicy.UNSAFE_NEVER`` is a lab switch
            that loses acknowledged writes on a crash.
        segment_bytes: roll over to a new WAL segment past this size.
    """

    def __init__(
        self,
        fs: FileSystem,
        directory: PurePath,
        *,
        sync: SyncPolicy = SyncPolicy.ALWAYS,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        self._fs = fs
        self._dir = directory
        self._policy = sync
        self._sync = sync is SyncPolicy.ALWAYS
        self._wal = Wal(fs, directory, sync=self._sync, segment_bytes=segment_bytes)
        self._state = "new"
        self._failure: str | None = None
        self._durable_term_vote = (0, 0)
        self._commit = 0
        self._snapshot_meta: SnapshotMeta | None = None
        self._snapshot_indexes: list[int] = []
        self._first_term_index = 1
        self._terms: list[int] = []
        self._report = RecoveryReport()
        if not self._sync:
            _log.warning(
                "storage_sync_policy_unsafe",
                policy=sync.value,
                directory=str(directory),
                detail="UNSAFE: fsync disabled; acknowledged writes are lost on a crash",
            )

    # -- read helpers -------------------------------------------------------------------

    @property
    def last_index(self) -> int:
        """Index of the last stored entry (the snapshot's when the log is empty)."""
        return self._first_term_index - 1 + len(self._terms)

    @property
    def snapshot_index(self) -> int:
        """Index of the newest saved snapshot (0 when none)."""
        return 0 if self._snapshot_meta is None else self._snapshot_meta.index

    @property
    def wal_segments(self) -> int:
        """Number of WAL segment files."""
        return self._wal.segment_count

    @property
    def recovery_report(self) -> RecoveryReport:
        """What the last ``load`` repaired or passed over."""
        return self._report

    def term_at(self, index: int) -> int | None:
        """The term of the stored entry at ``index`` (or of the snapshot), None when unknown."""
        if self._snapshot_meta is not None and index == self._snapshot_meta.index:
            return self._snapshot_meta.term
        offset = index - self._first_term_index
        if 0 <= offset < len(self._terms):
            return self._terms[offset]
        return 0 if index == 0 else None

    # -- Storage ------------------------------------------------------------------------

    def load(self) -> RestoredState:
        """Recover hard state, newest valid snapshot and log (see ``Storage.load``)."""
        if self._state != "new":
            msg = f"load() may be called once, on a fresh WalStorage (it is {self._state})"
            raise StorageUsageError(msg)
        self._state = "loading (or failed to load)"
        with self._guard("load"):
            segment_seqs, snapshot_indexes, removed = self._inspect_directory()
            hard = hardstate.load_hard_state(self._fs, self._dir)
            snapshot, skipped, _ = snapshots.load_newest(
                self._fs, self._dir, snapshot_indexes
            )
            records, dropped = self._wal.recover(segment_seqs)
            view, max_commit = self._replay(records)
            meta = None if snapshot is None else snapshot.meta
            if not view.covers(meta):
                self._refuse_gap(view, meta)
            if meta is not None:
                view.cut_at_snapshot(meta)
            self._snapshot_meta = meta
            self._snapshot_indexes = snapshot_indexes
            if self._wal.segment_count == 0:
                first = (
                    b"" if meta is None else encode_anchor(meta.index, meta.term, keep_suffix=True)
                )
                self._wal.rotate(first, self.snapshot_index)
        self._report = RecoveryReport(
            dropped_tails=tuple(dropped),
            skipped_snapshots=tuple(skipped),
            removed_temp_files=tuple(removed),
        )
        entries = tuple(view.entries)
        self._first_term_index = (view.start or 0) + 1
        self._terms = [entry.term for entry in entries]
        newest_term = max(entries[-1].term if entries else 0, 0 if meta is None else meta.term)
        hardstate.check_covers_log(
            self._fs, self._dir, hard, newest_term=newest_term, last_index=self.last_index
        )
        commit = max(hard.commit, max_commit, self.snapshot_index)
        if commit > self.last_index:
            _log.warning("storage_commit_clamped", commit=commit, last_index=self.last_index)
            commit = self.last_index
        self._commit = commit
        self._durable_term_vote = (hard.term, hard.vote)
        self._state = "open"
        _log.info(
            "storage_loaded",
            directory=str(self._dir),
            term=hard.term,
            snapshot_index=self.snapshot_index,
            last_index=self.last_index,
            commit=commit,
            clean=self._report.clean,
        )
        return RestoredState(
            hard_state=HardState(term=hard.term, vote=hard.vote, commit=commit),
            snapshot=snapshot,
            entries=entries,
        )

    def save(self, *, hard_state: HardState | None, entries: Sequence[Entry]) -> None:
        """Persist one ``Ready`` batch as one group commit (see ``Storage.save``)."""
        self._check_open("save")
        check_entries(entries)
        kept = [entry for entry in entries if entry.index > self.snapshot_index]
        if kept and kept[0].index > self.last_index + 1:
            msg = (
                f"save: entries start at {kept[0].index} but the log ends at {self.last_index}; "
                "that would leave a gap"
            )
            raise StorageUsageError(msg)
        with self._guard("save"):
            if hard_state is not None:
                self._commit = max(self._commit, hard_state.commit)
                if (hard_state.term, hard_state.vote) != self._durable_term_vote:
                    hard = HardState(
                        term=hard_state.term, vote=hard_state.vote, commit=self._commit
                    )
                    hardstate.save_hard_state(self._fs, self._dir, hard, sync=self._sync)
                    self._durable_term_vote = (hard.term, hard.vote)
            if kept:
                self._wal.append(encode_entries(self._commit, kept), kept[-1].index)
                del self._terms[kept[0].index - self._first_term_index :]
                self._terms.extend(entry.term for entry in kept)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Persist a snapshot, then compact the log it covers (see ``Storage.save_snapshot``)."""
        self._check_open("save_snapshot")
        meta = snapshot.meta
        if meta.index <= self.snapshot_index:
            _log.debug("snapshot_ignored_stale", index=meta.index, current=self.snapshot_index)
            return
        with self._guard("save_snapshot"):
            snapshots.save(self._fs, self._dir, snapshot, sync=self._sync)
            keep = meta.index < self.last_index and self.term_at(meta.index) == meta.term
            self._wal.rotate(encode_anchor(meta.index, meta.term, keep_suffix=keep), meta.index)
            if keep:
                del self._terms[: meta.index - self._first_term_index + 1]
            else:
                self._terms.clear()
            self._first_term_index = meta.index + 1
            self._snapshot_meta = meta
            self._commit = max(self._commit, meta.index)
            dropped = self._wal.drop_old_segments(up_to_index=meta.index if keep else None)
            self._snapshot_indexes = snapshots.prune(
                self._fs, self._dir, [*self._snapshot_indexes, meta.index], sync=self._sync
            )
        _log.info(
            "snapshot_saved",
            index=meta.index,
            term=meta.term,
            kept_log=keep,
            segments_dropped=dropped,
        )

    def close(self) -> None:
        """Close file handles; later calls raise ``StorageUsageError``."""
        self._wal.close()
        self._state = "closed"

    # -- internals ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, operation: str) -> Iterator[None]:
        try:
            yield
        except PermissionError as exc:
            if operation != "load":
                raise self._poison(operation, exc) from exc
            where = str(exc.filename or self._dir)
            raise DataDirError(where, f"not readable or writable: {exc.strerror}") from exc
        except OSError as exc:
            raise self._poison(operation, exc) from exc

    def _poison(self, operation: str, exc: OSError) -> StorageFailure:
        """Record a failure (every later call is refused) and return the error to raise."""
        self._failure = f"{operation} failed: {exc}"
        _log.error("storage_failed", operation=operation, directory=str(self._dir), error=str(exc))
        msg = f"storage in {self._dir}: {self._failure}; refusing all further calls"
        return StorageFailure(msg)

    def _check_open(self, operation: str) -> None:
        if self._failure is not None:
            msg = (
                f"storage in {self._dir} refuses {operation}: an earlier "
                f"{self._failure} (nothing may continue after a failed write or fsync)"
            )
            raise StorageFailure(msg)
        if self._state != "open":
            msg = f"{operation} on storage in {self._dir} that is {self._state} (call load first)"
            raise StorageUsageError(msg)

    def _inspect_directory(self) -> tuple[list[int], list[int], list[str]]:
        directory = self._dir
        if not self._fs.exists(directory):
            try:
                self._fs.makedirs(directory)
            except OSError as exc:
                raise DataDirError(str(directory), f"cannot create it: {exc}") from exc
        if not self._fs.is_dir(directory):
            raise DataDirError(str(directory), "it exists but is not a directory")
        segments: list[int] = []
        snapshot_indexes: list[int] = []
        removed: list[str] = []
        for name in self._fs.listdir(directory):
            path = directory / name
            seq = parse_segment_name(name)
            index = snapshots.parse_snapshot_name(name)
            if self._fs.is_dir(path):
                raise DataDirError(str(path), "unexpected directory inside the data directory")
            if seq is not None:
                segments.append(seq)
            elif index is not None:
                snapshot_indexes.append(index)
            elif name.endswith(TEMP_SUFFIX):
                _log.warning("storage_temp_file_removed", path=str(path))
                self._remove_temp(path)
                removed.append(str(path))
            elif name != hardstate.HARD_STATE_NAME:
                raise DataDirError(
                    str(path), "foreign file in the data directory (is this the right path?)"
                )
        if removed:
            self._fs.sync_dir(directory)
        return segments, snapshot_indexes, removed

    def _remove_temp(self, path: PurePath) -> None:
        try:
            self._fs.remove(path)
        except PermissionError as exc:
            raise DataDirError(str(path), f"not writable: {exc}") from exc

    @staticmethod
    def _replay(records: list[ScannedRecord]) -> tuple[LogView, int]:
        view = LogView()
        max_commit = 0
        for scanned in records:
            record = scanned.record
            if isinstance(record, AnchorRecord):
                view.apply_anchor(record.index, record.term, keep_suffix=record.keep_suffix)
            elif record.entries:
                view.apply_entries(record.entries, f"{scanned.path}:{scanned.offset}")
                max_commit = max(max_commit, record.commit)
        return view, max_commit

    def _refuse_gap(self, view: LogView, meta: SnapshotMeta | None) -> None:
        base = 0 if meta is None else meta.index
        if view.gap is not None:
            path, _, offset = view.gap.location.rpartition(":")
            problem = (
                f"entries resume at index {view.gap.resumed_at} after index "
                f"{view.gap.previous_last}, and the newest valid snapshot covers only up to {base}"
            )
            raise CorruptLogError(path, int(offset), problem)
        problem = (
            f"the log starts after index {view.start} but the newest valid snapshot "
            f"covers only up to {base} (a snapshot file is missing or corrupt)"
        )
        raise CorruptLogError(str(self._dir), 0, problem)

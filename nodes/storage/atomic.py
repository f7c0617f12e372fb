"""Write a small file atomically: temp file, fsync, rename, fsync of the directory.

Rules: raises ``OSError`` as the file system does (callers turn it into
``StorageFailure``); with ``sync=False`` (the UNSAFE never-sync policy) it
skips both fsyncs, so the rename may reach the disk before the bytes do.
"""

from __future__ import annotations

from pathlib import PurePath

from nodes.storage.fs import FileSystem

TEMP_SUFFIX = ".tmp"


def write_atomically(fs: FileSystem, path: PurePath, data: bytes, *, sync: bool) -> None:
    """Replace ``path`` by a file holding ``data``, all or nothing across a crash.

    Args:
        fs: the file system.
        path: the destination.
        data: the new contents.
        sync: fsync the file before the rename and the directory after it.
    """
    temp = path.with_name(path.name + TEMP_SUFFIX)
    if fs.exists(temp):
        fs.remove(temp)
    handle = fs.open_append(temp)
    try:
        handle.write(data)
        if sync:
            handle.sync()
    finally:
        handle.close()
    fs.rename(temp, path)
    if sync:
        fs.sync_dir(path.parent)

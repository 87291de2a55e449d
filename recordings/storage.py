"""The recordings directory: atomic writes, read-back checks, deletes.

A file is written to a hidden temporary name in its final directory,
flushed and ``fsync``-ed, then renamed over the final name (``os.replace``,
atomic on POSIX) and the directory is ``fsync``-ed, so a reader or a crash
sees either no file or the whole file, never a part.  The file is then read
back and its SHA-256 compared with the hash of the bytes received: what the
metadata records is what is on disk.  Blocking file work runs in a worker
thread so the event loop keeps serving calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from recordings.errors import IntegrityMismatch
from recordings.integrity import sha256_hex
from recordings.layout import check_relative

_CHUNK = 1 << 16


class FileStore:
    """Recording files under one root directory, addressed by relative paths."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"<FileStore {self.root}>"

    def path_of(self, relative: str) -> Path:
        """The absolute path of ``relative``; raise ``UnsafePath`` if it leaves the root."""
        return self.root.joinpath(*check_relative(relative).parts)

    async def write_atomic(self, relative: str, data: bytes, *, name: str = "") -> str:
        """Write ``data`` at ``relative`` atomically; return the SHA-256 read back from disk.

        Raise :class:`IntegrityMismatch` when the file read back differs from
        ``data`` (the file is then removed); ``OSError`` when the disk refuses.
        """
        target = self.path_of(relative)
        expected = sha256_hex(data)
        await asyncio.to_thread(_write_atomic, target, data)
        size, actual = await asyncio.to_thread(_hash_file, target)
        if size != len(data) or actual != expected:
            with contextlib.suppress(OSError):
                target.unlink()
            what = "size" if size != len(data) else "sha256"
            raise IntegrityMismatch(
                name or relative,
                what,
                len(data) if what == "size" else expected,
                size if what == "size" else actual,
            )
        return actual

    async def delete(self, relative: str) -> bool:
        """Delete the file; ``False`` if it was already gone."""
        target = self.path_of(relative)
        try:
            await asyncio.to_thread(target.unlink)
        except FileNotFoundError:
            return False
        return True

    async def hash_of(self, relative: str) -> tuple[int, str]:
        """The size and SHA-256 of the stored file."""
        return await asyncio.to_thread(_hash_file, self.path_of(relative))

    def exists(self, relative: str) -> bool:
        return self.path_of(relative).is_file()


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        with open(temp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()

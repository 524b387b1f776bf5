"""Content-addressed blob store: sha256-named files, written temp → fsync → rename → fsync(dir)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

# A failed write is forgotten once this much is free again (a full disk heals without a restart).
_HEADROOM = 1024 * 1024
# Less free than this (or than 5 % of a small disk) is reported before any write fails.
_LOW_SPACE = 64 * 1024 * 1024


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        self._write_error: tuple[str, int] | None = None  # (reason, size of the write that failed)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` durably and return its sha256; storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        final = self.path_for(digest)
        if final.exists() and final.stat().st_size == len(data):
            # A fresh mtime restarts the grace period: the row about to reference it may not be
            # committed yet when the unreferenced-blob sweep looks (remove_unreferenced).
            os.utime(final)
            return digest
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                self._write_error = (_describe(exc), len(data))
            raise
        _fsync_dir(final.parent)
        self._write_error = None
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def digests(self) -> Iterator[tuple[str, float]]:
        """Every stored blob: (sha256, mtime as a POSIX timestamp)."""
        for path in self.root.glob("??/??/*"):
            if len(path.name) == 64:
                with contextlib.suppress(FileNotFoundError):
                    yield path.name, path.stat().st_mtime

    def remove_unreferenced(self, candidates: Iterable[str], referenced: Callable[[str], bool]) -> int:
        """Delete the candidate blobs `referenced` says no row holds; asked per blob, right before its
        delete, so a row committed since the candidates were listed keeps its blob."""
        removed = 0
        for digest in candidates:
            if referenced(digest):
                continue
            path = self.path_for(digest)
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
        return removed

    def health(self) -> dict[str, Any]:
        """Up; or degraded while the last write failed and the disk has not got room since, or while
        the disk is nearly full (a warning before writes fail)."""
        try:
            usage = shutil.disk_usage(self.root)
        except OSError as exc:
            return {"state": "degraded", "detail": _describe(exc), "free_bytes": None}
        free = usage.free
        failed = self._write_error
        if failed is not None and free >= max(_HEADROOM, 2 * failed[1]):
            failed = self._write_error = None
        if failed is not None:
            return {"state": "degraded", "detail": f"last write failed: {failed[0]}", "free_bytes": free}
        if free < min(_LOW_SPACE, usage.total // 20):
            detail = f"disk nearly full: {free // 1024} KiB free"
            return {"state": "degraded", "detail": detail, "free_bytes": free}
        return {"state": "up", "detail": "", "free_bytes": free}


def _describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{name} {exc.strerror or exc}".strip()


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory entry is on disk (POSIX; Maildir does the same).
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


INLINE_RAW_MAX = 64 * 1024


def inline_raw(raw: bytes | None) -> bytes | None:
    """The raw bytes to keep in the message row itself (small ones); larger ones are blobs."""
    return raw if raw is not None and len(raw) <= INLINE_RAW_MAX else None


def raw_bytes(blobs: BlobStore, raw_inline: bytes | None, raw_sha256: str | None) -> bytes | None:
    """The exact bytes a message arrived as, wherever they are kept."""
    if raw_inline is not None:
        return raw_inline
    return blobs.get(raw_sha256) if raw_sha256 else None

"""Content-addressed blob store: sha256-named files, written temp → fsync → rename → fsync(dir)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` durably and return its sha256; storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        final = self.path_for(digest)
        if final.exists() and final.stat().st_size == len(data):
            return digest
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()


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

"""glibc malloc settings for a process that decodes voicemail in threads, and heap trimming.

Only ctypes: cheap to import before anything else starts threads. No-ops off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

# mallopt() parameter numbers from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# glibc's default starting value, now fixed: it otherwise rises to the largest block freed (up to
# 32 MB), after which numpy's multi-MB audio arrays land in the arenas and stay there.
MMAP_THRESHOLD_BYTES = 128 * 1024
TRIM_THRESHOLD_BYTES = 128 * 1024


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    if getattr(libc, "mallopt", None) is None or getattr(libc, "malloc_trim", None) is None:
        return None  # musl and others: no glibc malloc to tune
    return libc


def tune_malloc(arena_max: int) -> bool:
    """Cap malloc arenas and fix the mmap/trim thresholds; True when glibc took the settings.

    `arena_max` 0 leaves glibc's defaults (8 arenas per core) alone.
    Call it before threads start: an arena, once made, lives as long as the process. Each thread
    that ever ran a Kaldi decode otherwise keeps its own arena with that decode's freed memory.
    """
    libc = _libc()
    if libc is None or arena_max <= 0:
        return False
    ok = all(
        libc.mallopt(param, value) == 1
        for param, value in (
            (M_ARENA_MAX, arena_max),
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
        )
    )
    log.info(
        "malloc: at most %d arenas, mmap and trim thresholds %d kB: %s",
        arena_max,
        MMAP_THRESHOLD_BYTES // 1024,
        "set" if ok else "refused",
    )
    return ok


def trim_heap() -> None:
    """Give freed heap back to the OS (glibc malloc_trim): Kaldi frees ~100 MB after a voicemail,
    which glibc otherwise keeps in its arenas; no-op elsewhere."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)

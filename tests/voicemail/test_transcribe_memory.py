"""Memory of a transcribing process: malloc arenas capped at start-up, no float copies of mono WAVs."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from voicemail.audio import read_wav_native as read_wav_pcm16
from voicemail.heap import tune_malloc
from voicemail.transcription_settings import TranscriptionSettings

ROOT = Path(__file__).resolve().parents[2]

# Threads that each allocate and hold memory, then glibc's own arena report on stderr.
_ARENA_PROBE = textwrap.dedent(
    """
    import ctypes, sys, threading
    from voicemail.heap import tune_malloc
    tune_malloc(int(sys.argv[1]))
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    barrier = threading.Barrier(8)
    def hold():
        block = libc.malloc(4096)  # a malloc from each thread at once: contention makes arenas
        barrier.wait()
        libc.free(block)
    threads = [threading.Thread(target=hold) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc.malloc_stats()
    """
)


def _arenas(arena_max: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _ARENA_PROBE, str(arena_max)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    return len(re.findall(r"^Arena \d+:", out.stderr, re.MULTILINE))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_tuned_malloc_keeps_eight_threads_to_two_arenas() -> None:
    assert _arenas(0) > 2, "without tuning glibc gives concurrent threads their own arenas"
    assert _arenas(2) <= 2


def test_arena_max_zero_leaves_glibc_defaults_alone() -> None:
    assert tune_malloc(0) is False
    assert TranscriptionSettings().malloc_arena_max == 2


def test_the_worker_command_tunes_malloc_before_it_starts(tmp_path: Path) -> None:
    config = tmp_path / "worker.toml"
    config.write_text(
        f'[gateway]\ndata_dir = "{tmp_path / "var"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "w.db"}"\n'
        "[http]\nenabled = false\n[mail]\nenabled = false\n[sms]\nenabled = false\n"
        "[sip]\nenabled = false\n[transcription]\nmalloc_arena_max = 3\n",
        encoding="utf-8",
    )
    env = {**os.environ, "SISTEM48_SECRET": "test-secret-test-secret-test-secret!"}
    sistem48 = Path(sys.executable).with_name("sistem48")
    proc = subprocess.Popen(
        [str(sistem48), "worker", "--transcribe", "-c", str(config)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if "malloc:" in line or not line:
                break
        assert "malloc: at most 3 arenas" in line and line.rstrip().endswith("set"), line
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wav(tag: int, channels: int, bits: int, payload: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, 8000, 8000 * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(("tag", "bits"), [(1, 16), (7, 8), (6, 8)], ids=["pcm16", "ulaw", "alaw"])
def test_a_mono_wav_gives_the_same_samples_as_the_mixing_path(tag: int, bits: int) -> None:
    rng = np.random.default_rng(7)
    if bits == 16:
        mono = rng.integers(-32768, 32768, 8001, dtype=np.int64).astype("<i2").tobytes() + b"\x01"
    else:
        mono = bytes(range(256)) * 40
    width = bits // 8
    frames = [mono[i : i + width] for i in range(0, len(mono) // width * width, width)]
    # Two identical channels take the float64 mixing path and must come out the same.
    stereo = b"".join(f + f for f in frames)
    got, rate = read_wav_pcm16(_wav(tag, 1, bits, mono))
    mixed, _ = read_wav_pcm16(_wav(tag, 2, bits, stereo))
    assert rate == 8000
    assert got == mixed
    assert len(got) == 2 * len(frames)

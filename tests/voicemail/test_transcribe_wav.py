"""read_wav_pcm16 against sox: every common WAV encoding becomes the same mono 16-bit PCM."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from tests.voicemail.asr_audio import run
from voicemail.audio import AudioFormatError as TranscriptionError
from voicemail.audio import read_wav_native as read_wav_pcm16


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 s stereo 16-bit 8 kHz sweep with different content per channel."""
    path = tmp_path_factory.mktemp("wav") / "source.wav"
    run(
        "sox", "-n", "-r", "8000", "-c", "2", "-b", "16", "-e", "signed-integer", str(path),
        "synth", "1", "sine", "300-3000", "sine", "440", "vol", "0.7",
    )  # fmt: skip
    return path


def sox_convert(src: Path, dst: Path, *options: str) -> Path:
    run("sox", "-D", str(src), *options, str(dst))
    return dst


def reference_mono16(src: Path, tmp_path: Path) -> np.ndarray:
    out = sox_convert(src, tmp_path / "ref.raw", "-c", "1", "-b", "16", "-e", "signed-integer")
    return np.frombuffer(out.read_bytes(), dtype="<i2").astype(np.int32)


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int32)


@pytest.mark.parametrize(
    ("label", "options", "tolerance"),
    [
        ("pcm16_mono", ("-c", "1", "-b", "16", "-e", "signed-integer"), 1),
        ("pcm16_stereo", ("-b", "16", "-e", "signed-integer"), 1),
        ("pcm8_unsigned", ("-c", "1", "-b", "8", "-e", "unsigned-integer"), 0),
        ("pcm24", ("-c", "1", "-b", "24", "-e", "signed-integer"), 1),
        ("pcm32", ("-c", "1", "-b", "32", "-e", "signed-integer"), 1),
        ("float32", ("-c", "1", "-b", "32", "-e", "floating-point"), 1),
        ("float64_stereo", ("-b", "64", "-e", "floating-point"), 1),
        ("ulaw", ("-c", "1", "-e", "u-law"), 0),
        ("alaw", ("-c", "1", "-e", "a-law"), 0),
        ("extensible_3ch", ("-c", "3", "-b", "16", "-e", "signed-integer"), 1),
    ],
)
def test_wav_encodings_decode_like_sox(
    label: str, options: tuple[str, ...], tolerance: int, source: Path, tmp_path: Path
) -> None:
    wav = sox_convert(source, tmp_path / f"{label}.wav", *options)
    pcm, rate = read_wav_pcm16(wav.read_bytes())
    assert rate == 8000
    expected = reference_mono16(wav, tmp_path)
    got = samples(pcm)
    assert got.size == expected.size == 8000
    diff = int(np.max(np.abs(got - expected)))
    assert diff <= tolerance
    assert np.std(got) > 1000  # not silence by accident


def test_ulaw_decoding_is_bit_identical_to_sox(tmp_path: Path) -> None:
    every_byte = bytes(range(256))
    header = struct.pack("<4sI4s", b"RIFF", 36 + 256, b"WAVE")
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 7, 1, 8000, 8000, 1, 8)
    wav = tmp_path / "all.wav"
    wav.write_bytes(header + fmt + struct.pack("<4sI", b"data", 256) + every_byte)
    pcm, _ = read_wav_pcm16(wav.read_bytes())
    assert np.array_equal(samples(pcm), reference_mono16(wav, tmp_path))


def test_chunks_before_data_and_odd_sizes_are_skipped() -> None:
    pcm = np.array([1, -2, 300, -32768], dtype="<i2").tobytes()
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    junk = struct.pack("<4sI", b"LIST", 3) + b"abc\x00"
    body = b"WAVE" + fmt + junk + struct.pack("<4sI", b"data", len(pcm)) + pcm
    got, rate = read_wav_pcm16(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert (got, rate) == (pcm, 16000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RIFF"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "RIFF"),
        (b"RIFF\x04\x00\x00\x00WAVE", "fmt or data"),
        (
            b"RIFF\x00\x00\x00\x00WAVE"
            + struct.pack("<4sIHHIIHH", b"fmt ", 16, 2, 1, 8000, 4000, 256, 4)
            + b"data\x02\x00\x00\x00\x00\x00",
            "unsupported",
        ),
    ],
)
def test_malformed_or_unsupported_wavs_raise_our_error(data: bytes, message: str) -> None:
    with pytest.raises(TranscriptionError, match=message):
        read_wav_pcm16(data)

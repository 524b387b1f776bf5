"""Audio helpers for the hotline: G.711 <-> 16-bit PCM, WAV read/write, greetings, beep, energy.

Everything is 8 kHz mono signed 16-bit little-endian PCM ("PCM16") unless a name says otherwise.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
import wave
from pathlib import Path
from typing import Literal

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # 3.13+: provided by audioop-lts

Codec = Literal["PCMU", "PCMA"]

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms, the ptime every G.711 peer we answer uses
SOUNDS_DIR = Path(__file__).with_name("sounds")

# Encoded digital silence: what a G.711 transmitter sends when it has nothing to play.
G711_SILENCE: dict[Codec, int] = {"PCMU": 0xFF, "PCMA": 0xD5}

_WAVE_PCM, _WAVE_FLOAT, _WAVE_ALAW, _WAVE_MULAW, _WAVE_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


class AudioFormatError(ValueError):
    """A WAV file we cannot turn into 8 kHz PCM16."""


def decode_g711(codec: Codec, payload: bytes) -> bytes:
    if codec == "PCMU":
        return audioop.ulaw2lin(payload, 2)
    return audioop.alaw2lin(payload, 2)


def encode_g711(codec: Codec, pcm16: bytes) -> bytes:
    if codec == "PCMU":
        return audioop.lin2ulaw(pcm16, 2)
    return audioop.lin2alaw(pcm16, 2)


def rms(pcm16: bytes) -> float:
    return float(audioop.rms(pcm16, 2)) if pcm16 else 0.0


def duration_s(pcm16: bytes) -> float:
    return len(pcm16) / (2 * RATE)


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * round(seconds * RATE)


def beep(ms: int = 350, hz: float = 1000.0, amplitude: int = 12000) -> bytes:
    n = RATE * ms // 1000
    ramp = RATE // 200  # 5 ms fade in/out so the tone does not click
    samples = []
    for i in range(n):
        gain = min(1.0, i / ramp, (n - 1 - i) / ramp)
        samples.append(int(amplitude * gain * math.sin(2 * math.pi * hz * i / RATE)))
    return struct.pack(f"<{n}h", *samples)


def wav_bytes(pcm16: bytes, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm16)
    return buf.getvalue()


def read_wav_native(source: Path | bytes) -> tuple[bytes, int]:
    """Any PCM/float/G.711 WAV (any width, channel count) -> mono PCM16 at its own rate, and the rate."""
    data = source.read_bytes() if isinstance(source, Path) else source
    tag, channels, rate, bits, frames = _parse_riff(data)
    if channels == 1 and tag == _WAVE_PCM and bits == 16:
        # Most voicemails: no float copy (~15 MB per minute held while the other decode runs).
        return frames[: len(frames) - len(frames) % 2], rate
    samples = _to_float(tag, bits, frames)
    if channels > 1:
        usable = len(samples) - len(samples) % channels
        samples = samples[:usable].reshape(-1, channels).mean(axis=1)
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes(), rate


def read_wav(source: Path | bytes) -> bytes:
    """Any PCM/float/G.711 WAV (any rate, width, channel count) -> 8 kHz mono PCM16."""
    pcm, rate = read_wav_native(source)
    if rate != RATE:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, RATE, None)
    return pcm


def load_sound(name: str) -> bytes:
    return read_wav(SOUNDS_DIR / f"{name}.wav")


def _parse_riff(data: bytes) -> tuple[int, int, int, int, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a RIFF/WAVE file")
    pos, fmt, frames = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            frames = body
        pos += 8 + size + (size & 1)  # RIFF chunks are word-aligned
    if fmt is None or frames is None or len(fmt) < 16:
        raise AudioFormatError("WAV without fmt or data chunk")
    tag, channels, rate = struct.unpack_from("<HHI", fmt, 0)
    bits = struct.unpack_from("<H", fmt, 14)[0]
    if tag == _WAVE_EXTENSIBLE:
        if len(fmt) < 26:
            raise AudioFormatError("truncated WAVE_FORMAT_EXTENSIBLE header")
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the SubFormat GUID
    if channels < 1 or rate < 1:
        raise AudioFormatError("WAV with no channels or no sample rate")
    return tag, channels, rate, bits, frames


def _to_float(tag: int, bits: int, frames: bytes) -> np.ndarray:
    if tag == _WAVE_MULAW:
        frames, tag, bits = audioop.ulaw2lin(frames, 2), _WAVE_PCM, 16
    elif tag == _WAVE_ALAW:
        frames, tag, bits = audioop.alaw2lin(frames, 2), _WAVE_PCM, 16
    width = bits // 8
    frames = frames[: len(frames) - len(frames) % max(width, 1)]
    if tag == _WAVE_FLOAT and bits in (32, 64):
        return np.frombuffer(frames, dtype=f"<f{width}").astype(np.float64)
    if tag != _WAVE_PCM or bits not in (8, 16, 24, 32):
        raise AudioFormatError(f"unsupported WAV encoding (format {tag}, {bits} bits)")
    if bits == 8:  # 8-bit WAV is unsigned
        return (np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if bits == 24:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        return ints.astype(np.float64) / float(1 << 23)
    ints = np.frombuffer(frames, dtype=f"<i{width}")
    return ints.astype(np.float64) / float(1 << (bits - 1))

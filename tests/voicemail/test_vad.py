"""The VAD gate: silence, noise and tones are no speech; espeak-ng speech is, at the right times."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tests.voicemail.asr_audio import (
    KOREAN_SENTENCES,
    RATE,
    dtmf_pcm,
    espeak_wav,
    pcm_of,
    silence,
    sox_wav,
)
from voicemail.vad import (
    MIN_SPEECH_S,
    float_to_pcm16,
    has_speech,
    pcm16_to_float,
    resample,
    speech_evidence,
)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vad_audio")


@pytest.fixture(scope="module")
def korean_speech(audio_dir: Path) -> bytes:
    return pcm_of(espeak_wav(audio_dir / "ko.wav", KOREAN_SENTENCES[0], "ko"))


@pytest.fixture(scope="module")
def english_speech(audio_dir: Path) -> bytes:
    return pcm_of(espeak_wav(audio_dir / "en.wav", "the street light is broken", "en-us"))


NON_SPEECH = {
    "digital_silence": lambda d: silence(10.0),
    "white_noise": lambda d: pcm_of(sox_wav(d / "white.wav", "synth", "10", "whitenoise", "vol", "0.3")),
    "quiet_hiss": lambda d: pcm_of(sox_wav(d / "hiss.wav", "synth", "10", "whitenoise", "vol", "0.01")),
    "pink_noise": lambda d: pcm_of(sox_wav(d / "pink.wav", "synth", "10", "pinknoise", "vol", "0.2")),
    "loud_pink_noise": lambda d: pcm_of(
        sox_wav(d / "pink_loud.wav", "synth", "10", "pinknoise", "vol", "0.8")
    ),
    "beep_1khz": lambda d: pcm_of(sox_wav(d / "beep.wav", "synth", "1", "sine", "1000", "vol", "0.5")),
    "long_beep_1khz": lambda d: pcm_of(sox_wav(d / "beep5.wav", "synth", "5", "sine", "1000", "vol", "0.5")),
    "hum_50hz": lambda d: pcm_of(sox_wav(d / "hum.wav", "synth", "10", "sine", "50", "vol", "0.3")),
    "dtmf_digits": lambda d: dtmf_pcm("0123456789*#"),
}


@pytest.mark.parametrize("kind", sorted(NON_SPEECH))
def test_non_speech_recordings_have_no_speech(kind: str, audio_dir: Path) -> None:
    pcm = NON_SPEECH[kind](audio_dir)
    evidence = speech_evidence(pcm, RATE)
    assert evidence.total_s > 0.9
    assert evidence.speech_s < MIN_SPEECH_S, evidence
    assert not has_speech(pcm, RATE)


@pytest.mark.parametrize("language", ["korean", "english"])
def test_espeak_speech_is_speech(language: str, korean_speech: bytes, english_speech: bytes) -> None:
    pcm = korean_speech if language == "korean" else english_speech
    evidence = speech_evidence(pcm, RATE)
    assert has_speech(pcm, RATE)
    # espeak-ng leaves little silence around its words.
    assert evidence.speech_s > 0.6 * evidence.total_s
    assert evidence.segments[0][0] < 0.5


def test_speech_over_noise_is_still_speech(korean_speech: bytes, audio_dir: Path) -> None:
    noise = pcm16_to_float(pcm_of(sox_wav(audio_dir / "bed.wav", "synth", "10", "pinknoise", "vol", "0.05")))
    speech = pcm16_to_float(korean_speech)
    mixed = noise.copy()
    mixed[RATE : RATE + speech.size] += speech
    assert has_speech(float_to_pcm16(mixed), RATE)


def test_segments_follow_the_speech_across_a_pause(korean_speech: bytes) -> None:
    speech_s = len(korean_speech) / 2 / RATE
    pcm = silence(2.0) + korean_speech + silence(3.0) + korean_speech + silence(1.0)
    evidence = speech_evidence(pcm, RATE)
    assert evidence.total_s == pytest.approx(2.0 + speech_s + 3.0 + speech_s + 1.0, abs=0.01)
    first, last = evidence.segments[0], evidence.segments[-1]
    assert first[0] == pytest.approx(2.0, abs=0.3)
    assert last[1] == pytest.approx(2.0 + 2 * speech_s + 3.0, abs=0.4)
    gap = [
        (a_end, b_start)
        for (_, a_end), (b_start, _) in itertools.pairwise(evidence.segments)
        if b_start - a_end > 2.5
    ]
    assert len(gap) == 1
    assert gap[0][0] == pytest.approx(2.0 + speech_s, abs=0.4)
    assert all(s < e for s, e in evidence.segments)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(evidence.segments))


def test_the_gate_agrees_at_8_and_16_khz(korean_speech: bytes) -> None:
    wide = float_to_pcm16(resample(pcm16_to_float(korean_speech), RATE, 16000))
    narrow = speech_evidence(korean_speech, RATE)
    wideband = speech_evidence(wide, 16000)
    assert wideband.total_s == pytest.approx(narrow.total_s, abs=0.01)
    assert wideband.speech_s == pytest.approx(narrow.speech_s, rel=0.15)


def test_empty_and_odd_length_input_is_no_speech() -> None:
    assert speech_evidence(b"", RATE).segments == ()
    assert not has_speech(b"\x01", RATE)
    assert not has_speech(bytes(101), RATE)


def test_a_non_positive_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        speech_evidence(bytes(1600), 0)


def test_resampling_keeps_a_tone_at_its_frequency() -> None:
    t = np.arange(8000) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    up = resample(tone, 8000, 16000)
    assert up.size == 16000
    spectrum = np.abs(np.fft.rfft(up))
    assert np.argmax(spectrum) == 440  # 1 Hz bins over one second
    assert float(np.max(np.abs(up))) == pytest.approx(0.5, abs=0.02)
    down = resample(up, 16000, 8000)
    assert np.max(np.abs(down - tone)) < 1e-3


def test_pcm16_round_trips_through_float() -> None:
    pcm = np.array([-32768, -1, 0, 1, 32767], dtype="<i2").tobytes()
    assert float_to_pcm16(pcm16_to_float(pcm)) == pcm

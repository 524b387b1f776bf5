"""What a transcription is: words with timings and flags, the transcript and its JSON form, and
the plausibility checks that mark words and whole transcripts for a careful listen.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from channels.base import ChannelError, ChannelMisconfigured

TRANSCRIPT_JSON_VERSION = 1
NO_SPEECH = "no_speech"

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


@dataclass(frozen=True, slots=True)
class EngineResult:
    """One decode: the words, the language the engine detected, and why it doubts the result."""

    words: list[EngineWord]
    language: str | None
    reasons: tuple[str, ...] = ()


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

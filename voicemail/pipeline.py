"""The decode pipeline both engines share: VAD gate, trimming to speech regions, engine decode,
times mapped back onto the recording, plausibility flags.
"""

from __future__ import annotations

import bisect
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from voicemail.heap import trim_heap
from voicemail.script import in_script
from voicemail.transcript import (
    NO_SPEECH,
    EngineResult,
    EngineWord,
    Transcript,
    TranscriptionError,
    Word,
    flag_words,
    transcript_reasons,
)
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.vad import SpeechEvidence, speech_evidence

log = logging.getLogger(__name__)

# Decode only the speech regions when they, padded, cover less than this share of the audio.
TRIM_WHEN_COVERAGE_BELOW = 0.95
REGION_PAD_S = 0.3
REGION_MERGE_GAP_S = 0.3

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


# --- the pipeline shared by both engines ---------------------------------------------------------


class PipelineTranscriber(ABC):
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
    def _decode(self, pcm16: bytes, sample_rate: int) -> EngineResult:
        """The engine's words (with raw confidence), the language it detected, its own doubts."""

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
        decoded = self._decode(decoded_pcm, sample_rate)
        language = decoded.language
        placed = [
            EngineWord(
                word=in_script(w.word, self._settings.language, self._settings.script),
                start=_to_original_time(w.start, pieces, is_end=False),
                end=_to_original_time(w.end, pieces, is_end=True),
                engine_conf=w.engine_conf,
            )
            for w in decoded.words
        ]
        threshold = self._settings.low_conf_threshold
        words = flag_words(placed, evidence.segments if evidence else None, threshold)
        text = " ".join(w.word for w in words)
        speech_s = evidence.speech_s if evidence is not None else None
        reasons = decoded.reasons + transcript_reasons(words, text, speech_s, threshold)
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


def model_label(path: Path) -> str:
    # Packaged models sit in a directory literally called "model"; name the package too.
    return f"{path.parent.name}/{path.name}" if path.name == "model" else path.name

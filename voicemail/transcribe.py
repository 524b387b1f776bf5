"""Loads the configured transcription engine once: faster-whisper for Serbian (and any language
without a Vosk model), Vosk where a Vosk model is configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from voicemail.transcript import Transcriber, TranscriptionModelError
from voicemail.transcription_settings import TranscriptionSettings


def _is_vosk_model(path: Path) -> bool:
    return (path / "am" / "final.mdl").is_file()


def chosen_engine(settings: TranscriptionSettings, environ: Mapping[str, str] | None = None) -> str:
    """'whisper' or 'vosk': what `engine = "auto"` means for these settings and environment."""
    if settings.engine != "auto":
        return settings.engine
    env = os.environ if environ is None else environ
    if settings.model_path is not None:
        return "vosk" if _is_vosk_model(settings.model_path) else "whisper"
    if env.get("VOSK_MODEL_PATH") and _is_vosk_model(Path(env["VOSK_MODEL_PATH"])):
        return "vosk"
    return "whisper"  # no Vosk model exists for Serbian (vosk-api #658)


def load_transcriber(
    settings: TranscriptionSettings,
    environ: Mapping[str, str] | None = None,
    vocabulary: Sequence[str] = (),
) -> Transcriber:
    """Load the engine's model once; the result is shared by worker threads.

    `vocabulary` (catalogue words, street names) biases Whisper; Vosk's graph is fixed.
    Raises TranscriptionModelError when the model is missing, incomplete or cannot load.
    """
    if chosen_engine(settings, environ) == "whisper":
        try:
            from voicemail.whisper_engine import WhisperTranscriber
        except ImportError as exc:
            raise TranscriptionModelError(
                "the whisper engine needs the faster-whisper package (scripts/bootstrap.sh installs it)"
            ) from exc
        return WhisperTranscriber(settings, vocabulary)
    from voicemail.vosk_engine import VoskTranscriber

    return VoskTranscriber(settings, environ)

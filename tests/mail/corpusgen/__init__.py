"""The project's own mail corpus: messages written here in the shapes real clients, phones and MTAs send.

`python -m tests.mail.corpusgen` rewrites tests/mail/corpus/ from these builders; the tests read the files.
"""

from __future__ import annotations

import base64
import quopri
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"


@dataclass(frozen=True)
class Expected:
    """What a correct, tolerant parser makes of one message."""

    sender: str | None  # None: the mail carries no usable address
    subject: str  # a substring of the decoded subject
    body: str | None  # a substring of the body; None: attachment-only or empty (no_text set)
    attachments: tuple[str, ...] = ()  # names that must be among the attachments
    auto: str = ""
    fffd: int = 0  # U+FFFD the message really contains (damage in the source bytes)
    sender_name: str | None = None
    gap: str = ""  # a known parser gap this message exposes (the test is a strict xfail until fixed)


@dataclass(frozen=True)
class Sample:
    name: str
    trait: str  # the real-world shape it stands for
    build: Callable[[], bytes]
    expected: Expected
    deterministic: bool = True  # False: embeds encoder output (Pillow JPEG) that may vary by version


SAMPLES: list[Sample] = []


def sample(
    name: str, trait: str, expected: Expected, *, deterministic: bool = True
) -> Callable[[Callable[[], bytes]], Callable[[], bytes]]:
    def register(build: Callable[[], bytes]) -> Callable[[], bytes]:
        SAMPLES.append(Sample(name, trait, build, expected, deterministic))
        return build

    return register


def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode("ascii")
    return "\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def qp(text: str, charset: str) -> str:
    return quopri.encodestring(text.encode(charset)).decode("ascii")


def word(text: str, charset: str, kind: str = "B") -> str:
    """One RFC 2047 encoded-word, as mail clients write them (long words are not split here)."""
    data = text.encode(charset)
    if kind == "B":
        return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="
    encoded = quopri.encodestring(data, header=True).decode("ascii").replace("=\n", "")
    return f"=?{charset}?Q?{encoded}?="


def lines(text: str, *, crlf: bool = False) -> bytes:
    """A message template (headers and already-encoded bodies, ASCII) as wire bytes."""
    body = text.lstrip("\n")
    if crlf:
        body = body.replace("\n", "\r\n")
    return body.encode("ascii")


def load_all() -> list[Sample]:
    from tests.mail.corpusgen import charsets, machines, media, structure  # noqa: F401  (registers)

    return sorted(SAMPLES, key=lambda s: s.name)


def write_corpus(folder: Path = CORPUS_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for item in load_all():
        path = folder / item.name
        path.write_bytes(item.build())
        written.append(path)
    return written

"""Fixtures for the web UI and the morning-review API: a gateway with SMS and mail replies on (no
channels run), staff users and tokens, a real spoken WAV from espeak-ng + sox, seeded tickets."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from channels.base import Attachment, ChannelKind, InboundContact
from gateway.auth import add_user, create_token
from storage.db import session_scope
from storage.models import AttachmentRow, Ticket, TranscriptRow

PASSWORD = "lozinka-za-test-1"
PHONE, EMAIL, NAME = "+381641234567", "pera.peric@example.rs", "Pera Perić"
_ids = itertools.count(1)


@pytest.fixture(scope="session")
def spoken_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real voicemail-like recording: espeak-ng speech resampled to 8 kHz mono 16-bit by sox."""
    d = tmp_path_factory.mktemp("wav")
    raw, wav = d / "raw.wav", d / "vm.wav"
    subprocess.run(
        ["espeak-ng", "-v", "sr", "-s", "140", "-w", str(raw), "Ne radi ulična rasveta u ulici Kralja Petra"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True, capture_output=True
    )
    return wav.read_bytes()


def web_config(tmp_path: Path, db_url: str, **overrides: Any) -> Any:
    from tests.conftest import make_config

    cfg = make_config(tmp_path, db_url, **overrides)
    # Replies are queued as outbox rows; nothing sends them because no channel runs in the tests.
    cfg.sms.enabled = True
    cfg.mail.enabled = True
    return cfg


@pytest.fixture
def gw(tmp_path: Path, db_url: str, clock: Any) -> Iterator[Any]:
    from gateway.app import build_gateway

    g = build_gateway(web_config(tmp_path, db_url), clock=clock, roles=set())
    yield g
    g.engine.dispose()


@dataclass
class Staff:
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def add_staff(gw: Any) -> Staff:
    with session_scope(gw.engine, write=True) as s:
        add_user(s, username="operater", password=PASSWORD, role="operator")
        add_user(s, username="admin", password=PASSWORD, role="admin")
        add_user(s, username="rasveta", password=PASSWORD, role="utility", utility="rasveta")
        add_user(s, username="nacelnik", password=PASSWORD, role="manager")
        tokens = {
            "operator": create_token(s, name="o", role="operator"),
            "rasveta": create_token(s, name="r", role="utility", utility="rasveta"),
        }
    return Staff(tokens)


def voicemail(gw: Any, caller: str, wav: bytes, *, duration: float = 3.2) -> str:
    contact = InboundContact(
        channel=ChannelKind.VOICE,
        external_id=f"call-{next(_ids)}@pbx",
        sender=caller,
        received_at=gw.clock(),
        attachments=(Attachment("voicemail.wav", "audio/wav", wav),),
        meta={"after_hours": "1", "duration_s": str(duration)},
    )
    ref = gw.inbox.ingest_sync(contact).reference
    assert ref is not None
    return str(ref)


WORDS = [
    ("ne", 0.30, 0.45, 0.95, False),
    ("radi", 0.45, 0.80, 0.91, False),
    ("ulična", 0.80, 1.30, 0.42, True),
    ("rasveta", 1.30, 1.90, 0.88, False),
    ("kralja", 2.00, 2.40, 0.90, False),
    ("petra", 2.40, 2.90, 0.93, False),
]


def add_transcript(
    gw: Any,
    reference: str,
    *,
    words: list[tuple[str, float, float, float, bool]] = WORDS,
    has_speech: bool = True,
) -> None:
    with session_scope(gw.engine, write=True) as s:
        from sqlmodel import select

        ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        att = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == ticket.id)).one()
        assert ticket.id is not None and att.id is not None
        s.add(
            TranscriptRow(
                ticket_id=ticket.id,
                attachment_id=att.id,
                engine="vosk",
                text=" ".join(w[0] for w in words),
                has_speech=has_speech,
                low_confidence=any(w[4] for w in words),
                data={
                    "words": [
                        {
                            "word": w,
                            "start": a,
                            "end": b,
                            "engine_conf": c,
                            "low": low,
                            "reasons": ["engine_conf"] if low else [],
                        }
                        for w, a, b, c, low in words
                    ],
                    "has_speech": has_speech,
                    "low_confidence": any(w[4] for w in words),
                },
                created_at=gw.clock(),
            )
        )
        gw.tickets.suggest_category(s, ticket, " ".join(w[0] for w in words))


def chromium_ok() -> bool:
    return shutil.which("chromium") is not None or Path("/usr/bin/chromium").exists()

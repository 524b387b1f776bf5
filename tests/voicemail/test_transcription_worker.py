"""The transcription worker in the gateway: a missing model is one log line and a degraded
`transcription` on /healthz while the voicemail waits in review with its audio; SMS and mail text
set a ticket's location from the street register; the core normalises the caller's number."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from channels.base import ChannelKind, InboundContact
from gateway.app import build_gateway, create_app
from storage.db import session_scope
from storage.models import AttachmentRow, Job, Ticket
from tests.conftest import Clock, make_config
from tests.core.helpers import voicemail
from voicemail.audio import silence, wav_bytes


def _gateway(tmp_path: Path, db_url: str, **overrides: Any) -> Any:
    cfg = make_config(tmp_path, db_url, **overrides)
    return build_gateway(cfg, clock=Clock(datetime(2026, 11, 24, 21, 30, tzinfo=UTC)), roles={"transcribe"})


def test_a_missing_model_degrades_transcription_once_and_the_voicemail_waits_in_review(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    gw = _gateway(
        tmp_path,
        db_url,
        transcription__enabled=True,
        transcription__engine="whisper",
        transcription__model_path=str(empty),
    )
    result = gw.inbox.ingest_sync(voicemail(gw, "0641234567", wav_bytes(silence(3.0))))
    assert gw.transcription is not None
    with caplog.at_level(logging.INFO):
        for _ in range(5):  # the worker loop's retries
            assert asyncio.run(gw.transcription.run_once()) == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "lacks model.bin" in errors[0].getMessage()
    health = gw.transcription.health()
    assert health["state"] == "degraded" and "lacks model.bin" in health["detail"]
    body = TestClient(create_app(gw.config, gateway=gw)).get("/healthz")
    assert body.status_code == 503 and body.json()["transcription"]["state"] == "degraded"
    with session_scope(gw.engine) as s:
        ticket = s.get(Ticket, result.ticket_id)
        assert ticket is not None and ticket.status == "received" and ticket.channel == "voice"
        audio = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == ticket.id)).one()
        assert audio.kind == "audio"
        job = s.exec(select(Job)).one()
        assert job.state == "queued" and job.attempts == 0  # transcribed once the model is there
    gw.engine.dispose()


@pytest.mark.parametrize(
    ("channel", "sender", "body"),
    [
        (ChannelKind.SMS, "0641234567", "Dobar dan, kod broja 14 u Njegoševoj ne radi sijalica."),
        (ChannelKind.EMAIL, "gradjanin@example.org", "У Футошкој 23 је контејнер пун, смеће је свуда."),
        (ChannelKind.SMS, "0641234567", "Pukla cev u Bulevaru oslobodjenja broj 45"),
    ],
)
def test_sms_and_mail_text_set_the_tickets_location_and_category(
    tmp_path: Path, db_url: str, channel: ChannelKind, sender: str, body: str
) -> None:
    gw = _gateway(tmp_path, db_url)
    contact = InboundContact(
        channel=channel,
        external_id="m-1",
        sender=sender,
        received_at=gw.clock(),
        subject="Prijava" if channel == ChannelKind.EMAIL else None,
        body=body,
    )
    result = gw.inbox.ingest_sync(contact)
    expected = {
        "Dobar": ("Njegoševa 14", "javna_rasveta"),
        "У": ("Futoška 23", "smece"),
        "Pukla": ("Bulevar oslobođenja 45", "vodovod_kvar"),
    }[body.split()[0].rstrip(",")]
    with session_scope(gw.engine) as s:
        ticket = s.get(Ticket, result.ticket_id)
        assert ticket is not None
        assert (ticket.location_text, ticket.suggested_category) == expected
        assert ticket.lat is not None and ticket.lon is not None  # the example register has coordinates
    gw.engine.dispose()

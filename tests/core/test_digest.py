"""The morning digest: once per working day at opening time, with the night's voicemails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from channels.base import CallOutcome, CallRecord
from gateway.digest import MorningDigest
from storage.db import session_scope
from storage.models import AttachmentRow, OutboxMessage, TranscriptRow
from tests.core.helpers import voicemail


def _digest(gw: Any) -> MorningDigest:
    return MorningDigest(gw.engine, gw.config, gw.calendar, gw.tickets.outbox, gw.clock, "test")


def test_monday_digest_covers_the_weekend_and_is_sent_once(gateway: Any) -> None:
    gateway.config.mail.enabled = True
    gateway.config.transcription.enabled = True
    gateway.clock.now = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # Saturday night
    result = gateway.inbox.ingest_sync(voicemail(gateway, "+381641234567", b"RIFF"))
    ref = result.reference
    with session_scope(gateway.engine, write=True) as s:
        audio = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == result.ticket_id)).one()
        s.add(
            TranscriptRow(
                ticket_id=result.ticket_id,
                attachment_id=audio.id,
                engine="vosk",
                text="ne radi sijalica",
                has_speech=True,
                low_confidence=True,
                data={},
            )
        )
    gateway.inbox.record_call_sync(
        CallRecord("c2", "0651112233", "48", gateway.clock(), 1.0, CallOutcome.MISSED, True)
    )
    digest = _digest(gateway)
    gateway.clock.now = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 07:00, before opening
    assert digest.run_once_sync() == 0
    gateway.clock.now = datetime(2026, 11, 30, 6, 31, tzinfo=UTC)  # 07:31 Belgrade: open
    assert digest.run_once_sync() == 1
    assert digest.run_once_sync() == 0
    with session_scope(gateway.engine) as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "digest")).all()
    assert len(rows) == 1 and rows[0].recipient == "administrator@sistem48.localhost"
    assert ref in rows[0].body and "ne radi sijalica [niska pouzdanost]" in rows[0].body
    assert "+381651112233" not in rows[0].body and "+381…33" in rows[0].body
    assert "1 poruka" in (rows[0].subject or "")


def test_no_digest_on_a_holiday(gateway: Any) -> None:
    gateway.config.mail.enabled = True
    gateway.clock.now = datetime(2026, 11, 11, 8, 0, tzinfo=UTC)  # Armistice Day
    assert _digest(gateway).run_once_sync() == 0

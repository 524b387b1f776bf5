"""The hotline end to end through the real core: a sipp call with espeak-ng Serbian speech after
hours → VoicemailChannel → a draft ticket with the WAV → a transcription job → the default engine
(faster-whisper with the registry's Whisper base) → transcript in the configured script, its
location and category; plus the call log. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from channels.script import script_of
from gateway.app import build_gateway
from storage.db import session_scope
from storage.models import AttachmentRow, CallLog, Job, Ticket, TranscriptRow
from tests.conftest import Clock, make_config
from tests.voicemail.sip_harness import Speech, make_speech, run_sipp, settings_for

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return make_speech(tmp_path_factory.mktemp("speech"), SENTENCE)


SENTENCE = "Dobro veče. U Njegoševoj ulici broj četrnaest ne radi ulična rasveta."


@pytest.mark.slow  # loads the registry Whisper model (~2 s) and decodes one call
def test_after_hours_serbian_call_becomes_a_draft_ticket_with_a_cyrillic_transcript(
    tmp_path: Path, db_url: str, speech: Speech
) -> None:
    clock = Clock(datetime(2026, 11, 24, 21, 30, tzinfo=UTC))  # Tuesday 22:30 in Belgrade
    cfg = make_config(tmp_path, db_url)
    sip = settings_for(tmp_path / "sip")
    cfg.sip = sip.model_copy(update={"enabled": True})
    cfg.transcription.enabled = True
    cfg.transcription.script = "cyrillic"
    gw = build_gateway(cfg, clock=clock, roles={"sip", "transcribe"})

    async def scenario() -> None:
        await gw.start()
        try:
            result = await run_sipp(
                "uac_talk_bye.xml",
                tmp_path,
                target_port=cfg.sip.bind_port,
                speech=speech,
                caller="0641234567",
            )
            assert result.ok, result.output
            for _ in range(100):  # the recording is handed over after the call's threads finish
                with session_scope(gw.engine) as s:
                    if s.exec(select(CallLog)).first() is not None:
                        break
                await asyncio.sleep(0.1)
            assert gw.transcription is not None
            # The background loop may take the job first; either way it must be done.
            for _ in range(600):
                await gw.transcription.run_once()
                with session_scope(gw.engine) as s:
                    if s.exec(select(Job).where(Job.state == "done")).first() is not None:
                        break
                await asyncio.sleep(0.1)
        finally:
            await gw.stop()

    asyncio.run(scenario())
    with session_scope(gw.engine) as s:
        ticket = s.exec(select(Ticket)).one()
        assert ticket.channel == "voice" and ticket.status == "received" and ticket.after_hours
        audio = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == ticket.id)).one()
        assert audio.kind == "audio" and audio.content_type == "audio/wav"
        job = s.exec(select(Job)).one()
        assert job.kind == "transcribe" and job.state == "done"
        transcript = s.exec(select(TranscriptRow)).one()
        assert transcript.ticket_id == ticket.id and transcript.engine == "whisper"
        assert transcript.data["model"] == "whisper-base" and transcript.data["language"] == "sr"
        assert transcript.has_speech and script_of(transcript.text) == "cyrillic"
        print(f"transcript: {transcript.text!r}; location {ticket.location_text!r}")
        words: list[dict[str, Any]] = transcript.data["words"]
        assert words and all(
            0 <= w["start"] <= w["end"] <= transcript.data["duration_s"] + 0.01 for w in words
        )
        call = s.exec(select(CallLog)).one()
        assert call.outcome == "voicemail" and call.caller == "+381641234567" and call.ticket_id == ticket.id
        assert call.after_hours and not call.needs_callback
    gw.engine.dispose()

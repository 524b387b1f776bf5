"""The retention sweep with the clock moved forward: each rule removes what it should and nothing else,
pseudonymisation leaves the statistics as they were, and blobs follow the rows that reference them."""

from __future__ import annotations

import dataclasses
import io
import os
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlmodel import col, func, select
from typer.testing import CliRunner

from channels.base import Attachment, CallOutcome, CallRecord
from gateway.reports import build_report, month_period
from gateway.retention import Retention, RetentionSweeper
from gateway.tickets import Actor, Change, Status
from gateway.web.views import dashboard
from storage.db import session_scope
from storage.models import (
    AttachmentRow,
    CallLog,
    CitizenIdentity,
    DataRemoval,
    Message,
    OutboxMessage,
    PiiAccess,
    Ticket,
    TranscriptRow,
)
from tests.core.helpers import mail, sms, voicemail

BIG_MAIL = b"From: a@b\r\n\r\n" + b"x" * 70_000  # above INLINE_RAW_MAX: its raw bytes are a blob


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, format="JPEG")
    return out.getvalue()


def seed(gw: Any) -> dict[str, str]:
    """Closed today: an SMS with a photo and a voicemail with its transcript (one citizen). Open: a
    mail with large raw bytes and a photo, and a voicemail (another citizen). A call and an audit row."""
    gw.config.mail.enabled = True  # queued as outbox rows (no channel runs): the work order's mail
    photo = Attachment("a.jpg", "image/jpeg", jpeg())
    refs = {
        "closed_sms": gw.inbox.ingest_sync(sms(gw, "0641234567", "Rupa", attachments=(photo,))).reference,
        "closed_vm": gw.inbox.ingest_sync(voicemail(gw, "0641234567", b"RIFF closed audio")).reference,
        "open_mail": gw.inbox.ingest_sync(
            mail(
                gw,
                "mika@example.rs",
                "Kvar",
                raw=BIG_MAIL,
                attachments=(Attachment("b.jpg", "image/jpeg", b"\xff\xd8\xff open photo"),),
            )
        ).reference,
        "open_vm": gw.inbox.ingest_sync(voicemail(gw, "0659876543", b"RIFF open audio")).reference,
    }
    gw.inbox.record_call_sync(
        CallRecord("c1@pbx", "0641234567", "48", gw.clock(), 1.0, CallOutcome.MISSED, True)
    )
    with session_scope(gw.engine, write=True) as s:
        for name in ("closed_vm", "open_vm"):
            ticket = s.exec(select(Ticket).where(Ticket.reference == refs[name])).one()
            audio = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == ticket.id)).one()
            assert ticket.id is not None and audio.id is not None
            s.add(
                TranscriptRow(
                    ticket_id=ticket.id,
                    attachment_id=audio.id,
                    engine="vosk",
                    text="t",
                    has_speech=True,
                    low_confidence=False,
                )
            )
        assigned = s.exec(select(Ticket).where(Ticket.reference == refs["closed_sms"])).one()
        operator = Actor("ana", "operator")
        gw.tickets.transition(s, assigned, Status.OPEN, operator, Change(category="javna_rasveta"))
        gw.tickets.transition(s, assigned, Status.ASSIGNED, operator, Change(utility="rasveta"))
        for name in ("closed_sms", "closed_vm"):
            ticket = s.exec(select(Ticket).where(Ticket.reference == refs[name])).one()
            ticket.status, ticket.closed_at = "closed", gw.clock()
            s.add(ticket)
        # Stamped by the test's clock: record_pii_access stamps the wall clock.
        s.add(PiiAccess(at=gw.clock(), actor="operater", what="ticket detail"))
    return {k: str(v) for k, v in refs.items()}


def retention(gw: Any) -> Retention:
    return Retention(gw.engine, gw.blobs, gw.config.retention, "RS", gw.clock)


def attachments(gw: Any) -> dict[str, list[str]]:
    with session_scope(gw.engine) as s:
        rows = s.exec(select(Ticket.reference, AttachmentRow.kind).join(AttachmentRow)).all()
    out: dict[str, list[str]] = {}
    for ref, kind in rows:
        out.setdefault(ref, []).append(kind)
    return {k: sorted(v) for k, v in out.items()}


def test_voicemail_audio_goes_90_days_after_its_ticket_closed_and_nothing_else(
    gateway: Any, clock: Any
) -> None:
    refs = seed(gateway)
    before = attachments(gateway)
    clock.advance(days=89)
    assert retention(gateway).run(dry_run=True)["voicemail_audio"] == 0
    clock.advance(days=2)
    assert retention(gateway).run(dry_run=True)["voicemail_audio"] == 1
    assert attachments(gateway) == before  # the dry run only counted
    counts = retention(gateway).run()
    assert counts["voicemail_audio"] == 1 and counts["photos"] == 0 and counts["identities"] == 0
    after = attachments(gateway)
    assert refs["closed_vm"] not in after
    assert after[refs["open_vm"]] == ["audio"] and after[refs["closed_sms"]] == ["photo"]
    with session_scope(gateway.engine) as s:
        assert [t.ticket_id for t in s.exec(select(TranscriptRow)).all()] == [
            s.exec(select(Ticket.id).where(Ticket.reference == refs["open_vm"])).one()
        ]
        removal = s.exec(select(DataRemoval)).one()
        assert removal.action == "retention" and removal.counts["voicemail_audio"] == 1
    assert not any(b"closed audio" in gateway.blobs.get(d) for d, _ in gateway.blobs.digests())
    assert any(b"open audio" in gateway.blobs.get(d) for d, _ in gateway.blobs.digests())


def test_raw_bytes_go_after_30_days_while_the_text_stays(gateway: Any, clock: Any) -> None:
    seed(gateway)
    with session_scope(gateway.engine) as s:
        raw_blob = s.exec(select(Message.raw_sha256).where(col(Message.raw_sha256).is_not(None))).one()
    assert raw_blob is not None and gateway.blobs.exists(raw_blob)
    clock.advance(days=29)
    assert retention(gateway).run()["raw_messages"] == 0
    clock.advance(days=2)
    counts = retention(gateway).run()
    assert counts["raw_messages"] >= 1 and counts["voicemail_audio"] == 0
    with session_scope(gateway.engine) as s:
        messages = s.exec(select(Message)).all()
        assert all(m.raw_inline is None and m.raw_sha256 is None for m in messages)
        assert "Kvar" in [m.body for m in messages]
    assert not gateway.blobs.exists(raw_blob)


def test_photos_go_a_year_after_close_with_the_work_orders_copies(gateway: Any, clock: Any) -> None:
    refs = seed(gateway)
    with session_scope(gateway.engine) as s:
        order = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "workorder")).one()
        (copy,) = [p["sha256"] for p in order.meta["attachments"]]
    assert gateway.blobs.exists(copy)
    clock.advance(days=364)
    assert retention(gateway).run()["photos"] == 0
    clock.advance(days=2)
    assert retention(gateway).run()["photos"] == 1
    after = attachments(gateway)
    assert refs["closed_sms"] not in after and after[refs["open_mail"]] == ["photo"]
    with session_scope(gateway.engine) as s:
        order = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "workorder")).one()
        assert "attachments" not in order.meta and order.body  # the work order's text stays
    assert not gateway.blobs.exists(copy)


def test_pseudonymisation_after_24_months_keeps_tickets_and_statistics(gateway: Any, clock: Any) -> None:
    refs = seed(gateway)
    clock.advance(days=730 + 2)

    def stats() -> Any:
        with session_scope(gateway.engine) as s:
            board = dataclasses.replace(dashboard(s, gateway, days=800), health=[])
            return board, build_report(s, gateway, month_period(2026, 11))

    before = stats()
    counts = retention(gateway).run()
    assert counts["identities"] == 1
    assert stats() == before
    with session_scope(gateway.engine) as s:
        values = sorted(i.value for i in s.exec(select(CitizenIdentity)).all())
        assert values == ["+381659876543", "mika@example.rs"]  # open tickets keep their reporter
        assert s.exec(select(func.count()).select_from(Ticket)).one() == 4
        closed = s.exec(select(Ticket).where(Ticket.reference == refs["closed_sms"])).one()
        assert closed.citizen_id is not None and closed.status == "closed"


def test_audit_log_outlives_the_call_log(gateway: Any, clock: Any) -> None:
    seed(gateway)
    clock.advance(days=181)
    counts = retention(gateway).run()
    assert counts["call_log"] == 1 and counts["pii_access"] == 0
    with session_scope(gateway.engine) as s:
        assert s.exec(select(CallLog)).all() == [] and len(s.exec(select(PiiAccess)).all()) == 1
    clock.advance(days=1825 - 181 - 1)
    assert retention(gateway).run()["pii_access"] == 0
    clock.advance(days=2)
    assert retention(gateway).run()["pii_access"] == 1


def test_an_unreferenced_blob_goes_after_its_grace_period_and_a_referenced_one_never(
    gateway: Any, clock: Any
) -> None:
    refs = seed(gateway)
    orphan = gateway.blobs.put(b"left behind by a failed ingest")
    referenced = {d for d, _ in gateway.blobs.digests()} - {orphan}
    for digest in [*referenced, orphan]:  # every file old, by the injected clock
        old = (clock() - timedelta(days=6)).timestamp()
        os.utime(gateway.blobs.path_for(digest), (old, old))
    assert retention(gateway).run()["blobs"] == 0
    clock.advance(days=2)
    assert retention(gateway).run()["blobs"] == 1
    assert not gateway.blobs.exists(orphan)
    assert all(gateway.blobs.exists(d) for d in referenced)
    assert attachments(gateway)[refs["open_mail"]] == ["photo"]


def test_storing_the_same_bytes_again_restarts_the_grace_period(gateway: Any, clock: Any) -> None:
    orphan = gateway.blobs.put(b"about to be referenced again")
    old = (clock() - timedelta(days=30)).timestamp()
    os.utime(gateway.blobs.path_for(orphan), (old, old))
    gateway.blobs.put(b"about to be referenced again")  # a new row is about to hold it
    assert retention(gateway).run()["blobs"] == 0 and gateway.blobs.exists(orphan)


def test_the_sweeper_runs_once_a_day(gateway: Any, clock: Any) -> None:
    sweeper = RetentionSweeper(retention(gateway))
    sweeper.run_once_sync()
    clock.advance(hours=5)
    sweeper.run_once_sync()
    with session_scope(gateway.engine) as s:
        assert s.exec(select(func.count()).select_from(DataRemoval)).one() == 1
    clock.advance(hours=19)
    sweeper.run_once_sync()
    with session_scope(gateway.engine) as s:
        assert s.exec(select(func.count()).select_from(DataRemoval)).one() == 2


def test_cli_dry_run_prints_counts_and_a_real_run_needs_confirmation(gateway: Any, tmp_path: Any) -> None:
    from gateway.cli import app

    seed(gateway)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[gateway]\ndata_dir = "{tmp_path / "var"}"\n[database]\nurl = "{gateway.config.database.url}"\n'
        "[retention]\nvoicemail_audio_days = 1\ncall_log_days = 1\n[mail]\nenabled = false\n"
        "[sms]\nenabled = false\n[sip]\nenabled = false\n"
    )
    runner = CliRunner()
    # The gateway's own clock is not the CLI's: the CLI runs now, days after the seeded rows closed.
    dry = runner.invoke(app, ["retention", "--dry-run", "-c", str(cfg)])
    assert dry.exit_code == 0, dry.output
    assert "voicemail_audio" in dry.output and "call_log" in dry.output
    refused = runner.invoke(app, ["retention", "-c", str(cfg)], input="n\n")
    assert refused.exit_code != 0
    with session_scope(gateway.engine) as s:
        assert s.exec(select(func.count()).select_from(CallLog)).one() == 1
    done = runner.invoke(app, ["retention", "--yes", "-c", str(cfg)])
    assert done.exit_code == 0, done.output
    with session_scope(gateway.engine) as s:
        assert s.exec(select(func.count()).select_from(CallLog)).one() == 0


def test_the_gateway_with_the_sla_role_runs_the_daily_sweep_in_its_loops(config: Any, clock: Any) -> None:
    import asyncio

    from gateway.app import build_gateway

    gw = build_gateway(config, clock=clock, roles={"sla"})
    assert gw.retention is not None

    async def started() -> int:
        await gw.start()
        try:
            for _ in range(200):
                with session_scope(gw.engine) as s:
                    done = s.exec(select(func.count()).select_from(DataRemoval)).one()
                if done:
                    return int(done)
                await asyncio.sleep(0.05)
            return 0
        finally:
            await gw.stop()

    assert asyncio.run(started()) == 1

"""The mail spool: raw bytes committed before 250, parsed afterwards by the spool worker, which
stores each mail once, retries failures and quarantines what it can never parse — never drops it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import ChannelKind, DeliveryReport, InboundContact, RawInbound
from gateway.spool import SpoolProcessor
from mail.intake import decode_spooled
from storage.blobs import raw_bytes
from storage.db import session_scope
from storage.models import InboundSpool, Message, Ticket
from storage.queue import claim_spool
from tests.mail.conftest import citizen_mail

ADDRESS = "sistem48@sistem48.localhost"


def _raw(gw: Any, raw: bytes) -> RawInbound:
    return RawInbound(
        ChannelKind.EMAIL, raw, gw.clock(), {"mail_from": "petar@example.org", "rcpt_tos": ADDRESS}
    )


def _processor(gw: Any, decoder: Any = decode_spooled, worker: str = "test@host:1") -> SpoolProcessor:
    return SpoolProcessor(gw.engine, gw.inbox, {ChannelKind.EMAIL: decoder}, gw.clock, worker)


def _spool(gw: Any, *raws: bytes) -> list[str]:
    ids = gw.inbox.spool_many_sync([_raw(gw, raw) for raw in raws])
    assert all(isinstance(i, str) for i in ids)
    return list(ids)


def _spool_rows(gw: Any) -> list[InboundSpool]:
    with session_scope(gw.engine) as s:
        return list(s.exec(select(InboundSpool).order_by(col(InboundSpool.id))).all())


def test_spooled_mail_becomes_a_ticket_and_the_spool_drops_its_copy(gateway: Any) -> None:
    raw = citizen_mail("Pukla je cev u ulici Kralja Petra 12.", to=ADDRESS)
    [spool_id] = _spool(gateway, raw)
    assert spool_id.startswith("S") and spool_id[1:].isdigit()
    assert _processor(gateway).process_batch_sync() == 1
    [row] = _spool_rows(gateway)
    assert row.state == "done" and row.raw is None and row.message_id is not None
    with session_scope(gateway.engine) as s:
        message = s.get(Message, row.message_id)
        assert message is not None and message.ticket_id is not None
        assert (
            raw_bytes(gateway.blobs, message.raw_inline, message.raw_sha256) == raw
        )  # the exact bytes moved to the message
        assert s.get(Ticket, message.ticket_id) is not None


def test_the_same_mail_spooled_twice_is_stored_once(gateway: Any) -> None:
    raw = citizen_mail(to=ADDRESS, message_id="<twice@example.org>")
    _spool(gateway, raw, raw)  # the sender retried after our 250 was lost on the wire
    assert _processor(gateway).process_batch_sync() == 2
    rows = _spool_rows(gateway)
    assert [r.state for r in rows] == ["done", "done"]
    assert rows[0].message_id == rows[1].message_id
    with session_scope(gateway.engine) as s:
        assert len(s.exec(select(Message).where(Message.channel == "email")).all()) == 1


def test_a_mail_the_parser_keeps_failing_on_is_quarantined_with_its_bytes_after_the_last_try(
    gateway: Any,
) -> None:
    def broken(item: RawInbound) -> tuple[InboundContact, list[DeliveryReport]]:
        raise RecursionError("maximum recursion depth exceeded")

    raw = citizen_mail("Nešto", to=ADDRESS)
    _spool(gateway, raw)
    worker = _processor(gateway, broken)
    for attempt in range(1, worker.max_attempts + 1):
        assert worker.process_batch_sync() == 1
        [row] = _spool_rows(gateway)
        if attempt < worker.max_attempts:
            assert row.state == "queued" and "RecursionError" in (row.last_error or "")
            assert row.raw == raw
            assert worker.process_batch_sync() == 0  # backoff: not before run_after
            gateway.clock.advance(minutes=15)
    [row] = _spool_rows(gateway)
    assert row.state == "done"
    with session_scope(gateway.engine) as s:
        message = s.get(Message, row.message_id)
        assert message is not None and message.ticket_id is None
        assert "could not be parsed: RecursionError" in (message.quarantine_reason or "")
        assert raw_bytes(gateway.blobs, message.raw_inline, message.raw_sha256) == raw


def test_a_batch_the_database_refused_is_retried_without_counting_an_attempt(gateway: Any) -> None:
    _spool(gateway, citizen_mail(to=ADDRESS))
    worker = _processor(gateway)
    real = gateway.inbox.ingest_many_sync

    def commit_fails(contacts: list[InboundContact]) -> Any:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    gateway.inbox.ingest_many_sync = commit_fails
    with pytest.raises(sa.exc.OperationalError):
        worker.process_batch_sync()
    [row] = _spool_rows(gateway)
    assert (row.state, row.attempts, row.raw is not None) == ("queued", 0, True)
    gateway.inbox.ingest_many_sync = real
    assert worker.process_batch_sync() == 1
    assert _spool_rows(gateway)[0].state == "done"


def test_mails_held_by_a_dead_worker_are_taken_again_at_start_not_after_the_lease(gateway: Any) -> None:
    _spool(gateway, citizen_mail(to=ADDRESS))
    dead = f"gw@{socket.gethostname()}:{2**22 + 7}"  # above pid_max's default: never a live pid
    alive = f"gw@{socket.gethostname()}:{os.getppid()}"
    assert len(claim_spool(gateway.engine, dead, gateway.clock())) == 1

    async def start_and_stop(worker: str) -> None:
        task = asyncio.create_task(_processor(gateway, worker=worker).run_forever())
        for _ in range(200):
            if _spool_rows(gateway)[0].state == "done":
                break
            await asyncio.sleep(0.02)
        task.cancel()

    asyncio.run(start_and_stop(alive))
    [row] = _spool_rows(gateway)
    assert row.state == "done" and row.attempts == 2  # the dead worker's try counts


def test_a_running_row_of_a_live_worker_is_left_alone_until_its_lease_expires(gateway: Any) -> None:
    _spool(gateway, citizen_mail(to=ADDRESS))
    other = f"gw@{socket.gethostname()}:{os.getppid()}"
    assert len(claim_spool(gateway.engine, other, gateway.clock())) == 1
    assert claim_spool(gateway.engine, "me@x:1", gateway.clock()) == []
    gateway.clock.advance(seconds=31)
    assert len(claim_spool(gateway.engine, "me@x:1", gateway.clock())) == 1


def test_a_bounce_of_our_mail_is_reported_once_even_if_spooled_twice(gateway: Any) -> None:
    bounce = (
        b"From: MAILER-DAEMON@relay.example\r\nTo: sistem48@sistem48.localhost\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@relay.example>\r\n"
        b"Auto-Submitted: auto-replied\r\nContent-Type: multipart/report; report-type=delivery-status;"
        b' boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n'
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\n"
        b"Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n"
    )
    seen: list[DeliveryReport] = []
    real = gateway.inbox.record_delivery_sync
    gateway.inbox.record_delivery_sync = lambda report: (seen.append(report), real(report))
    _spool(gateway, bounce, bounce)
    _processor(gateway).process_batch_sync()
    assert [(r.recipient, r.state.value) for r in seen] == [("gone@example.org", "failed")]


def test_spool_rows_wait_for_their_retry_time(gateway: Any) -> None:
    _spool(gateway, citizen_mail(to=ADDRESS))
    with session_scope(gateway.engine, write=True) as s:
        row = s.exec(select(InboundSpool)).one()
        row.run_after = gateway.clock() + timedelta(minutes=1)
        s.add(row)
    assert _processor(gateway).process_batch_sync() == 0
    gateway.clock.advance(minutes=2)
    assert _processor(gateway).process_batch_sync() == 1


def test_smtp_answers_451_while_the_database_is_away_and_250_once_it_is_back(gateway: Any) -> None:
    import smtplib

    from mail.channel import MailChannel
    from tests.mail.conftest import channel_settings

    async def scenario() -> None:
        channel = MailChannel(channel_settings(accept_addresses=[ADDRESS]), clock=gateway.clock)
        await channel.start(gateway.inbox)
        real_engine = gateway.inbox.engine
        gateway.inbox.engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/gone")
        raw = citizen_mail(to=ADDRESS)

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", channel.port, timeout=10) as client:
                client.sendmail("petar@example.org", [ADDRESS], raw)

        try:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                await asyncio.to_thread(send)
            assert refused.value.smtp_code == 451
            gateway.inbox.engine = real_engine
            await asyncio.to_thread(send)  # the sending MTA's retry
        finally:
            gateway.inbox.engine = real_engine
            await channel.stop()

    asyncio.run(scenario())
    [row] = _spool_rows(gateway)
    assert row.raw is not None and row.envelope["mail_from"] == "petar@example.org"


def test_staff_see_quarantined_mail_and_an_admin_has_it_parsed_again_after_a_fix(gateway: Any) -> None:
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.auth import create_token

    def broken(item: RawInbound) -> tuple[InboundContact, list[DeliveryReport]]:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "a parser bug")

    raw = citizen_mail("Pukla je cev kod škole.", to=ADDRESS, message_id="<bug@example.org>")
    _spool(gateway, raw)
    worker = _processor(gateway, broken)
    worker.max_attempts = 1
    worker.process_batch_sync()
    with session_scope(gateway.engine, write=True) as s:
        admin = {"Authorization": f"Bearer {create_token(s, name='a', role='admin')}"}
        operator = {"Authorization": f"Bearer {create_token(s, name='o', role='operator')}"}
    with TestClient(create_app(gateway.config, gateway=gateway)) as client:
        listed = client.get("/api/v1/quarantine", headers=operator).json()
        [item] = listed["messages"]
        assert "could not be parsed: UnicodeDecodeError" in item["reason"]
        assert item["sender"] == "p…@example.org"  # masked; the raw mail is there for who needs more
        assert client.post(f"/api/v1/quarantine/{item['id']}/reparse", headers=operator).status_code == 403
        accepted = client.post(f"/api/v1/quarantine/{item['id']}/reparse", headers=admin)
        assert accepted.status_code == 202
        again = client.post(f"/api/v1/quarantine/{item['id']}/reparse", headers=admin)
        assert again.status_code == 409
        # The fixed parser (the real one) turns it into a ticket now.
        _processor(gateway).process_batch_sync()
        assert client.get("/api/v1/quarantine", headers=operator).json()["messages"] == []
    with session_scope(gateway.engine) as s:
        fixed = s.exec(select(Message).where(Message.external_id == "bug@example.org")).one()
        assert fixed.ticket_id is not None and fixed.quarantine_reason is None
        assert len(s.exec(select(Message).where(Message.channel == "email")).all()) == 2  # the old one kept


def test_a_spool_row_that_failed_for_good_is_listed_and_can_be_retried(gateway: Any) -> None:
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.auth import create_token

    _spool(gateway, citizen_mail(to=ADDRESS))
    with session_scope(gateway.engine, write=True) as s:
        row = s.exec(select(InboundSpool)).one()
        row.state, row.attempts, row.last_error = "failed", 5, "OperationalError: disk I/O error"
        s.add(row)
        row_id = row.id
        admin = {"Authorization": f"Bearer {create_token(s, name='a', role='admin')}"}
    with TestClient(create_app(gateway.config, gateway=gateway)) as client:
        [failed] = client.get("/api/v1/quarantine", headers=admin).json()["spool_failed"]
        assert failed["id"] == f"S{row_id}" and "disk I/O" in failed["error"]
        assert client.post(f"/api/v1/quarantine/spool/{row_id}/retry", headers=admin).status_code == 202
        assert client.post(f"/api/v1/quarantine/spool/{row_id}/retry", headers=admin).status_code == 404
    assert _processor(gateway).process_batch_sync() == 1
    assert _spool_rows(gateway)[0].state == "done"


def test_a_full_blob_disk_holds_mail_in_the_spool_without_spending_its_attempts(
    gateway: Any, small_disk: Any
) -> None:
    from email.message import EmailMessage

    from storage.blobs import BlobStore

    gateway.inbox.blobs = BlobStore(small_disk)
    filler = small_disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as fh:
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "petar@example.org", ADDRESS, "Rupa"
    msg.set_content("Rupa na kolovozu, slika u prilogu.")
    msg.add_attachment(os.urandom(300 * 1024), maintype="image", subtype="jpeg", filename="rupa.jpg")
    raw = msg.as_bytes()
    _spool(gateway, raw)
    processor = _processor(gateway)
    for _ in range(processor.max_attempts + 2):  # more tries than a broken mail would get
        assert processor.process_batch_sync() == 1
        gateway.clock.advance(seconds=10)
    [row] = _spool_rows(gateway)
    assert (row.state, row.attempts, row.raw) == ("queued", 0, raw)  # held, not quarantined
    assert "ENOSPC" in gateway.inbox.blobs.health()["detail"]
    filler.unlink()
    assert processor.process_batch_sync() == 1
    [row] = _spool_rows(gateway)
    assert row.state == "done"
    with session_scope(gateway.engine) as s:
        message = s.exec(select(Message)).one()
        assert message.quarantine_reason is None


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_the_spool_worker_stops_when_cancelled_just_as_a_mail_wakes_it(gateway: Any, turns: int) -> None:
    # Python 3.11's asyncio.wait_for swallowed exactly this cancellation: the gateway then never
    # finished stopping after SIGTERM (seen as a hung SMTP crash test).
    async def scenario() -> bool:
        task = asyncio.create_task(_processor(gateway).run_forever())
        await asyncio.sleep(0.1)  # idle, waiting for a wake-up
        gateway.inbox.spooled.set()
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        return bool(done)

    assert asyncio.run(scenario())

"""E-mail end to end through the real core: smtplib → MailChannel → Inbox → ticket → outbox →
MailNotifier → a real aiosmtpd relay; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from gateway.app import build_gateway
from mail.intake import contact_from_bytes
from storage.blobs import raw_bytes
from storage.db import session_scope
from storage.models import Message, Ticket
from tests.conftest import make_config
from tests.core.helpers import spool_settled
from tests.mail.conftest import CORPUS, CollectingRelay, citizen_mail, running_relay

ADDRESS = "sistem48@sistem48.localhost"


def _send(port: int, raw: bytes, sender: str = "petar@example.org") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(sender, [ADDRESS], raw)


async def _drain_outbox(gw: Any) -> None:
    while await gw.outbox.run_once():
        pass


def _gateway(tmp_path: Path, db_url: str, relay: Any, clock: Any) -> Any:
    cfg = make_config(tmp_path, db_url)
    cfg.mail.enabled = True
    cfg.mail.listen_port = 0
    cfg.mail.relay = relay
    return build_gateway(cfg, clock=clock, roles={"mail", "outbox"})


def _parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_mail_opens_ticket_acknowledges_and_reply_threads(tmp_path: Path, db_url: str, clock: Any) -> None:
    async def scenario() -> None:
        relay = CollectingRelay()
        async with running_relay(relay) as relay_settings:
            gw = _gateway(tmp_path, db_url, relay_settings, clock)
            await gw.start()
            try:
                port = gw.channels[0].port
                raw = citizen_mail(
                    "Ne radi sijalica ispred škole.", to=ADDRESS, message_id="<first@example.org>"
                )
                await asyncio.to_thread(_send, port, raw)
                await spool_settled(gw)
                await _drain_outbox(gw)
                assert len(relay.received) == 1
                ack = _parsed(relay.received[0][2])
                assert ack["To"] == "petar@example.org"
                assert ack["Auto-Submitted"] == "auto-replied"
                assert ack["In-Reply-To"] == "<first@example.org>"
                ref = ack["Subject"].split("]")[0].strip("[")
                assert ref.startswith("S48-")

                reply = citizen_mail(
                    "Evo još detalja: sijalica je na stubu broj 7.",
                    to=ADDRESS,
                    subject=f"Re: {ack['Subject']}",
                    message_id="<second@example.org>",
                    extra_headers={"In-Reply-To": ack["Message-ID"]},
                )
                await asyncio.to_thread(_send, port, reply)
                await spool_settled(gw)
                await _drain_outbox(gw)
                assert len(relay.received) == 1  # a reply into an open ticket is not acknowledged again
                with session_scope(gw.engine) as s:
                    tickets = s.exec(select(Ticket)).all()
                    assert [t.reference for t in tickets] == [ref]
                    assert len(s.exec(select(Message).where(Message.ticket_id == tickets[0].id)).all()) == 2
            finally:
                await gw.stop()

    asyncio.run(scenario())


def test_auto_reply_gets_no_acknowledgement(tmp_path: Path, db_url: str, clock: Any) -> None:
    async def scenario() -> None:
        relay = CollectingRelay()
        async with running_relay(relay) as relay_settings:
            gw = _gateway(tmp_path, db_url, relay_settings, clock)
            await gw.start()
            try:
                raw = citizen_mail(
                    "I am out of office until Monday.",
                    to=ADDRESS,
                    extra_headers={"Auto-Submitted": "auto-replied"},
                )
                await asyncio.to_thread(_send, gw.channels[0].port, raw)
                await spool_settled(gw)
                await _drain_outbox(gw)
                assert relay.received == []
            finally:
                await gw.stop()

    asyncio.run(scenario())


def test_unparseable_mail_is_kept_in_quarantine_not_lost(tmp_path: Path, db_url: str, clock: Any) -> None:
    async def scenario() -> None:
        relay = CollectingRelay()
        async with running_relay(relay) as relay_settings:
            gw = _gateway(tmp_path, db_url, relay_settings, clock)
            await gw.start()
            try:
                garbage = b"\x00\x01 not a mail at all \xff\xfe\r\n\r\n\x00"
                await asyncio.to_thread(_send, gw.channels[0].port, garbage)
                await spool_settled(gw)
                with session_scope(gw.engine) as s:
                    stored = s.exec(select(Message)).all()
                assert len(stored) == 1
                kept = stored[0]
                assert kept.quarantine_reason or kept.ticket_id is not None
                raw = raw_bytes(gw.blobs, kept.raw_inline, kept.raw_sha256)
                assert raw is not None and raw.startswith(b"\x00\x01")
            finally:
                await gw.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.eml")))
def test_every_corpus_mail_is_stored_through_the_real_inbox(gateway: Any, name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    contact = contact_from_bytes(raw, received_at=datetime.now(UTC), rcpt_tos=[ADDRESS])
    result = gateway.inbox.ingest_sync(contact)
    assert result.message_id is not None
    with session_scope(gateway.engine) as s:
        message = s.get(Message, result.message_id)
        assert message is not None
        assert raw_bytes(gateway.blobs, message.raw_inline, message.raw_sha256) == raw
        if result.ticket_id is None:
            assert message.quarantine_reason or message.auto in ("bounce", "mdn") or not contact.sender

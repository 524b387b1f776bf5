"""SMS end to end through the real core: Gammu dummy modem → SmsChannel → Inbox → ticket → outbox →
SmsNotifier → the same modem; keywords, STOP and script of the reply; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from gateway.app import build_gateway
from gateway.tickets import Actor, Change, Status
from sms.simulator import inject_incoming, list_sent
from storage.db import session_scope
from storage.models import Message, OutboxMessage, Ticket
from tests.conftest import make_config

CITIZEN = "+381641234567"


def _gateway(tmp_path: Path, db_url: str, clock: Any) -> Any:
    cfg = make_config(tmp_path, db_url)
    cfg.sms.enabled = True
    cfg.sms.send_per_minute = 600
    cfg.sms.quiet_hours_start = None
    cfg.sms.quiet_hours_end = None
    return build_gateway(cfg, clock=clock, roles={"sms", "outbox"})


async def _round(gw: Any) -> None:
    """One modem poll, then send everything that is queued."""
    await gw.channels[0].inner.poll_once()
    while await gw.outbox.run_once():
        pass
    # The gateway's own outbox loop runs too and may hold a row it claimed first: wait for it.
    for _ in range(400):
        with session_scope(gw.engine) as s:
            busy = s.exec(select(OutboxMessage).where(col(OutboxMessage.state).in_(("queued", "sending"))))
            if busy.first() is None:
                return
        await asyncio.sleep(0.05)


def test_sms_gets_acknowledged_in_its_script_and_status_keyword_answers(
    tmp_path: Path, db_url: str, clock: Any
) -> None:
    async def scenario() -> None:
        gw = _gateway(tmp_path, db_url, clock)
        modem = Path(gw.config.sms.device)
        await gw.start()
        try:
            long_cyrillic = (
                "Не ради расвета у целој улици Војводе Мишића, од броја 1 до броја 40, већ три ноћи."
            )
            assert inject_incoming(modem, CITIZEN, long_cyrillic) == 2
            await _round(gw)
            sent = list_sent(modem)
            assert len(sent) == 1 and sent[0].recipient == CITIZEN
            assert "пријава" in sent[0].text
            with session_scope(gw.engine) as s:
                ticket = s.exec(select(Ticket)).one()
                assert ticket.description == long_cyrillic
                assert ticket.suggested_category == "javna_rasveta"

            clock.advance(days=4)  # outside the threading window: a keyword, not a new report
            inject_incoming(modem, CITIZEN, f"status {ticket.reference}")
            await _round(gw)
            reply = list_sent(modem)[-1]
            assert ticket.reference in reply.text and "примљена" in reply.text
        finally:
            await gw.stop()

    asyncio.run(scenario())


def test_stop_silences_every_later_status_sms(tmp_path: Path, db_url: str, clock: Any) -> None:
    async def scenario() -> None:
        gw = _gateway(tmp_path, db_url, clock)
        modem = Path(gw.config.sms.device)
        await gw.start()
        try:
            inject_incoming(modem, CITIZEN, "Rupa na kolovozu kod pijace")
            await _round(gw)
            inject_incoming(modem, CITIZEN, "STOP")
            await _round(gw)
            assert [s.text.split(":")[0] for s in list_sent(modem)] == ["Sistem48", "Sistem48"]
            assert "odjavljeni" in list_sent(modem)[-1].text
            with session_scope(gw.engine, write=True) as s:
                ticket = s.exec(select(Ticket)).one()
                gw.tickets.transition(s, ticket, Status.OPEN, Actor("ana", "operator"), Change())
            await _round(gw)
            assert len(list_sent(modem)) == 2
            with session_scope(gw.engine) as s:
                kinds = [o.kind for o in s.exec(select(OutboxMessage)).all()]
            assert kinds == ["ack", "stop"]  # the validation notice was never even queued
        finally:
            await gw.stop()

    asyncio.run(scenario())


def test_real_phone_sms_kinds_through_the_core_one_mms_reply_no_empty_ticket_no_paid_reply(
    tmp_path: Path, db_url: str, clock: Any
) -> None:
    """MMS notice, vCard, UDH-only part and a foreign sender, as phones and networks send them."""
    from tests.sms.phone_pdus import PORTS_MMS, deliver, mms_notification, put

    when = clock.now.replace(microsecond=0)

    async def scenario() -> None:
        gw = _gateway(tmp_path, db_url, clock)
        gw.config.sms.mms_reply = "Sistem48: slike saljite na {mail} (prijava {ref})."
        modem = Path(gw.config.sms.device)
        await gw.start()
        try:
            mms = mms_notification(CITIZEN, "http://mms.mts.rs/m/a1b2c3")
            put(modem, deliver(CITIZEN, mms, dcs=0x04, when=when, udh=PORTS_MMS))
            card = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Petrovic;Pera\r\nEND:VCARD\r\n"
            put(
                modem,
                deliver("+381652222222", card, dcs=0xF5, when=when, udh=b"\x06\x05\x04\x23\xf4\x00\x00"),
            )
            put(modem, deliver("+381653333333", b"", dcs=0x00, when=when, udh=b"\x05\x00\x03\x17\x01\x01"))
            inject_incoming(modem, "+436641234567", "Rupa na putu kod mosta", when=when)
            await _round(gw)

            with session_scope(gw.engine) as s:
                tickets = s.exec(select(Ticket)).all()
                outbox = s.exec(select(OutboxMessage)).all()
                stored = s.exec(select(Message)).all()
            assert all(t.description.strip() for t in tickets), "no empty ticket"
            by_channel = sorted(t.description.split(" ")[0] for t in tickets)
            assert by_channel == ["MMS", "Rupa"]  # the MMS notice and the foreign citizen's report
            [mms_ticket] = [t for t in tickets if t.description.startswith("MMS")]
            quarantined = sorted(m.quarantine_reason or "" for m in stored if m.ticket_id is None)
            assert [q.split(" ")[0] for q in quarantined] == ["Prazna", "Vizit-karta"]

            assert [(o.kind, o.recipient) for o in outbox] == [("ack_mms", CITIZEN)]
            sent = list_sent(modem)
            assert len(sent) == 1 and sent[0].recipient == CITIZEN
            mail = gw.config.mail.accept_addresses[0]
            assert sent[0].text == f"Sistem48: slike saljite na {mail} (prijava {mms_ticket.reference})."

            # the same citizen's second MMS minutes later threads into the ticket: still one reply
            clock.advance(minutes=5)
            put(modem, deliver(CITIZEN, mms_notification(CITIZEN, "http://mms.mts.rs/m/d4e5f6"),
                               dcs=0x04, when=when, udh=PORTS_MMS))  # fmt: skip
            await _round(gw)
            assert len(list_sent(modem)) == 1
        finally:
            await gw.stop()

    asyncio.run(scenario())


def test_mms_reply_is_configurable_and_follows_the_readers_script() -> None:
    from gateway.notify import sms_body

    template = "Sistem48: fotografije pošaljite e-poštom na {mail}, uz broj {ref}."
    values = {"mail": "sistem48@grad.rs", "ref": "S48-2026-000001"}
    latin = sms_body("ack_mms", "latin", template=template, **values)
    cyrillic = sms_body("ack_mms", "cyrillic", template=template, **values)
    assert latin == "Sistem48: fotografije posaljite e-postom na sistem48@grad.rs, uz broj S48-2026-000001."
    assert (
        "фотографије пошаљите" in cyrillic
        and "sistem48@grad.rs" in cyrillic
        and "S48-2026-000001" in cyrillic
    )

"""SMS end to end through the real core: Gammu dummy modem → SmsChannel → Inbox → ticket → outbox →
SmsNotifier → the same modem; keywords, STOP and script of the reply; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlmodel import select

from gateway.app import build_gateway
from gateway.tickets import Actor, Change, Status
from sms.simulator import inject_incoming, list_sent
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
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
            assert "Пријава примљена" in sent[0].text and "/s/" in sent[0].text
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

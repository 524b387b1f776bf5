"""Merging over HTTP (both databases): both tickets link to each other, each duplicate's reporter
is told on their own channel where the report went, and later hears the surviving ticket's
resolution."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from gateway.tickets import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.core.helpers import mail, sms
from tests.web.conftest import PHONE
from tests.web.test_web_http import client, csrf_of, login

__all__ = ["client"]


def outbox(gw: Any, ref: str) -> list[tuple[str, str, str]]:
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        rows = s.exec(
            select(OutboxMessage).where(OutboxMessage.ticket_id == t.id).order_by(OutboxMessage.id)
        ).all()
        return [(r.kind, r.channel, r.recipient) for r in rows]


def test_merged_tickets_link_both_ways_and_their_reporters_hear_the_merge_and_the_resolution(
    client: TestClient, gw: Any
) -> None:
    original = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi svetlo u parku")).reference
    by_mail = gw.inbox.ingest_sync(mail(gw, "mika@example.rs", "Park je u mraku")).reference
    by_sms = gw.inbox.ingest_sync(sms(gw, "+381601112299", "Mrak u parku")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{by_mail}").text)
    for dup in (by_mail, by_sms):
        data = {"csrf": csrf, "to": "duplicate", "duplicate_of": original, "confirm": "yes"}
        assert client.post(f"/tickets/{dup}/transition", data=data).status_code == 303
        page = client.get(f"/tickets/{dup}").text
        assert f'<a href="/tickets/{original}" id="merged-into">' in page
    survivor = client.get(f"/tickets/{original}").text
    assert f'<a href="/tickets/{by_mail}">' in survivor and f'<a href="/tickets/{by_sms}">' in survivor
    assert ("duplicate", "email", "mika@example.rs") in outbox(gw, by_mail)
    # told by SMS even though "duplicate" is not among the configured SMS status replies
    assert "duplicate" not in gw.config.sms.reply_on
    assert ("duplicate", "sms", "+381601112299") in outbox(gw, by_sms)

    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == original)).one()
        gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        gw.tickets.transition(s, t, Status.RESOLVED, SYSTEM, Change(note="Zamenjena sijalica"))
    assert outbox(gw, by_mail)[-1] == ("resolved", "email", "mika@example.rs")
    assert outbox(gw, by_sms)[-1] == ("resolved", "sms", "+381601112299")
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == by_mail)).one()
        body = s.exec(
            select(OutboxMessage.body).where(
                OutboxMessage.ticket_id == t.id, OutboxMessage.kind == "resolved"
            )
        ).one()
    assert "Zamenjena sijalica" in body
    assert "poslato rešenje prijave" in client.get(f"/tickets/{by_mail}").text

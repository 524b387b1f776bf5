"""The operators' queues over HTTP (both databases): deadline column, overdue / due-today /
waiting filters that really filter, and the call-back list joining missed calls and review flags,
with the full number and a "called back" button; the API lists the same call-backs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from channels.base import CallOutcome, CallRecord
from gateway.auth import create_token
from gateway.tickets import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import Ticket, TicketEvent
from tests.core.helpers import sms
from tests.web.conftest import PHONE, voicemail
from tests.web.test_web_http import client, csrf_of, login

__all__ = ["client"]


def refs_in(html: str) -> set[str]:
    table = html[html.index('<table class="list">') :]
    return set(re.findall(r'href="/tickets/(S48-\d{4}-\d{6})"', table))


def test_queue_filters_show_only_overdue_due_today_or_waiting_tickets(client: TestClient, gw: Any) -> None:
    now = gw.clock()
    refs = {}
    for name, due in (
        ("late", now - timedelta(hours=2)),
        ("today", now + timedelta(hours=3)),
        ("later", now + timedelta(days=3)),
    ):
        ref = gw.inbox.ingest_sync(sms(gw, f"+38164111000{len(refs)}", f"Prijava {name}")).reference
        with session_scope(gw.engine, write=True) as s:
            t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
            gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
            t.due_at = due  # the deadline itself is the SLA calendar's business, tested there
            s.add(t)
        refs[name] = ref
    waiting = gw.inbox.ingest_sync(sms(gw, "+381641110009", "Prijava čeka")).reference
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == waiting)).one()
        gw.tickets.transition(s, t, Status.WAITING, SYSTEM, Change(note="čeka se adresa od građanina"))
    login(client, "operater")
    everything = client.get("/inbox").text
    assert refs_in(everything) == {*refs.values(), waiting}
    assert "<th>Rok</th>" in everything
    assert refs_in(client.get("/inbox", params={"queue": "overdue"}).text) == {refs["late"]}
    assert refs_in(client.get("/inbox", params={"overdue": "true"}).text) == {refs["late"]}
    assert refs_in(client.get("/inbox", params={"queue": "today"}).text) == {refs["today"]}
    assert refs_in(client.get("/inbox", params={"queue": "waiting"}).text) == {waiting}
    assert refs_in(client.get("/inbox/rows", params={"queue": "overdue"}).text) == {refs["late"]}
    late_row = client.get("/inbox", params={"queue": "overdue"}).text
    assert "Kasni" in late_row  # flagged in the row even before the SLA sweep ran


def test_a_review_call_back_is_listed_with_the_full_number_and_called_back_from_the_inbox(
    client: TestClient, gw: Any, spoken_wav: bytes
) -> None:
    flagged = voicemail(gw, PHONE, spoken_wav)
    gw.inbox.record_call_sync(
        CallRecord("missed-9", "+381647778899", "100", gw.clock(), 1.0, CallOutcome.MISSED, True)
    )
    login(client, "operater")
    csrf = csrf_of(client.get("/review").text)
    assert client.post(f"/review/{flagged}/callback", data={"csrf": csrf}).status_code == 200
    with session_scope(gw.engine, write=True) as s:
        token = create_token(s, name="api", role="operator")
    api = client.get("/api/v1/calls", params={"callback": True}, headers={"Authorization": f"Bearer {token}"})
    listed = {(i["caller"], i["reference"], i["source"]) for i in api.json()["items"]}
    assert (PHONE, flagged, "review") in listed and ("+381647778899", None, "missed_call") in listed

    inbox = client.get("/inbox").text
    assert f'href="tel:{PHONE}"' in inbox and 'href="tel:+381647778899"' in inbox
    r = client.post(f"/callbacks/ticket/{flagged}", data={"csrf": csrf})
    assert r.status_code == 303
    r = client.post("/callbacks/call/missed-9", data={"csrf": csrf})
    assert r.status_code == 303
    assert "tel:" not in client.get("/inbox").text
    api = client.get("/api/v1/calls", params={"callback": True}, headers={"Authorization": f"Bearer {token}"})
    assert api.json()["items"] == []
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == flagged)).one()
        notes = s.exec(
            select(TicketEvent.note).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == "callback")
        ).all()
    assert (t.needs_callback, list(notes)) == (False, ["call back requested", "called back"])

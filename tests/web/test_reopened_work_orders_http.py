"""A job the citizen says is not fixed (both databases): the utility's work-order list keeps it,
marked reopened, with the citizen's words and no personal data, and the utility gets a mail."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from gateway.ticket_states import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.core.helpers import sms
from tests.web.conftest import PHONE
from tests.web.test_web_http import client, login

__all__ = ["client"]


def test_a_reopened_job_stays_on_the_utilitys_list_with_the_citizens_words_and_a_notice(
    client: TestClient, gw: Any
) -> None:
    ref = str(gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi sijalica, Njegoševa 5")).reference)
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        gw.tickets.transition(s, t, Status.ASSIGNED, SYSTEM, Change(utility="rasveta"))
        gw.tickets.transition(s, t, Status.RESOLVED, SYSTEM, Change(note="Zamenjena sijalica"))
    login(client, "rasveta")
    assert ref not in client.get("/work-orders").text  # resolved: off the running list

    said = f"NIJE {ref} i dalje je mrak, zovite me na 064 987 6543 ili pera@example.rs"
    gw.inbox.ingest_sync(sms(gw, PHONE, said))
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        assert t.status == "open" and t.reopened_at is not None
        notices = s.exec(
            select(OutboxMessage).where(OutboxMessage.ticket_id == t.id, OutboxMessage.kind == "reopened")
        ).all()
    assert [n.recipient for n in notices] == gw.config.utility("rasveta").emails
    assert "i dalje je mrak" in notices[0].body and "987" not in notices[0].body
    assert "pera@example.rs" not in notices[0].body

    page = client.get("/work-orders").text
    assert f'href="/tickets/{ref}"' in page and "ponovo otvoreno" in page
    assert "i dalje je mrak" in page and "987 6543" not in page and "pera@example.rs" not in page
    assert ref not in client.get("/work-orders?status=assigned").text  # the filter still filters

    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gw.tickets.transition(s, t, Status.ASSIGNED, SYSTEM, Change(utility="vodovod"))
    assert ref not in client.get("/work-orders").text  # reassigned elsewhere: no longer theirs

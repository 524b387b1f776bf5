"""The operator's new-report page over HTTP (both databases): caller lookup in any spelling,
the report goes through the inbox as channel phone/walk_in, the acknowledgement follows the
chosen channel, nothing is saved without text, category and reply choice, never in the review."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from storage.db import session_scope
from storage.models import CitizenIdentity, Message, OutboxMessage, PiiAccess, Ticket
from tests.core.helpers import sms
from tests.web.conftest import PHONE
from tests.web.test_web_http import client, csrf_of, login

__all__ = ["client"]


def form(csrf: str, **values: str) -> dict[str, str]:
    base = {
        "csrf": csrf,
        "key": values.pop("key", "k1"),
        "kind": "phone",
        "phone": "064 123 4567",
        "description": "Ne radi ulična rasveta kod škole",
        "category": "javna_rasveta",
        "location_text": "Kralja Petra 3",
        "reply_via": "sms",
    }
    return {**base, **values}


def newest(gw: Any) -> Ticket:
    with session_scope(gw.engine) as s:
        return s.exec(select(Ticket).order_by(Ticket.id.desc())).first()  # type: ignore[union-attr]


def test_the_new_report_page_exists_and_shows_a_known_caller_in_every_spelling(
    client: TestClient, gw: Any
) -> None:
    earlier = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu")).reference
    login(client, "operater")
    page = client.get("/tickets/new")
    assert page.status_code == 200 and 'name="phone"' in page.text
    for spelling in ("+381641234567", "0641234567", "064 123 4567", "064/123-45-67"):
        panel = client.get("/tickets/new/caller", params={"phone": spelling})
        assert earlier in panel.text and "+381641234567" in panel.text, spelling
    unknown = client.get("/tickets/new/caller", params={"phone": "0607777777"})
    assert "Nov pozivalac" in unknown.text
    with session_scope(gw.engine) as s:
        audits = s.exec(select(PiiAccess).where(PiiAccess.what == "caller lookup")).all()
    assert len(audits) == 4 and audits[0].actor == "operator:operater"


def test_a_phone_report_is_a_phone_ticket_acknowledged_by_sms_and_not_a_voicemail(
    client: TestClient, gw: Any
) -> None:
    login(client, "operater")
    csrf = csrf_of(client.get("/tickets/new").text)
    r = client.post("/tickets/new", data=form(csrf))
    assert r.status_code == 303
    t = newest(gw)
    assert r.headers["location"] == f"/tickets/{t.reference}"
    assert (t.channel, t.category, t.location_text, t.status) == (
        "phone",
        "javna_rasveta",
        "Kralja Petra 3",
        "received",
    )
    with session_scope(gw.engine) as s:
        acks = s.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == t.id)).all()
        msg = s.exec(select(Message).where(Message.ticket_id == t.id)).one()
    assert [(a.kind, a.channel, a.recipient) for a in acks] == [("ack", "sms", PHONE)]
    assert msg.channel == "phone" and msg.meta.get("entered_by") == "operater"
    assert t.reference not in client.get("/review").text
    # the same form sent twice (a double Enter) is one report
    assert client.post("/tickets/new", data=form(csrf)).headers["location"] == f"/tickets/{t.reference}"


def test_a_walk_in_wanting_mail_gets_the_acknowledgement_by_mail_and_both_identities(
    client: TestClient, gw: Any
) -> None:
    login(client, "operater")
    csrf = csrf_of(client.get("/tickets/new").text)
    data = form(csrf, kind="walk_in", email="Mika@Example.rs", reply_via="email", name="Mika Mikić", key="k2")
    assert client.post("/tickets/new", data=data).status_code == 303
    t = newest(gw)
    with session_scope(gw.engine) as s:
        acks = s.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == t.id)).all()
        ids = s.exec(select(CitizenIdentity).where(CitizenIdentity.citizen_id == t.citizen_id)).all()
    assert t.channel == "walk_in"
    assert [(a.channel, a.recipient) for a in acks] == [("email", "mika@example.rs")]
    assert sorted((i.kind, i.value) for i in ids) == [("email", "mika@example.rs"), ("phone", PHONE)]


def test_nothing_is_saved_without_text_category_or_a_reply_choice_and_the_form_keeps_what_was_typed(
    client: TestClient, gw: Any
) -> None:
    login(client, "operater")
    csrf = csrf_of(client.get("/tickets/new").text)
    for change, message in (
        ({"category": ""}, "Izaberite kategoriju."),
        ({"description": "  "}, "Upišite tekst prijave"),
        ({"reply_via": ""}, "Izaberite kako slati odgovore."),
        ({"reply_via": "email"}, "Za odgovor e-poštom upišite adresu."),
    ):
        r = client.post("/tickets/new", data=form(csrf, **change))
        assert r.status_code == 422 and message in r.text
        assert 'value="Kralja Petra 3"' in r.text
    with session_scope(gw.engine) as s:
        assert s.exec(select(Ticket)).all() == []


def test_the_category_field_suggests_from_the_text_without_choosing_for_the_operator(
    client: TestClient, gw: Any
) -> None:
    login(client, "operater")
    r = client.get("/tickets/new/category", params={"description": "Не ради сијалица у улици"})
    assert "★" in r.text and "javna rasveta" in r.text
    assert "selected" not in r.text  # a suggestion, not a default


def test_the_api_voice_channel_now_records_a_phone_report_outside_the_review(
    client: TestClient, gw: Any
) -> None:
    from tests.web.conftest import add_staff

    del add_staff
    login(client, "operater")
    with session_scope(gw.engine, write=True) as s:
        from gateway.auth import create_token

        token = create_token(s, name="api", role="operator")
    r = client.post(
        "/api/v1/tickets",
        json={"channel": "voice", "description": "Pozvao: curi voda", "phone": "0641234567"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201 and r.json()["channel"] == "phone"
    assert r.json()["reference"] not in client.get("/review").text

"""The operator's safe actions over HTTP (both databases): no default category, a blank voicemail
cannot be validated, discard/merge need a ticked confirmation and can be undone for a while,
corrections after validation land in the timeline, no codes or English in the Serbian pages."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from gateway.tickets import UNDO_WINDOW
from sms.codec import count_parts
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket, TicketEvent
from tests.core.helpers import sms
from tests.web.conftest import PHONE, voicemail
from tests.web.test_web_http import client, csrf_of, login

__all__ = ["client"]


def ticket(gw: Any, ref: str) -> Ticket:
    with session_scope(gw.engine) as s:
        return s.exec(select(Ticket).where(Ticket.reference == ref)).one()


def events(gw: Any, ref: str) -> list[TicketEvent]:
    t = ticket(gw, ref)
    with session_scope(gw.engine) as s:
        return list(s.exec(select(TicketEvent).where(TicketEvent.ticket_id == t.id)).all())


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_a_blank_voicemail_cannot_be_validated_even_with_a_category(
    client: TestClient, gw: Any, spoken_wav: bytes
) -> None:
    ref = voicemail(gw, PHONE, spoken_wav)  # no transcript, no text, no location
    login(client, "operater")
    page = client.get("/review")
    assert '<option value="">— izaberite —</option>' in page.text
    assert re.search(r'<select name="category" required>\s*<option value="">', page.text)
    csrf = csrf_of(page.text)
    r = client.post(f"/review/{ref}/validate", data={"csrf": csrf, "category": "", "description": ""})
    assert r.status_code == 422 and "Izaberite kategoriju." in r.text
    r = client.post(
        f"/review/{ref}/validate", data={"csrf": csrf, "category": "vodovod_kvar", "description": " "}
    )
    assert r.status_code == 422 and "Upišite tekst prijave" in r.text
    assert ticket(gw, ref).status == "received"
    with session_scope(gw.engine) as s:
        assert s.exec(select(OutboxMessage).where(OutboxMessage.kind != "ack_voice")).all() == []
    r = client.post(
        f"/review/{ref}/validate",
        data={"csrf": csrf, "category": "vodovod_kvar", "description": "Curi voda u Kralja Petra 3"},
    )
    assert r.status_code == 200 and ticket(gw, ref).status == "open"


def test_the_ticket_page_offers_no_status_list_and_discard_needs_a_ticked_confirmation(
    client: TestClient, gw: Any
) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu")).reference
    login(client, "operater")
    page = client.get(f"/tickets/{ref}")
    assert 'name="to">' not in page.text  # explicit buttons, not a list that starts with "discarded"
    for form in ("discard-form", "merge-form", "to-forwarded-form", "to-waiting-form"):
        assert f'id="{form}"' in page.text
    csrf = csrf_of(page.text)
    # the trap from the issue: a merge reference and a note, but the discard button's confirmation unticked
    r = client.post(
        f"/tickets/{ref}/transition",
        data={"csrf": csrf, "to": "discarded", "note": "spam", "duplicate_of": "S48-2026-000099"},
    )
    assert r.status_code == 422 and "Potvrdite radnju" in r.text
    assert ticket(gw, ref).status == "received"
    r = client.post(
        f"/tickets/{ref}/transition", data={"csrf": csrf, "to": "discarded", "note": "spam", "confirm": "yes"}
    )
    assert r.status_code == 303 and ticket(gw, ref).status == "discarded"


def test_a_discard_is_undone_within_the_window_and_not_after(client: TestClient, gw: Any) -> None:
    first = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu")).reference
    second = gw.inbox.ingest_sync(sms(gw, "+381601112233", "Rupa kod škole")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{first}").text)
    for ref in (first, second):
        data = {"csrf": csrf, "to": "discarded", "note": "greška", "confirm": "yes"}
        assert client.post(f"/tickets/{ref}/transition", data=data).status_code == 303
    page = client.get(f"/tickets/{first}")
    assert 'id="undo-form"' in page.text and "Može se poništiti do" in page.text
    assert client.post(f"/tickets/{first}/undo", data={"csrf": csrf}).status_code == 303
    t = ticket(gw, first)
    assert (t.status, t.discard_reason) == ("received", None)
    undo = [e for e in events(gw, first) if e.kind == "undo"]
    assert [(e.from_status, e.to_status, e.actor) for e in undo] == [
        ("discarded", "received", "operator:operater")
    ]
    assert "poništeno" in visible_text(client.get(f"/tickets/{first}").text)

    gw.clock.advance(seconds=UNDO_WINDOW.total_seconds() + 60)
    assert 'id="undo-form"' not in client.get(f"/tickets/{second}").text
    r = client.post(f"/tickets/{second}/undo", data={"csrf": csrf})
    assert r.status_code == 422 and ticket(gw, second).status == "discarded"


def test_a_merge_needs_confirmation_and_its_undo_is_noted_on_both_tickets(
    client: TestClient, gw: Any
) -> None:
    original = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi svetlo")).reference
    dup = gw.inbox.ingest_sync(sms(gw, "+381601112233", "Ne radi svetlo u ulici")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{dup}").text)
    data = {"csrf": csrf, "to": "duplicate", "duplicate_of": original}
    assert client.post(f"/tickets/{dup}/transition", data=data).status_code == 422
    assert client.post(f"/tickets/{dup}/transition", data={**data, "confirm": "yes"}).status_code == 303
    assert ticket(gw, dup).duplicate_of_id == ticket(gw, original).id
    assert client.post(f"/tickets/{dup}/undo", data={"csrf": csrf}).status_code == 303
    assert (ticket(gw, dup).status, ticket(gw, dup).duplicate_of_id) == ("received", None)
    with session_scope(gw.engine) as s:
        notice = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "duplicate")).one()
    assert notice.state == "cancelled"  # the merge notice that had not left yet never will
    notes = [e.note for e in events(gw, original) if e.kind == "merge"]
    assert notes == [f"{dup} merged as a duplicate", f"{dup} merge undone"]


def test_category_text_and_location_are_corrected_after_validation_in_the_timeline(
    client: TestClient, gw: Any
) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi sijalica")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    data = {"csrf": csrf, "category": "javna_rasveta", "description": "Ne radi sijalica"}
    assert client.post(f"/tickets/{ref}/validate", data=data).status_code == 303
    r = client.post(
        f"/tickets/{ref}/correct",
        data={
            "csrf": csrf,
            "category": "vodovod_kvar",
            "description": "Curi voda iz hidranta",
            "location_text": "Kralja Petra 3",
        },
    )
    assert r.status_code == 303
    t = ticket(gw, ref)
    assert (t.category, t.description, t.location_text) == (
        "vodovod_kvar",
        "Curi voda iz hidranta",
        "Kralja Petra 3",
    )
    edits = [e.note for e in events(gw, ref) if e.kind == "edit"]
    assert edits == [
        "description edited; category: javna_rasveta → vodovod_kvar; location: - → Kralja Petra 3"
    ]
    shown = visible_text(client.get(f"/tickets/{ref}").text)
    assert "tekst ispravljen" in shown and "Kralja Petra 3" in shown
    r = client.post(
        f"/tickets/{ref}/correct", data={"csrf": csrf, "category": "vodovod_kvar", "description": ""}
    )
    assert r.status_code == 422 and ticket(gw, ref).description == "Curi voda iz hidranta"


def test_serbian_pages_show_names_not_codes_or_english_and_cyrillic_is_offered(
    client: TestClient, gw: Any
) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi sijalica")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    data = {"csrf": csrf, "category": "javna_rasveta", "description": "Ne radi sijalica"}
    client.post(f"/tickets/{ref}/validate", data=data)
    shown = visible_text(client.get(f"/tickets/{ref}").text)
    for leak in ("javna_rasveta", "registered", "description edited", " sms "):
        assert leak not in shown
    assert "registrovana" in shown and "Javna rasveta" in shown
    client.get("/lang/sr-cyrl", headers={"referer": "http://testserver/inbox"})
    cyr = visible_text(client.get(f"/tickets/{ref}").text)
    assert "Прималац" not in cyr and "Радње" in cyr and "Јавна расвета" in cyr


def test_the_sms_part_counter_counts_the_prefix_the_gateway_adds(client: TestClient, gw: Any) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa")).reference
    login(client, "operater")
    page = client.get(f"/tickets/{ref}").text
    prefix = f"Sistem48 ({ref}): "
    assert f'data-sms-prefix="{prefix}"' in page
    text = "x" * (160 - len(prefix) + 1)  # fits one SMS alone, two with the prefix
    assert count_parts(text, "keep_script").parts == 1
    csrf = csrf_of(page)
    client.post(f"/tickets/{ref}/reply", data={"csrf": csrf, "text": text})
    with session_scope(gw.engine) as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "reply")).one()
    assert row.body == prefix + text and count_parts(row.body, "keep_script").parts == 2

"""The morning-review API: the night's queue with transcripts and caller history, the recording with
HTTP Range requests, and validate / attach / discard / call back through TicketService."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from gateway.app import create_app
from storage.db import session_scope
from storage.models import PiiAccess, Ticket, TicketEvent
from tests.core.helpers import sms
from tests.web.conftest import PHONE, Staff, add_staff, add_transcript, voicemail


@pytest.fixture
def api(gw: Any) -> Iterator[tuple[TestClient, Staff]]:
    staff = add_staff(gw)
    with TestClient(create_app(gw.config, gateway=gw)) as client:
        yield client, staff


def _status(gw: Any, ref: str) -> Ticket:
    with session_scope(gw.engine) as s:
        return s.exec(select(Ticket).where(Ticket.reference == ref)).one()


def test_queue_lists_the_nights_voicemails_with_words_history_and_caller(
    api: Any, gw: Any, spoken_wav: bytes
) -> None:
    client, staff = api
    earlier = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu kod škole")).reference
    gw.clock.advance(hours=1)
    ref = voicemail(gw, PHONE, spoken_wav, duration=3.2)
    add_transcript(gw, ref)
    r = client.get("/api/v1/voicemails", headers=staff.h("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    # since = end of the previous business day (Monday 15:30 in Belgrade = 14:30 UTC)
    assert datetime.fromisoformat(body["since"]).astimezone(UTC) == datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    [item] = [i for i in body["items"] if i["reference"] == ref]
    assert item["caller"] == PHONE
    assert item["duration_s"] == pytest.approx(3.2)
    assert [h["reference"] for h in item["earlier_tickets"]] == [earlier]
    words = item["transcript"]["words"]
    assert [w["word"] for w in words][:3] == ["ne", "radi", "ulična"]
    assert words[2]["low"] is True and words[2]["start"] == pytest.approx(0.8)
    assert item["transcript"]["low_confidence"] is True
    assert item["suggested_category"]  # "rasveta" matched a lighting category
    with session_scope(gw.engine) as s:
        audits = s.exec(
            select(func.count()).select_from(PiiAccess).where(PiiAccess.what == "voicemail review")
        ).one()
    assert audits >= 1


def test_queue_leaves_out_older_and_already_handled_voicemails(api: Any, gw: Any, spoken_wav: bytes) -> None:
    client, staff = api
    gw.clock.advance(days=-2)  # Sunday: before Monday's close
    old = voicemail(gw, PHONE, spoken_wav)
    gw.clock.advance(days=2)
    fresh = voicemail(gw, "+381601112223", spoken_wav)
    handled = voicemail(gw, "+381601112224", spoken_wav)
    r = client.post(
        f"/api/v1/voicemails/{handled}/discard", json={"reason": "silent"}, headers=staff.h("operator")
    )
    assert r.status_code == 200, r.text
    refs = [
        i["reference"] for i in client.get("/api/v1/voicemails", headers=staff.h("operator")).json()["items"]
    ]
    assert refs == [fresh]
    since = "2026-11-20T00:00:00+00:00"
    refs = [
        i["reference"]
        for i in client.get(
            "/api/v1/voicemails", params={"since": since}, headers=staff.h("operator")
        ).json()["items"]
    ]
    assert refs == [old, fresh]


def test_utilities_and_anonymous_callers_cannot_read_voicemails(api: Any, gw: Any, spoken_wav: bytes) -> None:
    client, staff = api
    ref = voicemail(gw, PHONE, spoken_wav)
    assert client.get("/api/v1/voicemails").status_code == 401
    assert client.get("/api/v1/voicemails", headers=staff.h("rasveta")).status_code == 403
    assert client.get(f"/api/v1/voicemails/{ref}/audio", headers=staff.h("rasveta")).status_code == 403


def test_audio_is_served_whole_and_by_byte_ranges(api: Any, gw: Any, spoken_wav: bytes) -> None:
    client, staff = api
    ref = voicemail(gw, PHONE, spoken_wav)
    h = staff.h("operator")
    size = len(spoken_wav)
    whole = client.get(f"/api/v1/voicemails/{ref}/audio", headers=h)
    assert whole.status_code == 200
    assert whole.content == spoken_wav and whole.content[:4] == b"RIFF"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"].startswith("audio/wav")

    part = client.get(f"/api/v1/voicemails/{ref}/audio", headers={**h, "Range": "bytes=0-43"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-43/{size}"
    assert part.content == spoken_wav[:44] and int(part.headers["content-length"]) == 44

    mid = client.get(f"/api/v1/voicemails/{ref}/audio", headers={**h, "Range": "bytes=1000-"})
    assert mid.status_code == 206 and mid.content == spoken_wav[1000:]
    assert mid.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"

    tail = client.get(f"/api/v1/voicemails/{ref}/audio", headers={**h, "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == spoken_wav[-100:]

    past = client.get(f"/api/v1/voicemails/{ref}/audio", headers={**h, "Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"

    assert client.get("/api/v1/voicemails/S48-2026-999999/audio", headers=h).status_code == 404


def test_validate_turns_the_voicemail_into_an_open_ticket_with_edited_text(
    api: Any, gw: Any, spoken_wav: bytes
) -> None:
    client, staff = api
    ref = voicemail(gw, PHONE, spoken_wav)
    add_transcript(gw, ref)
    r = client.post(
        f"/api/v1/voicemails/{ref}/validate",
        json={
            "category": "javna_rasveta",
            "description": "Ne radi rasveta",
            "location_text": "Kralja Petra 5",
        },
        headers=staff.h("operator"),
    )
    assert r.status_code == 200, r.text
    t = _status(gw, ref)
    assert (t.status, t.category, t.description, t.location_text) == (
        "open",
        "javna_rasveta",
        "Ne radi rasveta",
        "Kralja Petra 5",
    )
    assert t.validated_at is not None and t.due_at is not None
    again = client.post(f"/api/v1/voicemails/{ref}/validate", json={}, headers=staff.h("operator"))
    assert again.status_code == 409


def test_attach_marks_the_voicemail_a_duplicate_of_the_existing_ticket(
    api: Any, gw: Any, spoken_wav: bytes
) -> None:
    client, staff = api
    original = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi svetlo u ulici Kralja Petra")).reference
    ref = voicemail(gw, PHONE, spoken_wav)
    r = client.post(
        f"/api/v1/voicemails/{ref}/attach", json={"into": original.lower()}, headers=staff.h("operator")
    )
    assert r.status_code == 200, r.text
    t = _status(gw, ref)
    assert t.status == "duplicate" and t.duplicate_of_id == _status(gw, original).id
    missing = voicemail(gw, PHONE, spoken_wav)
    r = client.post(
        f"/api/v1/voicemails/{missing}/attach", json={"into": "S48-2026-999999"}, headers=staff.h("operator")
    )
    assert r.status_code == 422


def test_discard_needs_a_known_reason_and_records_it(api: Any, gw: Any, spoken_wav: bytes) -> None:
    client, staff = api
    ref = voicemail(gw, PHONE, spoken_wav)
    bad = client.post(
        f"/api/v1/voicemails/{ref}/discard", json={"reason": "boring"}, headers=staff.h("operator")
    )
    assert bad.status_code == 422
    ok = client.post(
        f"/api/v1/voicemails/{ref}/discard",
        json={"reason": "prank", "note": "dečja šala"},
        headers=staff.h("operator"),
    )
    assert ok.status_code == 200, ok.text
    t = _status(gw, ref)
    assert t.status == "discarded" and t.discard_reason == "prank: dečja šala"


def test_callback_flags_the_voicemail_and_keeps_it_in_the_queue(api: Any, gw: Any, spoken_wav: bytes) -> None:
    client, staff = api
    ref = voicemail(gw, PHONE, spoken_wav)
    r = client.post(f"/api/v1/voicemails/{ref}/callback", headers=staff.h("operator"))
    assert r.status_code == 200 and r.json()["needs_callback"] is True
    assert _status(gw, ref).needs_callback is True
    items = client.get("/api/v1/voicemails", headers=staff.h("operator")).json()["items"]
    assert [i["needs_callback"] for i in items if i["reference"] == ref] == [True]
    with session_scope(gw.engine) as s:
        kinds = s.exec(select(TicketEvent.kind).where(TicketEvent.ticket_id == _status(gw, ref).id)).all()
    assert "callback" in kinds


def test_actions_on_a_non_voice_ticket_are_not_found(api: Any, gw: Any) -> None:
    client, staff = api
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu")).reference
    r = client.post(
        f"/api/v1/voicemails/{ref}/discard", json={"reason": "other"}, headers=staff.h("operator")
    )
    assert r.status_code == 404
    assert _status(gw, ref).status == "received"

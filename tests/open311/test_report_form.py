"""The public report form /prijava and /report over HTTP: what it registers, whom it acknowledges,
and what it refuses (honeypot, forged or foreign form, too many, too big, not a photo)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select

from storage.db import session_scope
from storage.models import AttachmentRow, Message, OutboxMessage, Ticket
from tests.open311.conftest import CAMERA, EMAIL, GPS, PHONE, Env, photo_with_exif


def form_of(env: Env, path: str = "/prijava") -> dict[str, str]:
    page = env.client.get(path).text
    token = re.search(r'name="form" value="([^"]+)"', page)
    lang = re.search(r'name="lang" value="([^"]+)"', page)
    assert token and lang
    return {"form": token.group(1), "lang": lang.group(1)}


def send(env: Env, fields: dict[str, str], photos: int = 0, path: str = "/prijava", **kw: Any) -> Any:
    files = [("photos", (f"p{i}.jpg", photo_with_exif(), "image/jpeg")) for i in range(photos)]
    return env.client.post(path, data=fields, files=files or None, **kw)


def tickets(env: Env) -> list[Ticket]:
    with session_scope(env.gw.engine) as s:
        rows = list(s.exec(select(Ticket)).all())
        for r in rows:
            s.expunge(r)
        return rows


def test_form_pages_in_latin_cyrillic_and_english_without_javascript(env: Env) -> None:
    latin = env.client.get("/prijava")
    cyrillic = env.client.get("/prijava", params={"pismo": "cir"}).text
    english = env.client.get("/report").text
    assert latin.status_code == 200 and "Prijavite komunalni problem" in latin.text
    assert "Пријавите комунални проблем" in cyrillic and "Javna rasveta" not in cyrillic
    assert "Report a problem in the city" in english
    for page in (latin.text, cyrillic, english):
        assert "<script" not in page and 'enctype="multipart/form-data"' in page
    csp = latin.headers["content-security-policy"]
    assert "form-action 'self'" in csp and "script-src" not in csp


def test_report_with_photo_and_phone_becomes_a_web_ticket_acknowledged_by_sms(env: Env) -> None:
    fields = {
        **form_of(env),
        "description": "Ne radi ulična svetiljka već tri noći.",
        "category": "javna_rasveta",
        "address": "",
        "phone": "064 123 4567",
        "via": "sms",
    }
    r = send(env, fields, photos=1)
    assert r.status_code == 200, r.text
    (t,) = tickets(env)
    assert t.channel == "web" and t.category == "javna_rasveta"
    assert (t.lat, t.lon) == GPS  # the location came from the photo's EXIF
    assert t.reference in r.text
    link = re.search(r'id="status-link" href="http://127\.0\.0\.1:8048(/s/[^"]+)"', r.text)
    assert link is not None and env.client.get(link.group(1)).status_code == 200
    with session_scope(env.gw.engine) as s:
        (ack,) = s.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == t.id)).all()
        photo = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == t.id)).one()
    assert (ack.kind, ack.channel, ack.recipient) == ("ack", "sms", PHONE)
    assert link.group(1) in ack.body
    assert "SMS-om na +381…67." in r.text and "4567" not in r.text  # the number, masked
    assert photo.kind == "photo"
    media = env.client.get(f"/open311/v2/media/{t.reference}/{photo.id}-x.jpg")
    assert media.status_code == 404  # the photo is reachable only with its signed name
    assert CAMERA.encode() not in r.content


def test_anonymous_report_with_an_address_is_registered_and_not_acknowledged(env: Env) -> None:
    r = send(
        env,
        {**form_of(env, "/report"), "description": "Pothole on the main road", "address": "Karađorđeva 5"},
        path="/report",
    )
    assert r.status_code == 200 and "Your report is registered" in r.text
    (t,) = tickets(env)
    assert t.location_text == "Karađorđeva 5" and t.citizen_id is None
    with session_scope(env.gw.engine) as s:
        assert s.exec(select(OutboxMessage)).all() == []


def test_email_reply_channel_gets_an_email_acknowledgement(env: Env) -> None:
    fields = {
        **form_of(env),
        "description": "Pukla cev u dvorištu",
        "address": "Dositejeva 3",
        "email": EMAIL.upper(),
        "phone": "064 123 4567",
        "via": "email",
    }
    assert send(env, fields).status_code == 200
    with session_scope(env.gw.engine) as s:
        (ack,) = s.exec(select(OutboxMessage)).all()
    assert (ack.channel, ack.recipient) == ("email", EMAIL) and "/s/S48-" in ack.body


def test_sending_the_same_form_twice_gives_the_same_reference(env: Env) -> None:
    fields = {**form_of(env), "description": "Rupa na putu", "address": "Kralja Petra 1"}
    first, second = send(env, fields), send(env, fields)
    assert len(tickets(env)) == 1
    assert tickets(env)[0].reference in first.text and tickets(env)[0].reference in second.text


def test_a_filled_honeypot_looks_like_success_and_registers_nothing(env: Env) -> None:
    r = send(env, {**form_of(env), "description": "Kupite jeftino", "address": "x", "website": "http://spam"})
    assert r.status_code == 200 and "Prijava je primljena" in r.text and "S48-" not in r.text
    assert tickets(env) == []
    with session_scope(env.gw.engine) as s:
        assert s.exec(select(Message)).all() == []


@pytest.mark.parametrize(
    "change",
    [
        {"form": "1.abc.forged"},
        {"form": "0.abc.xyz"},
        {"description": "x"},
        {"address": ""},
        {"phone": "12"},
        {"email": "not-an-address"},
    ],
)
def test_refused_forms_come_back_with_the_reason_and_register_nothing(
    env: Env, change: dict[str, str]
) -> None:
    fields = {**form_of(env), "description": "Rupa na putu kod škole", "address": "Kralja Petra 1", **change}
    r = send(env, fields)
    assert r.status_code == 400 and 'role="alert"' in r.text
    assert "Rupa na putu" in r.text or change.get("description") == "x"  # what was typed is kept
    assert tickets(env) == []


def test_a_form_posted_from_another_site_is_refused(env: Env) -> None:
    fields = {**form_of(env), "description": "Rupa na putu", "address": "Kralja Petra 1"}
    r = send(env, fields, headers={"Origin": "https://evil.example"})
    assert r.status_code == 400 and tickets(env) == []


def test_more_than_three_photos_or_a_non_photo_is_refused(env: Env) -> None:
    fields = {**form_of(env), "description": "Rupa na putu", "address": "Kralja Petra 1"}
    assert send(env, fields, photos=4).status_code == 400
    fake = [("photos", ("p.jpg", b"MZ not a photo", "image/jpeg"))]
    assert env.client.post("/prijava", data=fields, files=fake).status_code == 400
    assert tickets(env) == []


def test_a_png_labelled_jpeg_is_stored_as_a_png(env: Env) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (20, 160, 90)).save(buf, "PNG")
    fields = {**form_of(env), "description": "Rupa na putu", "address": "Kralja Petra 1"}
    r = env.client.post("/prijava", data=fields, files=[("photos", ("p.jpg", buf.getvalue(), "image/jpeg"))])
    assert r.status_code == 200, r.text
    with session_scope(env.gw.engine) as s:
        photo = s.exec(select(AttachmentRow)).one()
    assert photo.content_type == "image/png"


def test_a_text_file_labelled_jpeg_is_refused_with_the_reason_and_the_text_kept(env: Env) -> None:
    fields = {**form_of(env), "description": "Rupa na putu kod škole", "address": "Kralja Petra 1"}
    fake = [("photos", ("p.jpg", b"Ovo je tekst, ne fotografija.", "image/jpeg"))]
    r = env.client.post("/prijava", data=fields, files=fake)
    assert r.status_code == 400
    assert "Fotografija mora biti JPEG, PNG, HEIC ili WebP" in r.text and "Rupa na putu kod škole" in r.text
    assert tickets(env) == []


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(env: Env) -> None:
    r = env.client.post(
        "/prijava",
        content=b"x" * 10,
        headers={"Content-Length": str(40 * 1024 * 1024), "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 413


def test_more_than_five_reports_an_hour_from_one_address_are_refused(env: Env) -> None:
    codes = []
    for n in range(6):
        fields = {**form_of(env), "description": f"Rupa na putu broj {n}", "address": "Kralja Petra 1"}
        codes.append(send(env, fields).status_code)
    assert codes == [200] * 5 + [429]
    env.gw.clock.advance(seconds=3601)
    fields = {**form_of(env), "description": "Rupa na putu opet", "address": "Kralja Petra 1"}
    assert send(env, fields).status_code == 200

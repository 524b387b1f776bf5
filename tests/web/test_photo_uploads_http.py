"""Staff photo uploads over HTTP (both databases): the operator's new-report page and the utility's
field page judge a photo by its bytes, not by the type the browser declared."""

from __future__ import annotations

import io
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from storage.db import session_scope
from storage.models import AttachmentRow, Ticket
from tests.core.helpers import sms
from tests.web.conftest import PHONE
from tests.web.test_new_report_http import form, newest
from tests.web.test_web_http import client, csrf_of, login

__all__ = ["client"]

NOT_A_PHOTO = b"Ovo je tekst, ne fotografija.\n"
REFUSED = "Fotografija mora biti JPEG, PNG ili WebP slika"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (20, 160, 90)).save(buf, "PNG")
    return buf.getvalue()


def _photos_of(gw: Any, reference: str) -> list[AttachmentRow]:
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        rows = list(s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == t.id)).all())
        for row in rows:
            s.expunge(row)
        return rows


def test_new_report_stores_a_png_labelled_jpeg_as_a_png(client: TestClient, gw: Any) -> None:
    login(client, "operater")
    csrf = csrf_of(client.get("/tickets/new").text)
    files = {"photos": ("rupa.jpg", _png(), "image/jpeg")}
    r = client.post("/tickets/new", data=form(csrf), files=files)
    assert r.status_code == 303, r.text
    [photo] = _photos_of(gw, newest(gw).reference)
    assert photo.content_type == "image/png"


def test_new_report_refuses_a_text_file_labelled_jpeg_and_keeps_the_typed_form(
    client: TestClient, gw: Any
) -> None:
    login(client, "operater")
    csrf = csrf_of(client.get("/tickets/new").text)
    files = {"photos": ("rupa.jpg", NOT_A_PHOTO, "image/jpeg")}
    r = client.post("/tickets/new", data=form(csrf, description="Rupa kod pijace"), files=files)
    assert r.status_code == 422
    assert REFUSED in r.text and "Rupa kod pijace" in r.text and "Kralja Petra 3" in r.text
    with session_scope(gw.engine) as s:
        assert s.exec(select(Ticket)).first() is None


def _assigned_to_rasveta(client: TestClient, gw: Any) -> tuple[str, str]:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi sijalica u parku")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    client.post(f"/tickets/{ref}/validate", data={"csrf": csrf, "category": "javna_rasveta"})
    client.post(f"/tickets/{ref}/assign", data={"csrf": csrf, "utility": "rasveta"})
    client.cookies.clear()
    login(client, "rasveta")
    return ref, csrf_of(client.get(f"/tickets/{ref}").text)


def test_field_page_stores_a_png_labelled_jpeg_as_a_png(client: TestClient, gw: Any) -> None:
    ref, csrf = _assigned_to_rasveta(client, gw)
    r = client.post(
        f"/tickets/{ref}/progress",
        data={"csrf": csrf, "to": "in_progress"},
        files={"photo_before": ("pre.jpg", _png(), "image/jpeg")},
    )
    assert r.status_code == 303, r.text
    [photo] = _photos_of(gw, ref)
    assert (photo.phase, photo.content_type) == ("before", "image/png")


def test_field_page_refuses_a_text_file_labelled_jpeg_with_a_clear_message(
    client: TestClient, gw: Any
) -> None:
    ref, csrf = _assigned_to_rasveta(client, gw)
    r = client.post(
        f"/tickets/{ref}/progress",
        data={"csrf": csrf, "to": "in_progress"},
        files={"photo_before": ("pre.jpg", NOT_A_PHOTO, "image/jpeg")},
    )
    assert r.status_code == 422
    assert REFUSED in r.text
    assert _photos_of(gw, ref) == []
    with session_scope(gw.engine) as s:
        assert s.exec(select(Ticket).where(Ticket.reference == ref)).one().status == "assigned"

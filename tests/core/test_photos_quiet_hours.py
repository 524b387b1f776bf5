"""Photo evidence (EXIF GPS → ticket location, EXIF stripped for utilities) and SMS quiet hours."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image
from sqlmodel import select

from channels.base import Attachment
from gateway.photos import gps_from_photo, strip_metadata
from gateway.tickets import Actor, Change, Status
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.core.helpers import mail, sms


def jpeg_with_gps(lat: tuple[float, float, float], lon: tuple[float, float, float]) -> bytes:
    img = Image.new("RGB", (64, 48), (200, 40, 40))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: lat, 3: "E", 4: lon})
    exif[0x010F] = "Pera's phone"  # Make: personal detail that must not reach a utility
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_exif_gps_of_a_mailed_photo_sets_the_ticket_location(gateway: Any) -> None:
    photo = jpeg_with_gps((44.0, 49.0, 12.0), (20.0, 27.0, 36.0))  # Terazije, Belgrade
    contact = mail(
        gateway,
        "pera@example.rs",
        "Rupa ispred broja 5",
        attachments=(Attachment("IMG_0001.jpg", "image/jpeg", photo),),
    )
    result = gateway.inbox.ingest_sync(contact)
    with session_scope(gateway.engine) as s:
        ticket = s.get(Ticket, result.ticket_id)
        assert ticket is not None
        assert (ticket.lat, ticket.lon) == (44.82, 20.46)


def test_stripped_photo_keeps_pixels_and_loses_every_exif_tag() -> None:
    photo = jpeg_with_gps((44.0, 49.0, 12.0), (20.0, 27.0, 36.0))
    assert gps_from_photo(photo) is not None
    clean = strip_metadata(photo)
    assert clean is not None and gps_from_photo(clean) is None
    with Image.open(io.BytesIO(clean)) as img:
        assert len(img.getexif()) == 0 and img.size == (64, 48)
    assert b"Pera" not in clean


def test_status_sms_waits_for_the_end_of_quiet_hours_but_replies_go_at_once(gateway: Any) -> None:
    gateway.config.sms.enabled = True
    gateway.clock.now = datetime(2026, 11, 24, 21, 30, tzinfo=UTC)  # 22:30 in Belgrade
    ref = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "Ne radi sijalica")).reference
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gateway.tickets.transition(s, ticket, Status.OPEN, Actor("ana", "operator"), Change())
    with session_scope(gateway.engine) as s:
        rows = {o.kind: o for o in s.exec(select(OutboxMessage)).all()}
    assert rows["ack"].next_attempt_at == gateway.clock()  # the citizen just wrote: answer now
    assert rows["open"].next_attempt_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 08:00 local

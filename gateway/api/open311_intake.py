"""Open311 GeoReport v2 POST /requests: an app's form becomes an InboundContact for the inbox, like
every other contact; the form's category and location are then set through TicketService."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from starlette.datastructures import UploadFile

from channels.base import Attachment, ChannelKind, InboundContact
from gateway.api.open311_format import NOT_XML, Open311Error, render, service_notice, wire_format
from gateway.auth import Principal, principal_for_token
from gateway.inbox import ANONYMOUS_REPORT
from gateway.photos import gps_from_photo, photo_type, strip_metadata
from storage.db import session_scope

if TYPE_CHECKING:
    from gateway.runtime import Gateway

MAX_MEDIA_BYTES = 10 * 1024 * 1024


def _app_principal(gw: Gateway, api_key: str | None) -> Principal:
    if not api_key:
        raise Open311Error(403, "api_key is required to create a service request")
    with session_scope(gw.engine, write=True) as s:
        who = principal_for_token(s, api_key, gw.clock())
    if who is None or who.role not in ("app", "admin"):
        raise Open311Error(403, "api_key is not valid for creating service requests")
    return who


def _float(value: str | None, name: str, low: float, high: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None
    if not low <= number <= high:
        raise Open311Error(400, f"{name} is out of range")
    return number


async def _photo(form: Any) -> Attachment | None:
    upload = form.get("media")
    if not isinstance(upload, UploadFile):
        return None
    data = await upload.read(MAX_MEDIA_BYTES + 1)
    if len(data) > MAX_MEDIA_BYTES:
        raise Open311Error(400, "media is larger than 10 MB")
    if not data:
        return None
    content_type = photo_type(data)  # the bytes decide, not the part's Content-Type (often absent)
    if content_type is None or strip_metadata(data) is None:
        raise Open311Error(400, "media must be a JPEG, PNG, HEIC or WebP photo")
    return Attachment(upload.filename or "photo.jpg", content_type, data)


def _field(form: Any, name: str, limit: int = 200) -> str:
    value = form.get(name)
    # PostgreSQL text cannot hold NUL, and XML cannot carry other control characters back out.
    text = NOT_XML.sub("", value).strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return text


async def requests_create(request: Request, fmt: str) -> Response:
    fmt = wire_format(fmt)
    gw: Gateway = request.app.state.gateway
    try:
        form = await request.form()
    except Exception:  # the multipart parser's own errors: a malformed body is the client's fault
        raise Open311Error(400, "the request body is not a valid form") from None
    api_key = _field(form, "api_key") or request.query_params.get("api_key")
    who = await asyncio.to_thread(_app_principal, gw, api_key)
    code = _field(form, "service_code")
    if not code:
        raise Open311Error(400, "service_code is required")
    category = gw.config.category(code)
    if category is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    lat = _float(_field(form, "lat"), "lat", -90, 90)
    lon = _float(_field(form, "long"), "long", -180, 180)
    address = _field(form, "address_string", 500)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long go together")
    description = _field(form, "description", 4000)
    photo = await _photo(form)
    if lat is None and not address and (photo is None or gps_from_photo(photo.data) is None):
        raise Open311Error(400, "a location is required: lat/long or address_string")
    email = _field(form, "email").lower()
    if email and ("@" not in email or " " in email):
        raise Open311Error(400, "email is not an e-mail address")
    phone = _field(form, "phone", 40)
    name = " ".join(p for p in (_field(form, "first_name"), _field(form, "last_name")) if p) or None
    token = uuid.uuid4().hex
    meta = {
        "open311_app": who.name,
        "device_id": _field(form, "device_id"),
        "account_id": _field(form, "account_id"),
        "media_url": _field(form, "media_url", 1000),
    }
    contact = InboundContact(
        channel=ChannelKind.WEB,
        external_id=f"open311:{token}",
        sender=email or phone,
        received_at=gw.clock(),
        subject=category.name,
        body=description or category.name,
        attachments=(photo,) if photo else (),
        # Open311 reports may be anonymous: the inbox registers them without a sender too.
        meta={**{k: v for k, v in meta.items() if v}, ANONYMOUS_REPORT: "1"},
        sender_name=name,
    )
    result = await asyncio.to_thread(gw.inbox.ingest_sync, contact)
    if result.ticket_id is None:
        raise Open311Error(500, "the request could not be registered")
    reference = await asyncio.to_thread(
        _complete, gw, result.ticket_id, who, code, lat, lon, address or None, phone if email else ""
    )
    notice = service_notice(category.sla_hours)
    body = [
        {"service_request_id": reference, "service_notice": notice, "account_id": meta["account_id"] or None}
    ]
    return render(fmt, "service_requests", "request", body, status=201)


def _complete(
    gw: Gateway,
    ticket_id: int,
    who: Principal,
    code: str,
    lat: float | None,
    lon: float | None,
    address: str | None,
    extra_phone: str,
) -> str:
    """Category and location from the form, and the reporter's phone beside their e-mail address."""
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.get(s, ticket_id)
        gw.tickets.update_details(
            s, ticket, who.actor(), category=code, location_text=address, lat=lat, lon=lon
        )
        if extra_phone and ticket.citizen_id is not None:
            gw.inbox.citizens.add_phone(s, ticket.citizen_id, extra_phone)
        return ticket.reference

"""Open311 GeoReport v2 under /open311/v2: services, service requests (GET/POST), tokens, media.

JSON and XML as the spec requires; errors as `[{"code", "description"}]`. GET responses never carry
reporter PII: descriptions are the masked work-order text, and no name, number or address is selected.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from channels.base import Attachment, ChannelKind, InboundContact
from gateway.auth import Principal, principal_for_token
from gateway.photos import gps_from_photo, photo_type, strip_metadata
from gateway.text import mask_pii
from storage.db import session_scope
from storage.models import AttachmentRow, CitizenIdentity, Message, Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.app import Gateway

PREFIX = "/open311/v2"
MAX_RANGE = timedelta(days=90)  # the spec's default window and largest allowed date range
MAX_PAGE_SIZE = 1000  # the spec's cap on one response
MAX_MEDIA_BYTES = 10 * 1024 * 1024
OPEN_STATUSES = ("received", "open", "assigned", "in_progress", "waiting")
HIDDEN_FROM_LISTS = ("received", "discarded")  # drafts and spam are not public

# What a GET may select: citizen_id and the unmasked subject/description are deliberately absent.
PUBLIC_COLUMNS: tuple[Any, ...] = (
    Ticket.id,
    Ticket.reference,
    Ticket.public_token,
    Ticket.status,
    Ticket.category,
    Ticket.utility,
    col(Ticket.work_order_text).label("description"),
    Ticket.location_text,
    Ticket.lat,
    Ticket.lon,
    Ticket.created_at,
    Ticket.updated_at,
    Ticket.due_at,
)


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# Characters XML 1.0 cannot carry even escaped; a citizen's text may contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def service_notice(hours: int | None) -> str:
    return f"Rok za rešavanje: {hours} h od prihvatanja prijave." if hours else ""


# -- rendering -----------------------------------------------------------------------------------
def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, list):
        for item in value:
            _xml_value(child, "value" if not isinstance(item, Mapping) else "attribute", item)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _xml_value(child, k, v)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = _NOT_XML.sub("", str(value))


def to_xml(root: str, item: str, items: Iterable[Mapping[str, Any]]) -> bytes:
    top = ET.Element(root)
    for entry in items:
        node = ET.SubElement(top, item)
        for key, value in entry.items():
            _xml_value(node, key, value)
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def render(fmt: str, root: str, item: str, items: list[dict[str, Any]], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, item, items), status, media_type="text/xml; charset=utf-8")
    body = json.dumps(items, ensure_ascii=False).encode()
    return Response(body, status, media_type="application/json; charset=utf-8")


def error_response(fmt: str, code: int, description: str) -> Response:
    return render(fmt, "errors", "error", [{"code": code, "description": description}], status=code)


def _format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"unknown format {fmt!r}; use .json or .xml")
    return fmt


Handler = Callable[..., Awaitable[Response]]


def _spec_errors(handler: Handler) -> Handler:
    """Every failure of an Open311 endpoint in the spec's error document, in the asked-for format."""

    @functools.wraps(handler)
    async def wrapped(request: Request, **kw: Any) -> Response:
        fmt = kw.get("fmt", "json") if kw.get("fmt") in ("json", "xml") else "json"
        kw = {k: _NOT_XML.sub("", v) if isinstance(v, str) else v for k, v in kw.items()}
        try:
            return await handler(request, **kw)
        except Open311Error as exc:
            return error_response(fmt, exc.code, exc.description)

    return wrapped


def _gw(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def _iso(gw: Gateway, at: datetime | None) -> str | None:
    # W3C date-time with the municipality's offset, as the spec's examples show.
    return at.astimezone(gw.config.tz()).isoformat(timespec="seconds") if at else None


# -- services ------------------------------------------------------------------------------------
def _services(gw: Gateway) -> list[dict[str, Any]]:
    out = []
    for cat in gw.config.categories:
        utility = gw.config.utility(cat.utility)
        out.append(
            {
                "service_code": cat.code,
                "service_name": cat.name,
                "description": cat.name,
                "metadata": False,
                "type": "realtime",
                "keywords": ", ".join(cat.keywords[:10]),
                "group": cat.open311_group or (utility.name if utility else cat.utility),
            }
        )
    return out


async def services_list(request: Request, fmt: str) -> Response:
    # jurisdiction_id is optional in the spec; one municipality per server, so any value means this one.
    fmt = _format(fmt)
    return render(fmt, "services", "service", _services(_gw(request)))


async def service_definition(request: Request, code: str, fmt: str) -> Response:
    fmt = _format(fmt)
    gw = _gw(request)
    if gw.config.category(code) is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    definition: dict[str, Any] = {"service_code": code, "attributes": []}
    if fmt == "xml":
        top = ET.Element("service_definition")
        for key, value in definition.items():
            _xml_value(top, key, value)
        body = ET.tostring(top, encoding="utf-8", xml_declaration=True)
        return Response(body, media_type="text/xml; charset=utf-8")
    return Response(json.dumps(definition).encode(), media_type="application/json; charset=utf-8")


# -- requests: reading ---------------------------------------------------------------------------
def open311_status(status: str) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def media_token(gw: Gateway, public_token: str, attachment_id: int) -> str:
    return gw.signer.sign(f"media:{public_token}:{attachment_id}")[:24]


def media_url(gw: Gateway, reference: str, public_token: str, attachment_id: int) -> str:
    base = gw.config.gateway.public_base_url.rstrip("/")
    token = media_token(gw, public_token, attachment_id)
    return f"{base}{PREFIX}/media/{reference}/{attachment_id}-{token}.jpg"


def _request_dicts(gw: Gateway, s: Session, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    notes: dict[int, str] = {}
    photos: dict[int, int] = {}
    if ids:
        events = s.exec(
            select(TicketEvent)
            .where(col(TicketEvent.ticket_id).in_(ids), col(TicketEvent.public).is_(True))
            .where(col(TicketEvent.note).is_not(None))
            .order_by(col(TicketEvent.at), col(TicketEvent.id))
        ).all()
        for e in events:
            notes[e.ticket_id] = mask_pii(e.note or "")
        for att_id, ticket_id in s.execute(
            sa.select(col(AttachmentRow.id), col(AttachmentRow.ticket_id))
            .where(col(AttachmentRow.ticket_id).in_(ids), col(AttachmentRow.kind) == "photo")
            .order_by(col(AttachmentRow.id))
        ).all():
            photos.setdefault(ticket_id, att_id)
    out = []
    for r in rows:
        category = gw.config.category(r.category)
        utility = gw.config.utility(r.utility)
        photo = photos.get(r.id)
        out.append(
            {
                "service_request_id": r.reference,
                "status": open311_status(r.status),
                "status_notes": notes.get(r.id, ""),
                "service_name": category.name if category else "",
                "service_code": r.category or "",
                "description": mask_pii(r.description or ""),
                "agency_responsible": utility.name if utility else "",
                "service_notice": service_notice(category.sla_hours if category else None),
                "requested_datetime": _iso(gw, r.created_at),
                "updated_datetime": _iso(gw, r.updated_at),
                "expected_datetime": _iso(gw, r.due_at),
                "address": mask_pii(r.location_text or ""),
                "address_id": "",
                "zipcode": "",
                "lat": r.lat,
                "long": r.lon,
                "media_url": media_url(gw, r.reference, r.public_token, photo) if photo else "",
            }
        )
    return out


def _parse_date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time, e.g. 2026-11-24T10:00:00+01:00") from None
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time-zone offset")
    return parsed


def _positive_int(value: str | None, name: str, default: int, maximum: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be a whole number") from None
    if number < 1 or (maximum is not None and number > maximum):
        raise Open311Error(400, f"{name} must be between 1 and {maximum or 'more'}")
    return number


def _date_window(q: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    start = _parse_date(q.get("start_date"), "start_date")
    end = _parse_date(q.get("end_date"), "end_date")
    if start is None and end is None:
        return now - MAX_RANGE, now + timedelta(days=1)
    if start is None:
        assert end is not None
        start = end - MAX_RANGE
    if end is None:
        end = min(start + MAX_RANGE, now + timedelta(days=1))
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > MAX_RANGE:
        raise Open311Error(400, "start_date to end_date may not span more than 90 days")
    return start, end


def query_requests(gw: Gateway, s: Session, q: Mapping[str, str]) -> list[dict[str, Any]]:
    query = sa.select(*PUBLIC_COLUMNS).where(col(Ticket.status) != "discarded")
    ids = [i.strip().upper() for i in (q.get("service_request_id") or "").split(",") if i.strip()]
    if ids:
        # Explicit ids win over every other filter, as the spec says.
        query = query.where(col(Ticket.reference).in_(ids[:MAX_PAGE_SIZE]))
    else:
        query = query.where(col(Ticket.status).notin_(HIDDEN_FROM_LISTS))
        if code := q.get("service_code"):
            query = query.where(col(Ticket.category).in_([c.strip() for c in code.split(",")]))
        if status := q.get("status"):
            wanted = {v.strip() for v in status.split(",")}
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status must be open or closed")
            if wanted == {"open"}:
                query = query.where(col(Ticket.status).in_(OPEN_STATUSES))
            elif wanted == {"closed"}:
                query = query.where(col(Ticket.status).notin_(OPEN_STATUSES))
        start, end = _date_window(q, gw.clock())
        query = query.where(col(Ticket.created_at) >= start, col(Ticket.created_at) <= end)
    size = _positive_int(q.get("page_size"), "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    page = _positive_int(q.get("page"), "page", 1)
    rows = s.execute(
        query.order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return _request_dicts(gw, s, list(rows))


async def requests_list(request: Request, fmt: str) -> Response:
    fmt = _format(fmt)
    gw = _gw(request)
    q = {k: _NOT_XML.sub("", v) for k, v in request.query_params.items()}

    def run() -> list[dict[str, Any]]:
        with session_scope(gw.engine) as s:
            return query_requests(gw, s, q)

    return render(fmt, "service_requests", "request", await asyncio.to_thread(run))


async def request_one(request: Request, request_id: str, fmt: str) -> Response:
    fmt = _format(fmt)
    gw = _gw(request)

    def run() -> list[dict[str, Any]]:
        with session_scope(gw.engine) as s:
            return query_requests(gw, s, {"service_request_id": request_id})

    found = await asyncio.to_thread(run)
    if not found:
        raise Open311Error(404, f"service_request_id {request_id!r} not found")
    return render(fmt, "service_requests", "request", found)


async def token_lookup(request: Request, token: str, fmt: str) -> Response:
    """Requests are created synchronously, so a token names its request at once."""
    fmt = _format(fmt)
    gw = _gw(request)

    def run() -> str | None:
        with session_scope(gw.engine) as s:
            ticket_id = s.exec(
                select(Message.ticket_id).where(
                    Message.channel == ChannelKind.WEB.value, Message.external_id == f"open311:{token}"
                )
            ).first()
            ticket = s.get(Ticket, ticket_id) if ticket_id else None
            return ticket.reference if ticket and ticket.status != "discarded" else None

    reference = await asyncio.to_thread(run)
    if reference is None:
        raise Open311Error(404, f"token {token!r} not found")
    return render(fmt, "service_requests", "request", [{"service_request_id": reference, "token": token}])


async def media(request: Request, reference: str, name: str) -> Response:
    """The photo of a request without its metadata; the signed name is the only key (no login)."""
    gw = _gw(request)
    att_part, _, token = name.removesuffix(".jpg").partition("-")

    def run() -> bytes | None:
        if not att_part.isdigit():
            return None
        with session_scope(gw.engine) as s:
            row = s.execute(
                sa.select(col(Ticket.public_token), col(AttachmentRow.sha256), col(AttachmentRow.kind))
                .join(AttachmentRow, col(AttachmentRow.ticket_id) == col(Ticket.id))
                .where(col(Ticket.reference) == reference, col(AttachmentRow.id) == int(att_part))
                .where(col(Ticket.status) != "discarded")
            ).first()
        if row is None or row.kind != "photo":
            return None
        if not hmac.compare_digest(token, media_token(gw, row.public_token, int(att_part))):
            return None
        return strip_metadata(gw.blobs.get(row.sha256))

    data = await asyncio.to_thread(run)
    if data is None:
        raise Open311Error(404, "media not found")
    kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    if data[:4] == b"RIFF":
        kind = "image/webp"
    return Response(
        data,
        media_type=kind,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# -- requests: creating --------------------------------------------------------------------------
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
    text = _NOT_XML.sub("", value).strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return text


async def requests_create(request: Request, fmt: str) -> Response:
    fmt = _format(fmt)
    gw = _gw(request)
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
        meta={k: v for k, v in meta.items() if v},
        sender_name=name,
    )
    result = await asyncio.to_thread(gw.inbox.ingest_sync, contact)
    if result.message_id is None:
        raise Open311Error(500, "the request could not be registered")
    reference = await asyncio.to_thread(
        _complete, gw, result.message_id, who, code, lat, lon, address or None, phone if email else ""
    )
    notice = service_notice(category.sla_hours)
    body = [
        {"service_request_id": reference, "service_notice": notice, "account_id": meta["account_id"] or None}
    ]
    return render(fmt, "service_requests", "request", body, status=201)


def _complete(
    gw: Gateway,
    message_id: int,
    who: Principal,
    code: str,
    lat: float | None,
    lon: float | None,
    address: str | None,
    extra_phone: str,
) -> str:
    """Category and location from the form; an anonymous report gets its ticket here."""
    from gateway.inbox import normalise_phone

    with session_scope(gw.engine, write=True) as s:
        message = s.get(Message, message_id)
        assert message is not None
        ticket = s.get(Ticket, message.ticket_id) if message.ticket_id else None
        if ticket is None:
            # The inbox keeps a message without a sender off tickets; Open311 reports may be anonymous.
            ticket = gw.tickets.open_ticket(
                s, channel=ChannelKind.WEB.value, citizen_id=None, description=message.body, subject=None
            )
            message.ticket_id = ticket.id
            s.add(message)
            s.execute(
                sa.update(AttachmentRow)
                .where(col(AttachmentRow.message_id) == message_id)
                .values(ticket_id=ticket.id)
            )
        gw.tickets.update_details(
            s, ticket, who.actor(), category=code, location_text=address, lat=lat, lon=lon
        )
        if extra_phone and ticket.citizen_id is not None:
            number = normalise_phone(extra_phone, gw.config.gateway.default_region)
            taken = s.exec(
                select(CitizenIdentity).where(
                    CitizenIdentity.kind == "phone", CitizenIdentity.value == number
                )
            ).first()
            if number and taken is None:
                s.add(CitizenIdentity(citizen_id=ticket.citizen_id, kind="phone", value=number))
        return ticket.reference


async def not_found(request: Request, rest: str) -> Response:
    fmt = "xml" if rest.endswith(".xml") else "json"
    return error_response(fmt, 404, "no such Open311 resource")


def make_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["open311"])
    add = router.add_api_route
    add("/services.{fmt}", _spec_errors(services_list), methods=["GET"])
    add("/services/{code}.{fmt}", _spec_errors(service_definition), methods=["GET"])
    add("/requests.{fmt}", _spec_errors(requests_list), methods=["GET"])
    add("/requests.{fmt}", _spec_errors(requests_create), methods=["POST"], status_code=201)
    add("/requests/{request_id}.{fmt}", _spec_errors(request_one), methods=["GET"])
    add("/tokens/{token}.{fmt}", _spec_errors(token_lookup), methods=["GET"])
    add("/media/{reference}/{name}", _spec_errors(media), methods=["GET"])
    add("/{rest:path}", not_found, methods=["GET", "POST"], include_in_schema=False)
    return router


def mount(app: FastAPI) -> None:
    """Open311 and the citizen's status page; called once from `gateway.api.mount_api`."""
    from gateway.public import make_router as status_page_router

    app.include_router(make_router())
    app.include_router(status_page_router())

"""Open311 GeoReport v2 under /open311/v2: services, service requests (GET/POST), tokens, media.

JSON and XML as the spec requires; errors as `[{"code", "description"}]`. GET responses never carry
reporter PII: descriptions are the masked work-order text, and no name, number or address is selected.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request, Response
from sqlmodel import Session, col, select

from channels.base import ChannelKind
from gateway.api.open311_format import (
    NOT_XML,
    Open311Error,
    error_response,
    render,
    service_notice,
    spec_errors,
    wire_format,
    xml_value,
)
from gateway.api.open311_format import to_xml as to_xml  # the documents' shape, for tests and callers
from gateway.api.open311_intake import requests_create
from gateway.photos import strip_metadata
from gateway.text import mask_pii
from storage.db import session_scope
from storage.models import AttachmentRow, Message, Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.runtime import Gateway

PREFIX = "/open311/v2"
MAX_RANGE = timedelta(days=90)  # the spec's default window and largest allowed date range
MAX_PAGE_SIZE = 1000  # the spec's cap on one response
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


def _gw(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def _iso(gw: Gateway, at: datetime | None) -> str | None:
    # W3C date-time with the municipality's offset, as the spec's examples show.
    return at.astimezone(gw.config.tz()).isoformat(timespec="seconds") if at else None


# -- services ------------------------------------------------------------------------------------
def _services(gw: Gateway) -> list[dict[str, Any]]:
    out = []
    for cat in gw.config.offered():
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
    fmt = wire_format(fmt)
    return render(fmt, "services", "service", _services(_gw(request)))


async def service_definition(request: Request, code: str, fmt: str) -> Response:
    fmt = wire_format(fmt)
    gw = _gw(request)
    if gw.config.category(code) is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    definition: dict[str, Any] = {"service_code": code, "attributes": []}
    if fmt == "xml":
        top = ET.Element("service_definition")
        for key, value in definition.items():
            xml_value(top, key, value)
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
    fmt = wire_format(fmt)
    gw = _gw(request)
    q = {k: NOT_XML.sub("", v) for k, v in request.query_params.items()}

    def run() -> list[dict[str, Any]]:
        with session_scope(gw.engine) as s:
            return query_requests(gw, s, q)

    return render(fmt, "service_requests", "request", await asyncio.to_thread(run))


async def request_one(request: Request, request_id: str, fmt: str) -> Response:
    fmt = wire_format(fmt)
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
    fmt = wire_format(fmt)
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


async def not_found(request: Request, rest: str) -> Response:
    fmt = "xml" if rest.endswith(".xml") else "json"
    return error_response(fmt, 404, "no such Open311 resource")


def make_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["open311"])
    add = router.add_api_route
    add("/services.{fmt}", spec_errors(services_list), methods=["GET"])
    add("/services/{code}.{fmt}", spec_errors(service_definition), methods=["GET"])
    add("/requests.{fmt}", spec_errors(requests_list), methods=["GET"])
    add("/requests.{fmt}", spec_errors(requests_create), methods=["POST"], status_code=201)
    add("/requests/{request_id}.{fmt}", spec_errors(request_one), methods=["GET"])
    add("/tokens/{token}.{fmt}", spec_errors(token_lookup), methods=["GET"])
    add("/media/{reference}/{name}", spec_errors(media), methods=["GET"])
    add("/{rest:path}", not_found, methods=["GET", "POST"], include_in_schema=False)
    return router


def mount(app: FastAPI) -> None:
    """Open311; called once from `gateway.api.mount_api` (the citizen's pages are in gateway.web)."""
    app.include_router(make_router())

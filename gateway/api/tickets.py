"""REST endpoints for tickets under /api/v1: list, detail, create, validate, assign, transition,
reply, merge, notes; plus the call log and reference data."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlmodel import Session

from channels.base import ChannelKind, InboundContact
from gateway.api.deps import DB, GW, Operator, Staff
from gateway.api.schemas import (
    Assign,
    Callback,
    Merge,
    Note,
    Reply,
    TicketCreate,
    Transition,
    Validate,
)
from gateway.auth import Principal
from gateway.photos import strip_metadata
from gateway.queries import COUNT_CAP, TicketFilter, attachment_row, calls, list_tickets, ticket_detail
from gateway.queries import _ext as file_suffix
from gateway.queues import callback_list
from gateway.tickets import Change, Status, TicketNotFound
from storage.db import session_scope

router = APIRouter(prefix="/api/v1", tags=["tickets"])


@router.get("/tickets")
def tickets_list(
    who: Staff,
    db: DB,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    channel: str | None = None,
    category: str | None = None,
    utility: str | None = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    f = TicketFilter(status_, channel, category, utility, overdue, q, created_from, created_to, limit, offset)
    total, items = list_tickets(db, who, f)
    return {
        "total": min(total, COUNT_CAP),
        "total_is_lower_bound": total > COUNT_CAP,
        "limit": limit,
        "offset": offset,
        "items": items,
    }


@router.get("/tickets/{reference}")
def ticket_get(reference: str, who: Staff, gw: GW) -> dict[str, Any]:
    with session_scope(gw.engine, write=who.sees_pii) as s:  # PII views are audit-logged
        detail = ticket_detail(s, who, reference)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {reference}")
    return detail


@router.post("/tickets", status_code=status.HTTP_201_CREATED)
async def ticket_create(body: TicketCreate, who: Operator, gw: GW) -> dict[str, Any]:
    if gw.config.category(body.category) is None and body.category is not None:
        raise HTTPException(422, f"unknown category {body.category!r}")
    sender = body.email or body.phone or ""
    contact = InboundContact(
        channel=ChannelKind.PHONE if body.channel == "voice" else ChannelKind(body.channel),
        external_id=f"api:{body.idempotency_key or uuid.uuid4()}",
        sender=sender,
        received_at=gw.clock(),
        subject=body.subject,
        body=body.description,
        sender_name=body.name,
        meta={"entered_by": who.name, "suppress_ack": "0"},
    )
    result = await gw.inbox.ingest(contact)
    if result.ticket_id is None:
        raise HTTPException(422, "the report could not be registered")
    if (body.phone and body.email) or body.location_text or body.category or body.lat is not None:
        await asyncio.to_thread(_complete_created, gw, result.ticket_id, body, who)
    return ticket_get(result.reference or "", who, gw)


def _complete_created(gw: Any, ticket_id: int, body: TicketCreate, who: Principal) -> None:
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.get(s, ticket_id)
        gw.tickets.update_details(
            s,
            ticket,
            who.actor(),
            category=body.category,
            location_text=body.location_text,
            lat=body.lat,
            lon=body.lon,
        )
        if body.phone and body.email and ticket.citizen_id is not None:
            gw.inbox.citizens.add_phone(s, ticket.citizen_id, body.phone)


@router.post("/tickets/{reference}/validate")
def ticket_validate(reference: str, body: Validate, who: Operator, gw: GW) -> dict[str, Any]:
    with session_scope(gw.engine, write=True) as s:
        gw.tickets.validate(s, gw.tickets.load(s, reference), who.actor(), **body.model_dump())
    return ticket_get(reference, who, gw)


@router.post("/tickets/{reference}/assign")
def ticket_assign(reference: str, body: Assign, who: Operator, gw: GW) -> dict[str, Any]:
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.load(s, reference)
        gw.tickets.transition(
            s, ticket, Status.ASSIGNED, who.actor(), Change(note=body.note, utility=body.utility)
        )
    return ticket_get(reference, who, gw)


@router.post("/tickets/{reference}/transition")
def ticket_transition(reference: str, body: Transition, who: Staff, gw: GW) -> dict[str, Any]:
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.load(s, reference)
        if not who.sees_pii and ticket.utility != who.utility:
            raise TicketNotFound(reference)
        gw.tickets.transition(
            s,
            ticket,
            Status(body.to),
            who.actor(),
            Change(
                note=body.note,
                forwarded_to=body.forwarded_to,
                duplicate_of=body.duplicate_of,
                utility=body.utility,
                category=body.category,
            ),
        )
    return ticket_get(reference, who, gw)


@router.post("/tickets/{reference}/reply", status_code=status.HTTP_202_ACCEPTED)
def ticket_reply(reference: str, body: Reply, who: Operator, gw: GW) -> dict[str, Any]:
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.load(s, reference)
        row = gw.tickets.reply(s, ticket, who.actor(), body.text)
        s.flush()
        return {"outbox_id": row.id, "channel": row.channel, "state": row.state}


@router.post("/tickets/{reference}/merge")
def ticket_merge(reference: str, body: Merge, who: Operator, gw: GW) -> dict[str, Any]:
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.load(s, reference)
        gw.tickets.transition(
            s, ticket, Status.DUPLICATE, who.actor(), Change(note=body.note, duplicate_of=body.into)
        )
    return ticket_get(reference, who, gw)


@router.post("/tickets/{reference}/notes", status_code=status.HTTP_201_CREATED)
def ticket_note(reference: str, body: Note, who: Operator, gw: GW) -> dict[str, str]:
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.load(s, reference)
        gw.tickets.note(s, ticket, who.actor(), body.text, public=body.public)
    return {"status": "noted"}


@router.post("/tickets/{reference}/callback")
def ticket_callback(reference: str, body: Callback, who: Operator, gw: GW) -> dict[str, Any]:
    with session_scope(gw.engine, write=True) as s:
        ticket = gw.tickets.load(s, reference)
        gw.tickets.mark_callback(s, ticket, who.actor(), body.needed)
    return {"reference": reference, "needs_callback": body.needed}


@router.get("/tickets/{reference}/attachments/{attachment_id}")
def attachment_get(reference: str, attachment_id: int, who: Staff, gw: GW, db: DB) -> Response:
    detail_ok = ticket_detail_exists(db, who, reference)
    att = attachment_row(db, attachment_id)
    if not detail_ok or att is None or att.ticket_id != detail_ok:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such attachment")
    data = gw.blobs.get(att.sha256)
    filename = att.filename
    if not who.sees_pii:
        if att.kind != "photo":
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such attachment")
        data = strip_metadata(data) or b""  # never hand a utility the reporter's EXIF/GPS
        # The same neutral name the detail view lists: "Pera Perić.jpg" names the reporter.
        filename = f"{reference}-{att.id}{file_suffix(att.filename)}"
    return Response(
        data,
        media_type=att.content_type,
        headers={
            "Content-Disposition": _disposition(filename),
            "X-Content-Type-Options": "nosniff",
        },
    )


def ticket_detail_exists(db: Session, who: Principal, reference: str) -> int | None:
    from gateway.queries import get_ticket_row

    row = get_ticket_row(db, who, reference)
    return int(row.id) if row is not None else None


def _disposition(name: str) -> str:
    # Header values are Latin-1: a plain ASCII fallback plus the UTF-8 name (RFC 6266 / 8187);
    # a name like "Perić.jpg" used to crash the response with a 500.
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._- ") else "_" for ch in name)
    return f"inline; filename=\"{ascii_name[:120]}\"; filename*=UTF-8''{quote(name[:120], safe='')}"


@router.get("/calls", tags=["calls"])
def call_log(
    who: Operator,
    db: DB,
    since: datetime | None = None,
    callback: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    if callback:  # missed calls and the call-backs asked for in the review or on a ticket
        items = callback_list(db, limit=limit)
        after = since.replace(tzinfo=since.tzinfo or UTC) if since else None
        return {"items": [i for i in items if after is None or i["started_at"] >= after]}
    return {"items": calls(db, since=since, callback_only=False, limit=limit)}


@router.post("/calls/{call_id}/called-back", tags=["calls"])
def call_called_back(call_id: str, body: Callback, who: Operator, gw: GW) -> dict[str, Any]:
    """An operator returned a missed call: it leaves the call-back list, with who and a note."""
    with session_scope(gw.engine, write=True) as s:
        call = gw.inbox.reports.mark_called_back(s, call_id, who.name, body.note)
        if call is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}")
        return {"call_id": call_id, "needs_callback": call.needs_callback}


@router.get("/categories", tags=["catalogue"])
def categories(who: Staff, gw: GW) -> list[dict[str, Any]]:
    return [c.model_dump(exclude={"keywords"}) for c in gw.config.categories]


@router.get("/utilities", tags=["catalogue"])
def utilities(who: Staff, gw: GW) -> list[dict[str, Any]]:
    return [{"code": u.code, "name": u.name} for u in gw.config.utilities]

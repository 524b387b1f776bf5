"""Read models for the API and UI. The work-order view for utilities is built from queries that
never touch the citizen tables, and its free text has phone numbers and e-mail addresses masked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from gateway.auth import Principal
from gateway.citizens import record_pii_access
from gateway.notify import STATUS_LABEL
from gateway.text import mask_pii
from storage.db import session_scope
from storage.models import (
    AttachmentRow,
    CallLog,
    Citizen,
    CitizenIdentity,
    Message,
    OutboxMessage,
    Ticket,
    TicketEvent,
    TranscriptRow,
)

# Columns a utility may see. citizen_id is deliberately absent.
WORK_ORDER_COLUMNS: tuple[Any, ...] = (
    Ticket.id,
    Ticket.reference,
    Ticket.status,
    Ticket.channel,
    Ticket.category,
    Ticket.utility,
    col(Ticket.work_order_subject).label("subject"),
    col(Ticket.work_order_text).label("description"),
    Ticket.location_text,
    Ticket.lat,
    Ticket.lon,
    Ticket.created_at,
    Ticket.validated_at,
    Ticket.assigned_at,
    Ticket.resolved_at,
    Ticket.closed_at,
    Ticket.due_at,
    Ticket.overdue,
    Ticket.sla_hours,
    Ticket.resolution_note,
    Ticket.updated_at,
    Ticket.reopened_at,
    Ticket.reopen_note,
)


COUNT_CAP = 1_000
WORK_ORDER_STATUSES = ("open", "assigned", "in_progress", "waiting", "resolved", "closed", "forwarded")


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: list[str] | None = None
    channel: str | None = None
    category: str | None = None
    utility: str | None = None
    overdue: bool | None = None
    text: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = 50
    offset: int = 0


def _row_dict(row: Any, principal: Principal) -> dict[str, Any]:
    data = (
        dict(row._mapping)
        if hasattr(row, "_mapping")
        else row.model_dump(exclude={"work_order_subject", "work_order_text"})
    )
    if not principal.sees_pii:
        data.pop("citizen_id", None)
        for key in ("subject", "description", "resolution_note", "location_text"):
            if data.get(key):
                data[key] = mask_pii(data[key])
    return data


def list_tickets(session: Session, principal: Principal, f: TicketFilter) -> tuple[int, list[dict[str, Any]]]:
    conditions: list[Any] = []
    if principal.sees_pii:
        columns: tuple[Any, ...] = (Ticket,)
    else:
        columns = WORK_ORDER_COLUMNS
        conditions += [col(Ticket.utility) == principal.utility, col(Ticket.status).in_(WORK_ORDER_STATUSES)]
    if f.status:
        conditions.append(col(Ticket.status).in_(f.status))
    if f.channel:
        conditions.append(col(Ticket.channel) == f.channel)
    if f.category:
        conditions.append(col(Ticket.category) == f.category)
    if f.utility:
        conditions.append(col(Ticket.utility) == f.utility)
    if f.overdue is not None:
        conditions.append(col(Ticket.overdue).is_(f.overdue))
    if f.created_from:
        conditions.append(col(Ticket.created_at) >= f.created_from)
    if f.created_to:
        conditions.append(col(Ticket.created_at) < f.created_to)
    if f.text:
        needle = f"%{f.text.strip()}%"
        text_column = Ticket.description if principal.sees_pii else Ticket.work_order_text
        conditions.append(
            sa.or_(
                col(Ticket.reference).ilike(needle),
                col(Ticket.subject if principal.sees_pii else Ticket.work_order_subject).ilike(needle),
                col(text_column).ilike(needle),
            )
        )
    # Counting stops at COUNT_CAP: an exact count of a broad search costs a full scan on 100k rows.
    capped = sa.select(col(Ticket.id)).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = session.execute(sa.select(func.count()).select_from(capped)).scalar_one()
    query = (
        sa.select(*columns)
        .where(*conditions)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(f.limit)
        .offset(f.offset)
    )
    result = session.execute(query)
    rows = result.scalars().all() if principal.sees_pii else result.all()
    return total, [_row_dict(r, principal) for r in rows]


def get_ticket_row(session: Session, principal: Principal, reference: str) -> Any | None:
    if principal.sees_pii:
        return session.exec(select(Ticket).where(Ticket.reference == reference)).first()
    return session.execute(
        sa.select(*WORK_ORDER_COLUMNS)
        .where(col(Ticket.reference) == reference, col(Ticket.utility) == principal.utility)
        .where(col(Ticket.status).in_(WORK_ORDER_STATUSES))
    ).first()


def ticket_detail(session: Session, principal: Principal, reference: str) -> dict[str, Any] | None:
    row = get_ticket_row(session, principal, reference)
    if row is None:
        return None
    data = _row_dict(row, principal)
    ticket_id = data["id"]
    events_q = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if not principal.sees_pii:
        events_q = events_q.where(col(TicketEvent.kind).in_(["status", "note", "escalation"]))
    events = session.exec(events_q.order_by(col(TicketEvent.at), col(TicketEvent.id))).all()
    data["events"] = [
        {
            **e.model_dump(exclude={"ticket_id"}),
            "note": mask_pii(e.note) if e.note and not principal.sees_pii else e.note,
        }
        for e in events
    ]
    attachments = session.exec(
        select(AttachmentRow).where(AttachmentRow.ticket_id == ticket_id).order_by(col(AttachmentRow.id))
    ).all()
    data["attachments"] = [
        {
            **a.model_dump(include={"id", "filename", "content_type", "size", "kind", "phase", "created_at"}),
            # A file name can carry the reporter's name ("Pera Perić.jpg"): utilities get a neutral one.
            **({} if principal.sees_pii else {"filename": f"{data['reference']}-{a.id}{_ext(a.filename)}"}),
        }
        for a in attachments
        if principal.sees_pii or a.kind == "photo"
    ]
    transcripts = session.exec(
        select(TranscriptRow).where(TranscriptRow.ticket_id == ticket_id).order_by(col(TranscriptRow.id))
    ).all()
    if principal.sees_pii:
        data["transcripts"] = [t.model_dump() for t in transcripts]
        data["messages"] = [
            m.model_dump(exclude={"meta"})
            for m in session.exec(
                select(Message).where(Message.ticket_id == ticket_id).order_by(col(Message.id))
            ).all()
        ]
        data["outbound"] = [
            o.model_dump(
                include={
                    "id",
                    "kind",
                    "channel",
                    "recipient",
                    "subject",
                    "body",
                    "state",
                    "delivery",
                    "attempts",
                    "last_error",
                    "created_at",
                    "sent_at",
                }
            )
            for o in session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.ticket_id == ticket_id)
                .order_by(col(OutboxMessage.id))
            ).all()
        ]
        data["reporter"] = reporter(session, data.get("citizen_id"))
        actor = f"{principal.role}:{principal.name}"
        record_pii_access(session, actor, ticket_id, data.get("citizen_id"), "ticket detail")
    return data


def _ext(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return suffix if suffix.isascii() and 1 < len(suffix) <= 6 and suffix[1:].isalnum() else ""


def reporter(session: Session, citizen_id: int | None) -> dict[str, Any] | None:
    if citizen_id is None:
        return None
    citizen = session.get(Citizen, citizen_id)
    identities = session.exec(select(CitizenIdentity).where(CitizenIdentity.citizen_id == citizen_id)).all()
    return {
        "name": citizen.name if citizen else None,
        "identities": [
            i.model_dump(include={"kind", "value", "opted_out", "undeliverable"}) for i in identities
        ],
        "ticket_count": session.exec(
            select(func.count()).select_from(Ticket).where(Ticket.citizen_id == citizen_id)
        ).one(),
    }


def calls(
    session: Session, *, since: datetime | None, callback_only: bool, limit: int
) -> list[dict[str, Any]]:
    query = select(CallLog)
    if since:
        query = query.where(col(CallLog.started_at) >= since)
    if callback_only:
        query = query.where(CallLog.needs_callback == True)  # noqa: E712
    rows = session.exec(query.order_by(col(CallLog.started_at).desc()).limit(limit)).all()
    return [r.model_dump() for r in rows]


def status_by_digits(engine: sa.Engine, digits: str) -> str | None:
    """For the hotline's keypad: the digits of a reference → its status key, or None."""
    digits = "".join(ch for ch in digits if ch.isdigit())
    if len(digits) < 5:
        return None
    year, number = (digits[:4], digits[4:]) if len(digits) > 6 else (None, digits)
    with session_scope(engine) as s:
        query = select(Ticket).where(col(Ticket.reference).endswith(f"-{int(number):06d}"))
        if year:
            query = query.where(col(Ticket.reference).contains(f"-{year}-"))
        ticket = s.exec(query.order_by(col(Ticket.id).desc())).first()
    return ticket.status if ticket and ticket.status in STATUS_LABEL else None


def attachment_row(session: Session, attachment_id: int) -> AttachmentRow | None:
    return session.get(AttachmentRow, attachment_id)

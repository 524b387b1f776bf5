"""The operators' work queues: deadline filters for the inbox (overdue, due today, waiting for the
citizen) and the call-back list, which joins missed calls and call-backs asked for in the morning
review, with the full number an operator dials. The call log's call-back fields are written here."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from gateway.tickets import CLOCK_RUNNING, Status
from storage.models import CallLog, CitizenIdentity, Ticket

QUEUES = ("overdue", "today", "waiting", "callback")


def apply_queue(query: Any, queue: str | None, now: datetime, tz: ZoneInfo) -> Any:
    """Narrow a `select(Ticket)` to one queue; an unknown name narrows nothing."""
    running = [s.value for s in CLOCK_RUNNING]
    if queue == "overdue":
        late = sa.or_(col(Ticket.overdue) == sa.true(), col(Ticket.due_at) < now)
        return query.where(col(Ticket.status).in_(running), col(Ticket.due_at).is_not(None), late)
    if queue == "today":
        end = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time.min, tz)
        return query.where(
            col(Ticket.status).in_(running), col(Ticket.due_at) >= now, col(Ticket.due_at) < end
        )
    if queue == "waiting":
        return query.where(Ticket.status == Status.WAITING.value)
    if queue == "callback":
        return query.where(col(Ticket.needs_callback) == sa.true())
    return query


def queue_may_hold(queue: str | None, status: str) -> bool:
    """Whether a ticket in `status` can be in the queue at all."""
    if queue in ("overdue", "today"):
        return status in {s.value for s in CLOCK_RUNNING}
    if queue == "waiting":
        return status == Status.WAITING.value
    return True


def callback_list(session: Session, *, limit: int = 100) -> list[dict[str, Any]]:
    """Who to call back, oldest first: missed calls and tickets flagged in the review or on their
    page. Operators dial from it, so numbers are shown in full (this is not the utilities' view)."""
    flagged = session.exec(
        select(Ticket)
        .where(col(Ticket.needs_callback) == sa.true())
        .order_by(col(Ticket.created_at))
        .limit(limit)
    ).all()
    flagged_ids = {t.id for t in flagged}
    calls = session.exec(
        select(CallLog)
        .where(
            sa.or_(
                col(CallLog.needs_callback) == sa.true(),
                sa.and_(col(CallLog.ticket_id).in_(flagged_ids), col(CallLog.callback_done_at).is_(None)),
            )
        )
        .order_by(col(CallLog.started_at))
        .limit(limit)
    ).all()
    refs = {t.id: t.reference for t in flagged}
    items: list[dict[str, Any]] = []
    seen_tickets: set[int] = set()
    for c in calls:
        items.append(
            {
                **c.model_dump(),
                "needs_callback": True,
                "source": "review" if c.ticket_id in flagged_ids else "missed_call",
                "reference": refs.get(c.ticket_id) if c.ticket_id else None,
            }
        )
        if c.ticket_id is not None:
            seen_tickets.add(c.ticket_id)
    phones = _phones(session, [t.citizen_id for t in flagged if t.citizen_id is not None])
    for t in flagged:
        if t.id in seen_tickets:
            continue
        items.append(
            {
                "call_id": None,
                "caller": phones.get(t.citizen_id or -1, ""),
                "started_at": t.created_at,
                "after_hours": t.after_hours,
                "outcome": t.channel,
                "ticket_id": t.id,
                "needs_callback": True,
                "source": "review",
                "reference": t.reference,
            }
        )
    items.sort(key=lambda i: i["started_at"])
    return items[:limit]


def _phones(session: Session, citizen_ids: list[int]) -> dict[int, str]:
    if not citizen_ids:
        return {}
    rows = session.exec(
        select(CitizenIdentity).where(
            col(CitizenIdentity.citizen_id).in_(citizen_ids), CitizenIdentity.kind == "phone"
        )
    ).all()
    return {r.citizen_id: r.value for r in rows}

"""Mail the gateway could not turn into a ticket, for staff: quarantined messages (parse errors,
kept with their raw bytes) and spool rows that failed; an admin sends them through the parser again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from sqlmodel import col, func, select

from channels.privacy import mask_email
from gateway.api.deps import GW, Admin, Operator
from gateway.spool import REPARSED, respool_quarantined, retry_failed_spool
from storage.db import session_scope
from storage.models import InboundSpool, Message

router = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"])


@router.get("")
def quarantine(gw: GW, _who: Operator, limit: int = 100) -> dict[str, Any]:
    limit = max(1, min(limit, 500))
    with session_scope(gw.engine) as s:
        messages = s.exec(
            select(Message)
            .where(Message.direction == "in", col(Message.quarantine_reason).is_not(None))
            .where(~col(Message.external_id).contains(REPARSED))
            .order_by(col(Message.id).desc())
            .limit(limit)
        ).all()
        failed = s.exec(
            select(InboundSpool).where(InboundSpool.state == "failed").order_by(col(InboundSpool.id).desc())
        ).all()
        backlog = s.exec(select(func.count()).where(col(InboundSpool.state).in_(["queued", "running"]))).one()
    return {
        "messages": [
            {
                "id": m.id,
                "channel": m.channel,
                "received_at": m.received_at.isoformat(),
                "reason": m.quarantine_reason,
                "subject": m.subject,
                "sender": mask_email(str(m.meta.get("envelope_from", ""))),
                "size": len(m.raw_inline) if m.raw_inline is not None else None,
            }
            for m in messages
        ],
        "spool_failed": [
            {
                "id": f"S{r.id}",
                "channel": r.channel,
                "received_at": r.received_at.isoformat(),
                "size": r.size,
                "attempts": r.attempts,
                "error": r.last_error,
            }
            for r in failed
        ],
        "spool_backlog": int(backlog),
    }


@router.post("/{message_id}/reparse", status_code=status.HTTP_202_ACCEPTED)
def reparse(message_id: int, gw: GW, _who: Admin) -> dict[str, str]:
    """Parse a quarantined message again (after a parser fix); the result is a new message or ticket."""
    with session_scope(gw.engine, write=True) as s:
        message = s.get(Message, message_id)
        if message is None or message.direction != "in" or message.quarantine_reason is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no quarantined inbound message with this id")
        if REPARSED in message.external_id:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"already re-parsed as {message.meta.get('reparsed_as')}"
            )
        try:
            row = respool_quarantined(s, gw.blobs, message, gw.clock())
        except LookupError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    gw.inbox.spooled.set()
    return {"spool_id": f"S{row.id}"}


@router.post("/spool/{spool_id}/retry", status_code=status.HTTP_202_ACCEPTED)
def retry(spool_id: int, gw: GW, _who: Admin) -> dict[str, str]:
    """A spool row that failed every attempt (e.g. the database refused it) is queued again."""
    with session_scope(gw.engine, write=True) as s:
        row = s.get(InboundSpool, spool_id)
        if row is None or row.state != "failed":
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no failed spool row with this id")
        retry_failed_spool(s, row, gw.clock())
    gw.inbox.spooled.set()
    return {"spool_id": f"S{spool_id}", "state": "queued"}

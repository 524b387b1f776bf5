"""The morning review of the night's voicemails under /api/v1/voicemails: the queue with transcripts
and caller history, the recording with HTTP Range support, and validate / attach / discard / call back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from gateway.api.deps import GW, Operator
from gateway.api.schemas import Validate
from gateway.auth import Principal
from gateway.citizens import record_pii_access
from gateway.runtime import Gateway
from gateway.tickets import Change, Status, TicketNotFound
from storage.db import session_scope
from storage.models import (
    AttachmentRow,
    CitizenIdentity,
    Message,
    Ticket,
    TranscriptRow,
)

router = APIRouter(prefix="/api/v1", tags=["voicemails"])

DiscardReason = Literal["silent", "prank", "duplicate", "other"]
_CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Attach(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(min_length=1, max_length=40)
    note: str | None = Field(default=None, max_length=5000)


class Discard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: DiscardReason
    note: str | None = Field(default=None, max_length=5000)


def night_start(gw: Gateway, now: datetime) -> datetime:
    """The end of the previous business day: the night's voicemails arrived after it."""
    cal = gw.calendar
    spans = gw.config.business_hours.spans()
    day = now.astimezone(cal.tz).date()
    for _ in range(31):
        day -= timedelta(days=1)
        if cal.is_working_day(day) and day.weekday() in spans:
            end: time = spans[day.weekday()][1]
            return datetime.combine(day, end, cal.tz)
    return now - timedelta(days=1)


def _words(data: dict[str, Any]) -> list[dict[str, Any]]:
    words = []
    for w in data.get("words") or []:
        if not isinstance(w, dict) or "word" not in w:
            continue
        words.append(
            {
                "word": str(w["word"]),
                "start": float(w.get("start") or 0.0),
                "end": float(w.get("end") or 0.0),
                "conf": w.get("engine_conf"),
                "low": bool(w.get("low")),
                "reasons": list(w.get("reasons") or []),
            }
        )
    return words


def _queue_query(since: datetime) -> Any:
    return (
        select(Ticket)
        .where(Ticket.channel == "voice", Ticket.status == Status.RECEIVED)
        .where(col(Ticket.created_at) >= since)
    )


def night_count(session: Session, since: datetime) -> int:
    return int(session.exec(select(func.count()).select_from(_queue_query(since).subquery())).one())


def night_queue(
    session: Session, gw: Gateway, who: Principal, since: datetime, *, limit: int = 500, after_id: int = 0
) -> list[dict[str, Any]]:
    """Voice tickets still `received` since `since`, oldest first, with everything the review needs.

    Batched (one query per kind of row, not per voicemail) so 200 voicemails render quickly.
    """
    tickets = session.exec(
        # keyset by id (= arrival order): handled voicemails leaving the queue shift no page
        _queue_query(since).where(col(Ticket.id) > after_id).order_by(col(Ticket.id)).limit(limit)
    ).all()
    ids = [t.id for t in tickets if t.id is not None]
    if not ids:
        return []
    audio: dict[int, AttachmentRow] = {}
    for a in session.exec(
        select(AttachmentRow)
        .where(col(AttachmentRow.ticket_id).in_(ids), AttachmentRow.kind == "audio")
        .order_by(col(AttachmentRow.id))
    ).all():
        assert a.ticket_id is not None
        audio.setdefault(a.ticket_id, a)
    durations: dict[int, float] = {}
    for m in session.exec(
        select(Message)
        .where(col(Message.ticket_id).in_(ids), Message.direction == "in", Message.channel == "voice")
        .order_by(col(Message.id))
    ).all():
        assert m.ticket_id is not None
        if m.ticket_id not in durations:
            try:
                durations[m.ticket_id] = float(m.meta.get("duration_s", 0) or 0)
            except (TypeError, ValueError):
                durations[m.ticket_id] = 0.0
    transcripts: dict[int, TranscriptRow] = {}
    for row in session.exec(
        select(TranscriptRow).where(col(TranscriptRow.ticket_id).in_(ids)).order_by(col(TranscriptRow.id))
    ).all():
        transcripts[row.ticket_id] = row  # the newest wins
    citizen_ids = {t.citizen_id for t in tickets if t.citizen_id is not None}
    phones: dict[int, str] = {}
    history: dict[int, list[dict[str, Any]]] = {}
    if who.sees_pii and citizen_ids:
        for ident in session.exec(
            select(CitizenIdentity).where(
                col(CitizenIdentity.citizen_id).in_(citizen_ids), CitizenIdentity.kind == "phone"
            )
        ).all():
            phones.setdefault(ident.citizen_id, ident.value)
        for t in session.exec(
            select(Ticket)
            .where(col(Ticket.citizen_id).in_(citizen_ids))
            .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        ).all():
            assert t.citizen_id is not None
            history.setdefault(t.citizen_id, []).append(
                {
                    "id": t.id,
                    "reference": t.reference,
                    "status": t.status,
                    "channel": t.channel,
                    "category": t.category,
                    "created_at": t.created_at,
                    "subject": t.subject,
                }
            )
    items = []
    for t in tickets:
        assert t.id is not None
        tr = transcripts.get(t.id)
        att = audio.get(t.id)
        item: dict[str, Any] = {
            "id": t.id,
            "reference": t.reference,
            "received_at": t.created_at,
            "after_hours": t.after_hours,
            "duration_s": durations.get(t.id, 0.0),
            "has_audio": att is not None,
            "audio_bytes": att.size if att else 0,
            "suggested_category": t.suggested_category,
            "category": t.category,
            "description": t.description,
            "location_text": t.location_text,
            "needs_callback": t.needs_callback,
            "transcript": None
            if tr is None
            else {
                "engine": tr.engine,
                "text": tr.text,
                "has_speech": tr.has_speech,
                "low_confidence": tr.low_confidence,
                "words": _words(tr.data),
            },
        }
        if who.sees_pii:
            cid = t.citizen_id
            item["caller"] = phones.get(cid) if cid is not None else None
            # Copies without the id: the history dicts are shared by every voicemail of one caller,
            # and popping the id in place broke the second one (KeyError → 500 on the review page).
            item["earlier_tickets"] = (
                [
                    {k: v for k, v in h.items() if k != "id"}
                    for h in history.get(cid, [])
                    if h["id"] != t.id and h["created_at"] <= t.created_at
                ]
                if cid is not None
                else []
            )
        items.append(item)
    if who.sees_pii:
        actor = f"{who.role}:{who.name}"
        for t in tickets:
            if t.citizen_id is not None:
                record_pii_access(session, actor, t.id, t.citizen_id, "voicemail review")
    return items


def load_voicemail(session: Session, reference: str) -> Ticket:
    ticket = session.exec(
        select(Ticket).where(Ticket.reference == reference, Ticket.channel == "voice").with_for_update()
    ).first()
    if ticket is None:
        raise TicketNotFound(reference)
    return ticket


def validate_voicemail(gw: Gateway, who: Principal, reference: str, body: Validate) -> None:
    with session_scope(gw.engine, write=True) as s:
        gw.tickets.validate(s, load_voicemail(s, reference), who.actor(), **body.model_dump())


def attach_voicemail(gw: Gateway, who: Principal, reference: str, body: Attach) -> None:
    with session_scope(gw.engine, write=True) as s:
        ticket = load_voicemail(s, reference)
        gw.tickets.transition(
            s,
            ticket,
            Status.DUPLICATE,
            who.actor(),
            Change(note=body.note, duplicate_of=body.into.strip().upper()),
        )


def discard_voicemail(gw: Gateway, who: Principal, reference: str, body: Discard) -> None:
    note = body.reason + (f": {body.note.strip()}" if body.note and body.note.strip() else "")
    with session_scope(gw.engine, write=True) as s:
        ticket = load_voicemail(s, reference)
        gw.tickets.transition(s, ticket, Status.DISCARDED, who.actor(), Change(note=note))


def callback_voicemail(gw: Gateway, who: Principal, reference: str) -> None:
    with session_scope(gw.engine, write=True) as s:
        ticket = load_voicemail(s, reference)
        gw.tickets.mark_callback(s, ticket, who.actor(), True)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span of a single-range `Range` header (RFC 9110 §14.2), or None for all.

    Raises ValueError when the range cannot be satisfied (→ 416). Multi-range requests get the
    whole body, which RFC 9110 allows a server to do.
    """
    if not header:
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if m is None:
        return None
    first, last = m.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or end < start:
        raise ValueError("range outside the file")
    return start, end


def _read(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def audio_response(gw: Gateway, reference: str, range_header: str | None) -> Response:
    with session_scope(gw.engine) as s:
        ticket = s.exec(
            select(Ticket).where(Ticket.reference == reference, Ticket.channel == "voice")
        ).first()
        att = None
        if ticket is not None:
            att = s.exec(
                select(AttachmentRow)
                .where(AttachmentRow.ticket_id == ticket.id, AttachmentRow.kind == "audio")
                .order_by(col(AttachmentRow.id))
            ).first()
    if att is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recording for {reference}")
    path = gw.blobs.path_for(att.sha256)
    size = path.stat().st_size
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    try:
        span = parse_range(range_header, size)
    except ValueError:
        return Response(
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    media = att.content_type or "audio/wav"
    if span is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_read(path, 0, size - 1), media_type=media, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        _read(path, start, end),
        status_code=status.HTTP_206_PARTIAL_CONTENT,
        media_type=media,
        headers=headers,
    )


@router.get("/voicemails")
def voicemails_list(who: Operator, gw: GW, since: datetime | None = None) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since must carry a UTC offset")
    start = since or night_start(gw, gw.clock())
    with session_scope(gw.engine, write=True) as s:  # caller PII views are audit-logged
        items = night_queue(s, gw, who, start)
    for item in items:
        item.pop("id")
    return {"since": start, "count": len(items), "items": items}


@router.get("/voicemails/{reference}/audio")
def voicemail_audio(
    reference: str,
    who: Operator,
    gw: GW,
    range_: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    return audio_response(gw, reference, range_)


@router.post("/voicemails/{reference}/validate")
def voicemail_validate(reference: str, body: Validate, who: Operator, gw: GW) -> dict[str, str]:
    validate_voicemail(gw, who, reference, body)
    return {"reference": reference, "status": Status.OPEN}


@router.post("/voicemails/{reference}/attach")
def voicemail_attach(reference: str, body: Attach, who: Operator, gw: GW) -> dict[str, str]:
    attach_voicemail(gw, who, reference, body)
    return {"reference": reference, "status": Status.DUPLICATE, "into": body.into.strip().upper()}


@router.post("/voicemails/{reference}/discard")
def voicemail_discard(reference: str, body: Discard, who: Operator, gw: GW) -> dict[str, str]:
    discard_voicemail(gw, who, reference, body)
    return {"reference": reference, "status": Status.DISCARDED}


@router.post("/voicemails/{reference}/callback")
def voicemail_callback(reference: str, who: Operator, gw: GW) -> dict[str, Any]:
    callback_voicemail(gw, who, reference)
    return {"reference": reference, "needs_callback": True}

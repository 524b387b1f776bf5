"""A citizen's request about their personal data: find everything held about one phone number or
e-mail address, export it (JSON, readable HTML), or erase it while the tickets stay, anonymised."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from gateway.citizens import identity_of, record_pii_access
from gateway.search import forget_removed_words, search_text
from gateway.text import mask_pii
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import (
    AttachmentRow,
    CallLog,
    Citizen,
    CitizenIdentity,
    DataRemoval,
    InboundSpool,
    Message,
    OutboxMessage,
    Ticket,
    TicketEvent,
    TranscriptRow,
)

log = logging.getLogger(__name__)

ERASED = "[obrisano]"
# Rows kinds that go to utilities or staff and never carry the reporter (gateway/outbox.py).
_NOT_TO_CITIZEN = ("workorder", "webhook", "escalation", "reminder", "digest", "health")
_TEMPLATE = Path(__file__).parent / "defaults" / "citizen_export.html"


class NotFound(Exception):
    """No citizen is known by that number or address."""


@dataclass
class Subject:
    """The person a request is about: their citizen row and every way we know to reach them."""

    citizen_id: int
    identities: list[tuple[str, str]]
    ticket_ids: list[int] = field(default_factory=list)


def find_subject(s: Session, raw: str, region: str) -> Subject:
    """The citizen behind a number in any spelling (0641234567, +381 64 123 4567) or an address."""
    key = _key(raw, region)
    if key is None:
        raise NotFound(raw)
    identity = s.exec(
        select(CitizenIdentity).where(CitizenIdentity.kind == key[0], CitizenIdentity.value == key[1])
    ).first()
    if identity is None:
        raise NotFound(raw)
    others = s.exec(select(CitizenIdentity).where(CitizenIdentity.citizen_id == identity.citizen_id)).all()
    tickets = s.exec(select(Ticket.id).where(Ticket.citizen_id == identity.citizen_id)).all()
    return Subject(
        identity.citizen_id,
        [(i.kind, i.value) for i in others],
        [t for t in tickets if t is not None],
    )


def _messages(s: Session, subject: Subject) -> list[Message]:
    """The person's messages: what they sent, and what we sent them on their tickets."""
    mine = col(Message.citizen_id) == subject.citizen_id
    replies = (col(Message.ticket_id).in_(subject.ticket_ids)) & (col(Message.direction) == "out")
    return list(s.exec(select(Message).where(mine | replies).order_by(col(Message.id))).all())


def _outbox(s: Session, subject: Subject) -> list[OutboxMessage]:
    """Outbox rows addressed to the person (by any of their identities)."""
    values = [v for _, v in subject.identities]
    return list(
        s.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.recipient).in_(values))
            .where(col(OutboxMessage.kind).not_in(_NOT_TO_CITIZEN))
            .order_by(col(OutboxMessage.id))
        ).all()
    )


def _their_attachments(s: Session, subject: Subject, message_ids: list[int]) -> list[AttachmentRow]:
    """Recordings and photos the person sent; the utility's after-photos are not theirs."""
    return list(
        s.exec(
            select(AttachmentRow).where(
                col(AttachmentRow.message_id).in_(message_ids)
                | (
                    col(AttachmentRow.ticket_id).in_(subject.ticket_ids)
                    & (col(AttachmentRow.phase) != "after")
                )
            )
        ).all()
    )


def _calls(s: Session, subject: Subject) -> list[CallLog]:
    phones = [v for k, v in subject.identities if k == "phone"]
    return list(s.exec(select(CallLog).where(col(CallLog.caller).in_(phones))).all())


def export(s: Session, subject: Subject, actor: str, what: str) -> dict[str, Any]:
    """Everything held about the person, as plain data; the export itself is audit-logged."""
    citizen = s.get(Citizen, subject.citizen_id)
    tickets = s.exec(
        select(Ticket).where(col(Ticket.id).in_(subject.ticket_ids)).order_by(col(Ticket.id))
    ).all()
    messages = _messages(s, subject)
    attachments = _their_attachments(s, subject, [m.id for m in messages if m.id is not None])
    transcripts = s.exec(
        select(TranscriptRow).where(col(TranscriptRow.attachment_id).in_([a.id for a in attachments]))
    ).all()
    record_pii_access(s, actor, None, subject.citizen_id, what)
    return {
        "citizen": {
            "name": citizen.name if citizen else None,
            "script": citizen.script if citizen else None,
            "since": citizen.created_at.isoformat() if citizen else None,
            "identities": [{"kind": k, "value": v} for k, v in subject.identities],
        },
        "tickets": [
            {
                "reference": t.reference,
                "channel": t.channel,
                "status": t.status,
                "created_at": t.created_at.isoformat(),
                "closed_at": t.closed_at.isoformat() if t.closed_at else None,
                "subject": t.subject,
                "description": t.description,
                "location": t.location_text,
                "category": t.category,
            }
            for t in tickets
        ],
        "messages": [
            {
                "direction": m.direction,
                "channel": m.channel,
                "at": m.received_at.isoformat(),
                "subject": m.subject,
                "body": m.body,
            }
            for m in messages
        ],
        "files": [
            {"filename": a.filename, "kind": a.kind, "size": a.size, "sha256": a.sha256} for a in attachments
        ],
        "transcripts": [{"engine": t.engine, "text": t.text} for t in transcripts],
        "sent_to_them": [
            {
                "channel": o.channel,
                "to": o.recipient,
                "subject": o.subject,
                "body": o.body,
                "state": o.state,
                "at": o.created_at.isoformat(),
            }
            for o in _outbox(s, subject)
        ],
        "calls": [
            {"at": c.started_at.isoformat(), "outcome": c.outcome, "duration_s": c.duration_s}
            for c in _calls(s, subject)
        ],
    }


def export_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def export_html(data: dict[str, Any]) -> str:
    """The same export, readable by the citizen in a browser (Serbian Latin, English)."""
    import jinja2  # here, not at the top: transcription workers import this module and no web stack

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE.read_text(encoding="utf-8")).render(d=data)


def erase(
    s: Session,
    subject: Subject,
    actor: str,
    now: datetime,
    region: str,
    *,
    action: str = "erasure",
    media: bool = True,
    record: bool = True,
) -> tuple[dict[str, int], set[str]]:
    """Remove the person from every row while their tickets stay, anonymised; counts, never content.

    `media=False` (the retention sweep's pseudonymisation) keeps recordings and photos, which have
    their own retention periods. Returns the counts and the blobs the removed rows held, which the
    caller deletes after the commit where no row references them any more (`purge_blobs`)."""
    counts: dict[str, int] = dict.fromkeys(
        ("identities", "messages", "files", "transcripts", "outbox", "calls", "tickets"), 0
    )
    freed: set[str] = set()
    names: list[str] = []
    citizen = s.get(Citizen, subject.citizen_id)
    if citizen is not None and citizen.name:
        names = [citizen.name, *(w for w in re.split(r"[\s,.\"'<>()]+", citizen.name) if len(w) >= 3)]
        citizen.name = None
        s.add(citizen)
    for identity in s.exec(select(CitizenIdentity).where(CitizenIdentity.citizen_id == subject.citizen_id)):
        s.delete(identity)
        counts["identities"] += 1

    messages = _messages(s, subject)
    message_ids = [m.id for m in messages if m.id is not None]
    for m in messages:
        m.body, m.subject, m.quoted, m.meta = "", None, None, {}
        if m.raw_sha256:
            freed.add(m.raw_sha256)
        m.raw_inline = m.raw_sha256 = None
        m.external_id = f"erased-{m.id}"  # mail Message-IDs and SMS hashes can name the sender
        s.add(m)
        counts["messages"] += 1
    for spool in s.exec(select(InboundSpool).where(col(InboundSpool.message_id).in_(message_ids))):
        spool.raw, spool.envelope = None, {}
        s.add(spool)

    if media:
        attachments = _their_attachments(s, subject, message_ids)
        ids = [a.id for a in attachments]
        for t in s.exec(select(TranscriptRow).where(col(TranscriptRow.attachment_id).in_(ids))):
            s.delete(t)
            counts["transcripts"] += 1
        s.flush()  # the transcripts' rows go before the attachments they point at
        for a in attachments:
            freed.add(a.sha256)
            s.delete(a)
            counts["files"] += 1
        freed |= drop_work_order_photos(s, subject.ticket_ids)
    else:
        for t in s.exec(select(TranscriptRow).where(col(TranscriptRow.ticket_id).in_(subject.ticket_ids))):
            t.text, t.data = "", {}  # words the person spoke; the recording follows its own period
            s.add(t)

    for o in _outbox(s, subject):
        o.recipient, o.body, o.subject, o.meta = ERASED, "", None, {}
        if o.state in ("queued", "sending"):
            o.state = "cancelled"  # the person hears nothing more unless staff write anew
        s.add(o)
        counts["outbox"] += 1

    for c in _calls(s, subject):
        c.caller, c.detail, c.needs_callback = ERASED, "", False
        c.callback_note = _scrub(c.callback_note, names)
        s.add(c)
        counts["calls"] += 1

    for ticket in s.exec(select(Ticket).where(col(Ticket.id).in_(subject.ticket_ids))):
        # The utility's masked copy is what the ticket keeps; the statistics' columns stay as they are.
        ticket.subject = ticket.work_order_subject
        ticket.description = _scrub(ticket.work_order_text, names) or ""
        ticket.resolution_note = _scrub(ticket.resolution_note, names)
        ticket.discard_reason = _scrub(ticket.discard_reason, names)
        ticket.search_text = search_text(ticket, None, region)
        s.add(ticket)
        counts["tickets"] += 1
    for e in s.exec(select(TicketEvent).where(col(TicketEvent.ticket_id).in_(subject.ticket_ids))):
        if e.note:
            e.note = _scrub(e.note, names)
            s.add(e)
    if not record:  # the retention sweep records its batch as one row
        return counts, freed
    s.add(DataRemoval(at=now, actor=actor, action=action, citizen_id=subject.citizen_id, counts=counts))
    record_pii_access(s, actor, None, subject.citizen_id, action)
    log.info("%s of citizen %s by %s: %s", action, subject.citizen_id, actor, _counts_line(counts))
    return counts, freed


def drop_work_order_photos(s: Session, ticket_ids: Iterable[int]) -> set[str]:
    """The work orders' metadata-free copies of the tickets' photos: they go with the originals.
    A row being sent right now keeps them (its worker is reading the files)."""
    freed: set[str] = set()
    for o in s.exec(select(OutboxMessage).where(col(OutboxMessage.ticket_id).in_(list(ticket_ids)))):
        if o.meta.get("attachments") and o.state != "sending":
            freed |= {str(p.get("sha256")) for p in o.meta["attachments"]}
            o.meta = {k: v for k, v in o.meta.items() if k != "attachments"}
            s.add(o)
    return freed


def _scrub(text: str | None, names: Iterable[str]) -> str | None:
    if text is None:
        return None
    text = mask_pii(text)
    for name in names:
        text = text.replace(name, ERASED)
    return text


def _counts_line(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items())


def blob_references(s: Session) -> Callable[[str], bool]:
    """Whether any row still holds a blob: a message's raw bytes, an attachment, a work-order photo."""
    photos = _outbox_blobs(s)

    def referenced(digest: str) -> bool:
        if digest in photos:
            return True
        if s.exec(select(Message.id).where(Message.raw_sha256 == digest).limit(1)).first() is not None:
            return True
        return (
            s.exec(select(AttachmentRow.id).where(AttachmentRow.sha256 == digest).limit(1)).first()
            is not None
        )

    return referenced


def all_blob_references(s: Session) -> set[str]:
    """Every blob some row holds (the sweep's first, bulk pass; `blob_references` re-asks per blob)."""
    held = {d for d in s.exec(select(Message.raw_sha256).where(col(Message.raw_sha256).is_not(None))) if d}
    held |= set(s.exec(select(AttachmentRow.sha256)).all())
    return held | _outbox_blobs(s)


def purge_blobs(engine: sa.Engine, blobs: BlobStore, digests: Iterable[str]) -> int:
    """Delete, after the commit that dropped their rows, the blobs no row references any more."""
    with session_scope(engine) as s:
        return blobs.remove_unreferenced(sorted(digests), blob_references(s))


class ConfirmationMismatch(Exception):
    """The confirmation typed is not the same number or address."""


def erase_person(
    engine: sa.Engine,
    blobs: BlobStore,
    raw: str,
    confirmation: str,
    actor: str,
    now: datetime,
    region: str,
) -> dict[str, int]:
    """Erasure as staff ask for it: the number or address typed twice (any spelling), then gone."""
    if _key(confirmation, region) != _key(raw, region) or _key(raw, region) is None:
        raise ConfirmationMismatch(raw)
    with session_scope(engine, write=True) as s:
        subject = find_subject(s, raw, region)
        counts, freed = erase(s, subject, actor, now, region)
        forget_removed_words(s)
    counts["blobs"] = purge_blobs(engine, blobs, freed)
    log.info("erasure of citizen %s: %d stored files deleted", subject.citizen_id, counts["blobs"])
    return counts


def _key(raw: str, region: str) -> tuple[str, str] | None:
    return identity_of("email" if "@" in raw else "sms", raw, region)


def _outbox_blobs(s: Session) -> set[str]:
    # Work-order photos are named only inside the outbox row's JSON meta (gateway/outbox.py).
    out: set[str] = set()
    for meta in s.exec(select(OutboxMessage.meta).where(OutboxMessage.kind == "workorder")):
        for item in (meta or {}).get("attachments", []):
            out.add(str(item.get("sha256", "")))
    return out

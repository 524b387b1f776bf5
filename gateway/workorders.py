"""Work orders after they leave: photos for the utility (EXIF stripped), the utility's e-mail replies
(PRIMLJENO / U RADU / ZAVRŠENO / NIJE NAŠE) applied through TicketService, reminders along the
escalation chain, and signed webhooks (httpx) for utilities that want them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from channels.base import (
    Attachment,
    DeliveryFailed,
    DeliveryReceipt,
    InboundContact,
    IngestResult,
    Notification,
)
from gateway.config import Config, UtilitySettings, WorkOrderSettings
from gateway.photos import PHOTO_TYPES, gps_from_photo, strip_metadata
from gateway.signing import REFERENCE
from gateway.text import fold, mask_pii
from gateway.tickets import (
    SYSTEM,
    Actor,
    Change,
    MissingDetail,
    Status,
    TicketService,
    TransitionRefused,
)
from storage.blobs import BlobStore, inline_raw
from storage.db import session_scope
from storage.models import AttachmentRow, Message, OutboxMessage, Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.inbox import GatewayInbox

log = logging.getLogger(__name__)


# -- the utility's reply ---------------------------------------------------------------------------
RECEIVED, IN_PROGRESS, DONE, NOT_OURS = "received", "in_progress", "done", "not_ours"
_KEYWORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("nije", "nase"), NOT_OURS),
    (("u", "radu"), IN_PROGRESS),
    (("primljeno",), RECEIVED),
    (("primljen",), RECEIVED),
    (("zavrseno",), DONE),
    (("uradjeno",), DONE),
    (("uradeno",), DONE),  # "urađeno" typed without the đ
)
_SIGNATURE = re.compile(r"^(--\s*|__+)$")


@dataclass(frozen=True, slots=True)
class UtilityReply:
    action: str | None  # None: not understood
    note: str  # the rest of the reply: the resolution note for ZAVRŠENO


def parse_reply(body: str) -> UtilityReply:
    """The keyword of the first non-empty line, in any script, case or diacritics, and the rest."""
    lines = body.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return UtilityReply(None, "")
    first, rest = lines[0], lines[1:]
    kept: list[str] = []
    for line in rest:
        if _SIGNATURE.match(line.strip()):
            break
        kept.append(line)
    words = re.findall(r"[a-z0-9]+", fold(first))
    for keyword, action in _KEYWORDS:
        if tuple(words[: len(keyword)]) == keyword:
            # fold() keeps one word per word, so the original line can be cut at the same count.
            cut = re.match(r"^\W*" + r"\w+\W*" * len(keyword), first)
            tail = first[cut.end() :] if cut else ""
            note = "\n".join([tail.strip(), *kept]).strip()
            return UtilityReply(action, note)
    return UtilityReply(None, "\n".join([first, *kept]).strip())


def utility_for_sender(config: Config, sender: str) -> UtilitySettings | None:
    address = sender.strip().lower()
    if not address:
        return None
    return next((u for u in config.utilities if address in {e.lower() for e in u.emails}), None)


def _reference(inbox: GatewayInbox, contact: InboundContact) -> tuple[str | None, bool]:
    """The work order a reply names, and whether it did so with a token only we can make (our
    signed Message-ID or plus-address) rather than a subject tag anyone can type."""
    signer = inbox.signer
    for hint in contact.thread_hints:
        ref = signer.reference_from_message_id(hint) or signer.reference_from_plus_token(hint)
        if ref:
            return ref, True
    for text in (*contact.thread_hints, contact.subject or ""):
        if "@" not in text and (m := REFERENCE.search(text)):
            return m.group(1).upper(), False
    return None, False


def ingest_utility_reply(
    inbox: GatewayInbox,
    s: Session,
    contact: InboundContact,
    raw_sha: str | None,
    stored: Sequence[tuple[Attachment, str]],
) -> IngestResult | None:
    """Apply a reply from a utility's address; None when the sender is no utility (a citizen's mail).

    Called by GatewayInbox._ingest_in for e-mail, after its duplicate check, in its transaction. A
    utility's mail never opens a citizen ticket and is never acknowledged.
    """
    utility = utility_for_sender(inbox.config, contact.sender)
    if utility is None or contact.meta.get("quarantine"):
        return None  # unparseable mail is quarantined by the inbox as usual
    reference, signed = _reference(inbox, contact)
    ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).first() if reference else None
    if ticket is not None and ticket.utility != utility.code:
        ticket = None  # another utility's work order: never touched, never confirmed to exist
    auto = contact.meta.get("auto") or ""
    reply = parse_reply(contact.body) if not auto else UtilityReply(None, contact.body.strip())
    message = Message(
        direction="in",
        channel=contact.channel.value,
        external_id=contact.external_id,
        citizen_id=None,
        ticket_id=ticket.id if ticket else None,
        subject=contact.subject,
        body=contact.body,
        quoted=contact.meta.get("quoted"),
        raw_sha256=raw_sha,
        raw_inline=inline_raw(contact.raw),
        received_at=contact.received_at,
        auto=auto or None,
        quarantine_reason=None if ticket else "utility mail that names no work order of this utility",
        meta={"utility": utility.code, "utility_action": reply.action or "not_understood"},
    )
    s.add(message)
    s.flush()
    _keep_after_photos(inbox, s, ticket, message, stored)
    if ticket is None:
        log.info("utility %s mail without a work order kept for operators", utility.code)
        return IngestResult(
            None, None, created=False, duplicate=False, message_id=message.id, quarantined=True
        )
    actor = Actor(utility.code, "utility", utility.code)
    # A From header is easy to forge: only a reply to our own work-order mail (signed Message-ID
    # or plus-address) may change the ticket; a bare subject tag goes to operators to confirm.
    applied = signed and _apply(inbox.tickets, inbox.config, s, ticket, actor, reply, auto)
    if not applied:
        why = (
            "automatic reply"
            if auto
            else "no keyword in the first line"
            if signed
            else "it does not answer our work-order mail (subject tag only)"
        )
        inbox.tickets.note(s, ticket, SYSTEM, f"utility reply not understood ({why})", kind="utility_reply")
    log.info("utility %s reply on %s: %s", utility.code, ticket.reference, reply.action or "not understood")
    return IngestResult(ticket.id, ticket.reference, created=False, duplicate=False, message_id=message.id)


def _apply(
    tickets: TicketService,
    config: Config,
    s: Session,
    ticket: Ticket,
    actor: Actor,
    reply: UtilityReply,
    auto: str,
) -> bool:
    if auto or reply.action is None:
        return False
    note = mask_pii(reply.note) or None
    status = Status(ticket.status)
    try:
        if reply.action == RECEIVED:
            if status not in (Status.ASSIGNED, Status.IN_PROGRESS):
                return False
            tickets.note(s, ticket, actor, note or "služba je primila radni nalog", public=True)
        elif reply.action == IN_PROGRESS:
            if status == Status.IN_PROGRESS:
                tickets.note(s, ticket, actor, note or "služba radi po nalogu", public=True)
            else:
                tickets.transition(s, ticket, Status.IN_PROGRESS, actor, Change(note=note))
        elif reply.action == DONE:
            resolution = note or "služba je javila da je posao završen"
            tickets.transition(s, ticket, Status.RESOLVED, actor, Change(note=resolution))
        elif reply.action == NOT_OURS:
            if status != Status.ASSIGNED:
                return False
            why = note or "služba kaže da nalog nije u njenoj nadležnosti"
            tickets.transition(s, ticket, Status.OPEN, actor, Change(note=why))
            tickets.note(
                s, ticket, SYSTEM, f"returned by {actor.utility} for re-routing: {why}", kind="escalation"
            )
            _tell_coordinator(tickets, config, s, ticket, why)
    except (TransitionRefused, MissingDetail):
        return False
    return True


def _tell_coordinator(tickets: TicketService, config: Config, s: Session, ticket: Ticket, why: str) -> None:
    body = (
        f"Služba {ticket.utility} je vratila radni nalog {ticket.reference}.\n\n"
        f"Razlog: {why}\n\nPrijava je ponovo otvorena i čeka preusmeravanje.\n"
    )
    subject = "Služba vratila nalog: potrebno preusmeravanje"
    tickets.notifier.staff_mail(s, ticket, "escalation", config.sla.escalation_emails, subject, body)


def _keep_after_photos(
    inbox: GatewayInbox,
    s: Session,
    ticket: Ticket | None,
    message: Message,
    stored: Sequence[tuple[Attachment, str]],
) -> None:
    for att, sha in stored:
        is_photo = att.content_type.lower() in PHOTO_TYPES
        gps = gps_from_photo(att.data) if is_photo else None
        s.add(
            AttachmentRow(
                ticket_id=ticket.id if ticket else None,
                message_id=message.id,
                filename=att.filename,
                content_type=att.content_type,
                size=len(att.data),
                sha256=sha,
                kind="photo" if is_photo else "file",
                phase="after",
                lat=gps[0] if gps else None,
                lon=gps[1] if gps else None,
                created_at=inbox.clock(),
            )
        )


# -- photos on the work order --------------------------------------------------------------------
_EXT = {b"\x89PNG": "png", b"RIFF": "webp"}


def work_order_attachments(
    session: Session, blobs: BlobStore, ticket: Ticket, settings: WorkOrderSettings
) -> list[dict[str, str]]:
    """The ticket's before-photos, re-encoded without metadata and stored: outbox `attachments` meta.

    File names are neutral (`S48-2026-000123-1.jpg`): the reporter's own names may carry PII.
    """
    if not settings.attach_photos or settings.max_photos == 0:
        return []
    rows = session.exec(
        select(AttachmentRow)
        .where(AttachmentRow.ticket_id == ticket.id, AttachmentRow.kind == "photo")
        .where(AttachmentRow.phase == "before")
        .order_by(col(AttachmentRow.id))
    ).all()
    out: list[dict[str, str]] = []
    for row in rows:
        if len(out) >= settings.max_photos:
            break
        clean = strip_metadata(blobs.get(row.sha256))
        if clean is None:
            continue
        ext = _EXT.get(clean[:4], "jpg")
        out.append(
            {
                "filename": f"{ticket.reference}-{len(out) + 1}.{ext}",
                "content_type": {"png": "image/png", "webp": "image/webp"}.get(ext, "image/jpeg"),
                "sha256": blobs.put(clean),
            }
        )
    return out


def attach_work_order_photos(
    session: Session, blobs: BlobStore, ticket: Ticket, settings: WorkOrderSettings
) -> int:
    """Finish the ticket's queued work-order mails: their photos, and the redacted text.

    Call right after the assignment. CitizenNotifier.work_order masks numbers and addresses in the
    description but not the reporter's name; the ticket's work-order text has both removed.
    """
    rows = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.ticket_id == ticket.id,
            OutboxMessage.kind == "workorder",
            OutboxMessage.state == "queued",
        )
    ).all()
    pending = [r for r in rows if not r.meta.get("attachments")]
    if not pending:
        return 0
    attachments = work_order_attachments(session, blobs, ticket, settings)
    masked = mask_pii(ticket.description)
    for row in pending:
        if masked and masked != ticket.work_order_text:
            row.body = row.body.replace(masked, ticket.work_order_text)
        row.meta = {**row.meta, "attachments": attachments}  # a new dict: JSON columns track assignment
        session.add(row)
    return len(attachments)


def finish_work_order(
    session: Session,
    blobs: BlobStore,
    config: Config,
    settings: WorkOrderSettings,
    ticket: Ticket,
    now: datetime,
) -> None:
    """Everything a fresh work order gets besides the lead's mail: photos, redaction, the webhook."""
    attach_work_order_photos(session, blobs, ticket, settings)
    queue_webhook(session, config, ticket, "work_order.assigned", now)


# -- reminders along the chain -------------------------------------------------------------------
def escalation_chain(config: Config, utility: UtilitySettings | None) -> list[list[str]]:
    """Stages: the utility's own addresses, then each of its escalation addresses, then the coordinator."""
    stages: list[list[str]] = []
    seen: set[str] = set()
    for group in [
        utility.emails if utility else [],
        *([a] for a in (utility.escalation_emails if utility else [])),
        *([a] for a in config.sla.escalation_emails),
    ]:
        fresh = [a for a in group if a.lower() not in seen]
        seen.update(a.lower() for a in fresh)
        if fresh:
            stages.append(fresh)
    return stages


class WorkOrderReminders:
    """Overdue work orders: a reminder at each configured step, each reaching one more link."""

    def __init__(
        self,
        engine: sa.Engine,
        config: Config,
        settings: WorkOrderSettings,
        tickets: TicketService,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.config = config
        self.settings = settings
        self.tickets = tickets
        self.clock = clock

    def run_once_sync(self) -> int:
        if not self.settings.enabled or not self.settings.reminder_steps_hours:
            return 0
        with session_scope(self.engine, write=True) as s:
            return self.sweep(s)

    async def run_once(self) -> int:
        import asyncio

        return await asyncio.to_thread(self.run_once_sync)

    def sweep(self, s: Session) -> int:
        now = self.clock()
        steps = sorted(self.settings.reminder_steps_hours)
        candidates = s.exec(
            select(Ticket)
            .where(col(Ticket.status).in_([Status.ASSIGNED.value, Status.IN_PROGRESS.value]))
            .where(col(Ticket.due_at).is_not(None))
            .where(col(Ticket.due_at) <= now - timedelta(hours=steps[0]))
            .with_for_update(skip_locked=True)
        ).all()
        sent = 0
        for ticket in candidates:
            assert ticket.due_at is not None
            reached = sum(1 for h in steps if now >= ticket.due_at + timedelta(hours=h))
            done = s.exec(
                select(func.count())
                .select_from(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "reminder")
            ).one()
            if reached <= done:
                continue
            for level in range(done, reached):
                # Catching up after downtime: one mail for the highest step, one event per step.
                recipients = self._remind(s, ticket, level) if level == reached - 1 else []
                self.tickets.note(
                    s,
                    ticket,
                    SYSTEM,
                    f"reminder {level + 1}/{len(steps)} to {len(recipients)} address(es)",
                    kind="reminder",
                )
            sent += 1
        return sent

    def _remind(self, s: Session, ticket: Ticket, level: int) -> list[str]:
        utility = self.config.utility(ticket.utility)
        stages = escalation_chain(self.config, utility)
        recipients = [a for stage in stages[: level + 1] for a in stage]
        if not self.config.mail.enabled:
            recipients = []
        tz = self.config.tz()
        due = ticket.due_at.astimezone(tz).strftime("%d.%m.%Y %H:%M") if ticket.due_at else "-"
        category = self.config.category(ticket.category)
        body = (
            f"Opomena {level + 1}: radni nalog {ticket.reference} nije završen u roku.\n\n"
            f"Služba: {utility.name if utility else '-'}\n"
            f"Vrsta: {category.name if category else ticket.category or '-'}\n"
            f"Lokacija: {mask_pii(ticket.location_text or '-')}\nRok je bio: {due}\n\n"
            f"Opis:\n{ticket.work_order_text}\n\n"
            "Odgovorite na ovu poruku rečju U RADU, ZAVRŠENO ili NIJE NAŠE u prvom redu.\n"
        )
        now = self.clock()
        subject = f"Opomena {level + 1}: rok za radni nalog je istekao"
        self.tickets.notifier.staff_mail(s, ticket, "reminder", recipients, subject, body)
        if utility is not None and utility.webhook_url:
            queue_webhook(s, self.config, ticket, "work_order.reminder", now, level=level + 1)
        return recipients


# -- webhooks ------------------------------------------------------------------------------------
WEBHOOK_CHANNEL = "webhook"
SIGNATURE_HEADER = "X-Sistem48-Signature"
TIMESTAMP_HEADER = "X-Sistem48-Timestamp"


def webhook_payload(config: Config, ticket: Ticket, event: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """What a utility's system learns: the anonymous work order, never the reporter."""
    return {
        "event": event,
        "at": at.isoformat(),
        "reference": ticket.reference,
        "status": ticket.status,
        "category": ticket.category,
        "utility": ticket.utility,
        "description": ticket.work_order_text,
        "location": mask_pii(ticket.location_text or ""),
        "lat": ticket.lat,
        "lon": ticket.lon,
        "due_at": ticket.due_at.isoformat() if ticket.due_at else None,
        **extra,
    }


def queue_webhook(
    s: Session, config: Config, ticket: Ticket, event: str, now: datetime, **extra: Any
) -> OutboxMessage | None:
    """An outbox row for the ticket's utility's webhook, if it has one (sent and retried by the outbox)."""
    utility = config.utility(ticket.utility)
    if utility is None or not utility.webhook_url:
        return None
    row = OutboxMessage(
        ticket_id=ticket.id,
        kind="webhook",
        channel=WEBHOOK_CHANNEL,
        recipient=utility.webhook_url,
        body=json.dumps(webhook_payload(config, ticket, event, now, **extra), ensure_ascii=False),
        automatic=True,
        created_at=now,
        next_attempt_at=now,
        meta={"utility": utility.code, "event": event},
    )
    s.add(row)
    return row


def sign_webhook(secret: bytes, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp.body", so a captured request cannot be replayed later unnoticed."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POSTs webhook outbox rows; 2xx is done, 408/429/5xx and network errors are retried."""

    def __init__(self, config: Config, settings: WorkOrderSettings, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.settings = settings
        self.clock = clock

    def _secret(self, utility_code: str | None) -> bytes:
        utility = self.config.utility(utility_code)
        if utility is None or not utility.webhook_secret_env:
            raise DeliveryFailed("the utility has no webhook_secret_env", permanent=True)
        value = os.environ.get(utility.webhook_secret_env)
        if not value:
            # Temporary: the row waits in the outbox until the operator sets the variable.
            raise DeliveryFailed(f"{utility.webhook_secret_env} is not set", permanent=False)
        return value.encode()

    async def send(self, n: Notification) -> DeliveryReceipt | None:
        secret = self._secret(n.meta.get("utility"))
        body = n.body.encode()
        timestamp = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign_webhook(secret, timestamp, body),
            "X-Sistem48-Delivery": str(n.outbox_id),  # the receiver's idempotency key across retries
            "X-Sistem48-Event": n.meta.get("event", ""),
        }
        try:
            async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_s) as client:
                response = await client.post(n.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook: {type(exc).__name__}", permanent=False) from None
        if 200 <= response.status_code < 300:
            return DeliveryReceipt(provider_ref=response.headers.get("X-Request-Id"))
        retry = response.status_code in (408, 429) or response.status_code >= 500
        raise DeliveryFailed(f"webhook answered HTTP {response.status_code}", permanent=not retry)

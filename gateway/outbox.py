"""The one composer of outbox rows: what the citizen, the utility, staff and webhooks are told, on
which channel, in the caller's transaction. The outbox worker (gateway/workers.py) sends them later."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from channels.phone import read_phone
from gateway.config import Config, WorkOrderSettings
from gateway.notify import EMAIL_BODY, EMAIL_LINES, EMAIL_SUBJECTS, STATUS_LABEL, render, sms_body
from gateway.photos import strip_metadata
from gateway.signing import Signer
from gateway.statuslink import status_url
from gateway.text import lat_to_cyr, mask_pii
from storage.blobs import BlobStore
from storage.models import AttachmentRow, CitizenIdentity, Message, OutboxMessage, Ticket


class Outbox:
    """Writes outbox rows in the caller's transaction; the outbox worker sends them later."""

    def __init__(
        self, config: Config, signer: Signer, clock: Callable[[], datetime], blobs: BlobStore
    ) -> None:
        self.config = config
        self.signer = signer
        self.clock = clock
        self.blobs = blobs
        self.tz = config.tz()

    # -- recipients -----------------------------------------------------------------------
    def _identity(self, session: Session, citizen_id: int | None, kind: str) -> CitizenIdentity | None:
        if citizen_id is None:
            return None
        return session.exec(
            select(CitizenIdentity)
            .where(CitizenIdentity.citizen_id == citizen_id, CitizenIdentity.kind == kind)
            .order_by(col(CitizenIdentity.id).desc())
        ).first()

    def _is_mobile(self, e164: str) -> bool:
        number = read_phone(e164, None)
        return number is not None and number.mobile

    def reply_route(
        self, session: Session, ticket: Ticket, identities: list[CitizenIdentity] | None = None
    ) -> tuple[str, str] | None:
        """(channel, recipient) for telling this ticket's reporter something, or None.
        `identities`, when given, is the reporter's complete list (a citizen created just now)."""
        if identities is not None:
            phone = next((i for i in identities if i.kind == "phone"), None)
            email = next((i for i in identities if i.kind == "email"), None)
        else:
            phone = self._identity(session, ticket.citizen_id, "phone")
            email = self._identity(session, ticket.citizen_id, "email")
        sms_ok = (
            self.config.sms.enabled
            and phone is not None
            and not phone.opted_out
            and self._is_mobile(phone.value)
        )
        mail_ok = self.config.mail.enabled and email is not None and not email.undeliverable
        order = {
            "sms": ["sms", "email"],
            "voice": ["sms"],
            "email": ["email"],
            "web": ["email", "sms"],
            "phone": ["sms", "email"],
        }.get(ticket.channel, ["email", "sms"])
        for kind in order:
            if kind == "sms" and sms_ok and phone is not None:
                return "sms", phone.value
            if kind == "email" and mail_ok and email is not None:
                return "email", email.value
        return None

    # -- citizen messages ---------------------------------------------------------------------
    def _values(self, ticket: Ticket, **extra: Any) -> dict[str, Any]:
        due = ticket.due_at.astimezone(self.tz).strftime("%d.%m. %H:%M") if ticket.due_at else ""
        utility = self.config.utility(ticket.utility)
        base = self.config.gateway.public_base_url.rstrip("/")
        values: dict[str, Any] = {
            "ref": ticket.reference,
            "due": due,
            "due_part": f" Rok: {due}."
            if due and ticket.status in ("open", "assigned", "in_progress")
            else "",
            "due_line": f"\nRok za rešavanje: {due}" if due else "",
            "utility": utility.name if utility else "",
            "label": STATUS_LABEL.get(ticket.status, ticket.status),
            "url": status_url(base, self.signer, ticket.reference, ticket.public_token),
            "note": ticket.waiting_reason or ticket.resolution_note or "",
            "where": ticket.forwarded_to or "",
            "original": "",
            "text": "",
            "mail": (self.config.mail.accept_addresses or [self.config.mail.from_address])[0],
        }
        values.update(extra)
        return values

    def queue_for_citizen(
        self,
        session: Session,
        ticket: Ticket,
        kind: str,
        *,
        automatic: bool = True,
        urgent: bool = True,
        route: tuple[str, str] | None = None,
        **extra: Any,
    ) -> OutboxMessage | None:
        route = route or self.reply_route(session, ticket)
        if route is None:
            return None
        channel, recipient = route
        values = self._values(ticket, **extra)
        if ticket.script == "cyrillic":
            # Our own words inside the values follow the reader's script; what people typed does not.
            for key in ("label", "utility", "due_part", "due_line"):
                values[key] = lat_to_cyr(str(values[key]))
        now = self.clock()
        if channel == "sms":
            # an MMS notice gets the configurable "send photos by e-mail" text instead of the ack
            template = self.config.sms.mms_reply if kind == "ack_mms" else None
            body = sms_body(kind, ticket.script, automatic=automatic, template=template, **values)
            row = OutboxMessage(
                ticket_id=ticket.id,
                kind=kind,
                channel="sms",
                recipient=recipient,
                body=body,
                automatic=automatic,
                created_at=now,
                next_attempt_at=now if urgent else self._after_quiet_hours(now),
            )
        else:
            line = render(EMAIL_LINES.get(kind, "{text}"), ticket.script, **values)
            body = render(EMAIL_BODY, ticket.script, **{**values, "line": line})
            subject = render(EMAIL_SUBJECTS.get(kind, "Prijava"), ticket.script)
            last_in = self._last_inbound_mail(session, ticket)
            row = self._mail_row(
                ticket, kind, recipient, subject, body, automatic=automatic, in_reply_to=last_in
            )
        session.add(row)
        return row

    def reply_to_address(self, reference: str) -> str:
        local, _, domain = self.config.mail.from_address.partition("@")
        return f"{local}+{self.signer.plus_token(reference)}@{domain}"

    def _last_inbound_mail(self, session: Session, ticket: Ticket) -> str | None:
        ext = session.exec(
            select(Message.external_id)
            .where(
                Message.ticket_id == ticket.id,
                Message.direction == "in",
                Message.channel == "email",
            )
            .order_by(col(Message.id).desc())
        ).first()
        return f"<{ext}>" if ext and not ext.startswith("sha256:") else None

    def _after_quiet_hours(self, now: datetime) -> datetime:
        start, end = self.config.sms.quiet_hours_start, self.config.sms.quiet_hours_end
        if start is None or end is None:
            return now
        local = now.astimezone(self.tz)
        t = local.time()
        quiet = (start <= t or t < end) if start > end else (start <= t < end)
        if not quiet:
            return now
        wake = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if wake <= local:
            wake += timedelta(days=1)
        return wake

    def acknowledge(
        self,
        session: Session,
        ticket: Ticket,
        *,
        suppress: bool,
        identities: list[CitizenIdentity] | None = None,
        kind: str | None = None,
    ) -> None:
        """The acknowledgement of a new ticket, unless loop protection or a rate limit forbids it."""
        if suppress:
            return
        route = self.reply_route(session, ticket, identities)
        if route is None:
            return
        if route[0] == "email" and self._recent_acks(session, route[1]) >= (
            self.config.mail.max_acks_per_sender_per_hour
        ):
            return
        kind = kind or ("ack_voice" if ticket.channel == "voice" else "ack")
        self.queue_for_citizen(session, ticket, kind, route=route)

    def _recent_acks(self, session: Session, recipient: str) -> int:
        since = self.clock() - timedelta(hours=1)
        return session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.recipient == recipient,
                OutboxMessage.kind == "ack",
                col(OutboxMessage.created_at) >= since,
            )
        ).one()

    def status_changed(self, session: Session, ticket: Ticket, new: str, *, note: str | None = None) -> None:
        """Tell the reporter of a new status, where the channel's settings want it."""
        if new in ("received", "discarded"):
            return
        route = self.reply_route(session, ticket)
        if route is None:
            return
        # A merged reporter is always told where the report went: otherwise it looks lost.
        if route[0] == "sms" and new not in self.config.sms.reply_on and new != "duplicate":
            return
        extra: dict[str, Any] = {}
        if new == "duplicate" and ticket.duplicate_of_id is not None:
            original = session.get(Ticket, ticket.duplicate_of_id)
            extra["original"] = original.reference if original else ""
        if note and new in ("waiting", "resolved"):
            extra["note"] = note
        self.queue_for_citizen(session, ticket, str(new), urgent=False, route=route, **extra)

    # -- utilities and staff -------------------------------------------------------------------
    def work_order(self, session: Session, ticket: Ticket) -> None:
        """The anonymous work order in one step: the mail to the utility (no name, number or address of
        the reporter, PII masked) with its photos stripped of metadata, and the utility's webhook."""
        utility = self.config.utility(ticket.utility)
        if utility is None or not self.config.mail.enabled:
            return
        category = self.config.category(ticket.category)
        due = ticket.due_at.astimezone(self.tz).strftime("%d.%m.%Y %H:%M") if ticket.due_at else "-"
        where = ticket.location_text or "-"
        if ticket.lat is not None and ticket.lon is not None:
            where += f"\nMapa: https://www.openstreetmap.org/?mlat={ticket.lat}&mlon={ticket.lon}"
        body = (
            f"Radni nalog {ticket.reference}\n\n"
            f"Vrsta: {category.name if category else ticket.category or '-'}\n"
            f"Lokacija: {mask_pii(where)}\nRok: {due}\n\nOpis:\n{ticket.work_order_text}\n\n"
            "Odgovorite na ovu poruku jednom od reči u prvom redu: PRIMLJENO, U RADU, ZAVRŠENO, "
            "NIJE NAŠE (uz opcionu fotografiju posle intervencije).\n"
        )
        subject = f"Radni nalog: {category.name if category else ticket.category or ''}"
        attachments = work_order_attachments(session, self.blobs, ticket, self.config.work_orders)
        for address in utility.emails:
            row = self._mail_row(ticket, "workorder", address, subject, body, automatic=True)
            row.meta = {**row.meta, "attachments": attachments}
            session.add(row)
        self.webhook(session, ticket, "work_order.assigned")

    def escalate(self, session: Session, ticket: Ticket, why: str) -> None:
        if not self.config.mail.enabled:
            return
        utility = self.config.utility(ticket.utility)
        chain: list[str] = []
        for address in [
            *(utility.escalation_emails if utility else []),
            *self.config.sla.escalation_emails,
        ]:
            if address not in chain:
                chain.append(address)
        if not chain:
            return
        recipients = chain[: max(1, ticket.escalation_level)]
        was_due = ticket.due_at.astimezone(self.tz).strftime("%d.%m.%Y %H:%M") if ticket.due_at else "-"
        body = (
            f"Eskalacija: {ticket.reference} ({why})\n\nStatus: {ticket.status}\n"
            f"Služba: {utility.name if utility else '-'}\nRok je bio: {was_due}\n"
        )
        body += f"\nOpis:\n{ticket.work_order_text}\n"
        self.staff_mail(session, ticket, "escalation", recipients, f"Eskalacija: {why}", body)

    def reopened_notice(self, session: Session, ticket: Ticket) -> None:
        """Tell the utility that had the job that the citizen says it is not fixed: the work order
        again, with the citizen's words as masked on the ticket (no personal data)."""
        utility = self.config.utility(ticket.utility)
        if utility is None or not utility.emails:
            return
        words = f"Reči građanina: {ticket.reopen_note}\n\n" if ticket.reopen_note else ""
        body = (
            f"Građanin javlja da problem po nalogu {ticket.reference} nije rešen; prijava je ponovo "
            f"otvorena.\n\n{words}Lokacija: {mask_pii(ticket.location_text or '-')}\n\n"
            f"Nalog:\n{ticket.work_order_text}\n"
        )
        self.staff_mail(
            session, ticket, "reopened", list(utility.emails), "Ponovo otvoreno: nije rešeno", body
        )

    def staff_mail(
        self,
        session: Session,
        ticket: Ticket,
        kind: str,
        recipients: list[str],
        subject: str,
        body: str,
    ) -> None:
        """Mail to a utility or staff about a ticket: reference in the subject, signed Message-ID,
        and a plus-address Reply-To, so answers thread back (and only genuine ones)."""
        if not self.config.mail.enabled:
            return
        for address in recipients:
            session.add(self._mail_row(ticket, kind, address, subject, body, automatic=True))

    def _mail_row(
        self,
        ticket: Ticket,
        kind: str,
        recipient: str,
        subject: str,
        body: str,
        *,
        automatic: bool,
        in_reply_to: str | None = None,
    ) -> OutboxMessage:
        """An outbound mail about a ticket: reference in the subject, our signed Message-ID and a
        plus-address Reply-To, so that answers thread back — and only genuine ones."""
        now = self.clock()
        return OutboxMessage(
            ticket_id=ticket.id,
            kind=kind,
            channel="email",
            recipient=recipient,
            subject=f"[{ticket.reference}] {subject}",
            body=body,
            automatic=automatic,
            message_id_header=self.signer.message_id(ticket.reference, self.config.mail.domain),
            in_reply_to=in_reply_to,
            references=in_reply_to,
            created_at=now,
            next_attempt_at=now,
            meta={"reply_to": self.reply_to_address(ticket.reference)},
        )

    # -- rows without a ticket behind them -----------------------------------------------------
    def sms_to_number(self, session: Session, kind: str, recipient: str, body: str) -> OutboxMessage:
        """An SMS to a number that is no ticket's reporter route (STOP confirmation, unknown reference)."""
        now = self.clock()
        row = OutboxMessage(
            kind=kind, channel="sms", recipient=recipient, body=body, created_at=now, next_attempt_at=now
        )
        session.add(row)
        return row

    def digest(self, session: Session, recipients: list[str], subject: str, body: str, day: str) -> None:
        """The morning digest mail, once per recipient, tagged with its day."""
        now = self.clock()
        for address in recipients:
            session.add(OutboxMessage(kind="digest", channel="email", recipient=address, subject=subject,
                                      body=body, automatic=True, created_at=now, next_attempt_at=now,
                                      meta={"day": day}))  # fmt: skip

    # -- webhooks ------------------------------------------------------------------------------
    def webhook(self, session: Session, ticket: Ticket, event: str, **extra: Any) -> OutboxMessage | None:
        """A row for the ticket's utility's webhook, if it has one (sent and retried by the outbox)."""
        utility = self.config.utility(ticket.utility)
        if utility is None or not utility.webhook_url:
            return None
        now = self.clock()
        row = OutboxMessage(
            ticket_id=ticket.id,
            kind="webhook",
            channel=WEBHOOK_CHANNEL,
            recipient=utility.webhook_url,
            body=json.dumps(webhook_payload(self.config, ticket, event, now, **extra), ensure_ascii=False),
            automatic=True,
            created_at=now,
            next_attempt_at=now,
            meta={"utility": utility.code, "event": event},
        )
        session.add(row)
        return row


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


def admin_health_mail(
    recipients: list[str], day: str, problems: list[str], base_url: str, now: datetime
) -> list[OutboxMessage]:
    """The administrator's daily health mail (gateway/healthmail.py decides when): one outbox row per
    recipient, listing what was degraded in plain words."""
    body = "\n".join(
        [
            f"Sistem48 u poslednja 24 sata ({day}): nešto nije radilo kako treba.",
            "",
            *(f"- {p}" for p in problems),
            "",
            f"Stanje sada: {base_url.rstrip('/')}/healthz  ·  uputstvo: docs/install.md",
        ]
    )
    subject = f"[Sistem48] Stanje sistema {day}: {len(problems)} problem(a)"
    return [
        OutboxMessage(
            kind="health",
            channel="email",
            recipient=address,
            subject=subject,
            body=body + "\n",
            automatic=True,
            created_at=now,
            next_attempt_at=now,
            meta={"day": day},
        )
        for address in recipients
    ]

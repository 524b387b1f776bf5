"""What the citizen, the utility and staff are told, in which script, on which channel: outbox rows.

Templates are written once in Latin; a Cyrillic-writing citizen gets them transliterated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import phonenumbers
from sqlmodel import Session, col, func, select

from gateway.config import Config
from gateway.signing import Signer
from gateway.text import lat_to_cyr, mask_pii
from sms.codec import prepare_text as sms_text
from storage.blobs import BlobStore
from storage.models import CitizenIdentity, Message, OutboxMessage, Ticket

if TYPE_CHECKING:
    from gateway.tickets import Change, Status

STATUS_LABEL = {
    "received": "primljena",
    "open": "prihvaćena",
    "assigned": "prosleđena nadležnoj službi",
    "in_progress": "u radu",
    "resolved": "rešena",
    "closed": "zatvorena",
    "waiting": "na čekanju",
    "forwarded": "prosleđena van nadležnosti grada",
    "duplicate": "spojena sa drugom prijavom",
    "discarded": "odbačena",
}

SMS_TEMPLATES = {
    # Short enough for one SMS part where the values allow: 160 characters for Latin (sent without
    # diacritics, GSM-7), 70 for Cyrillic (UCS-2). `sistem48 check-config` prints the counts.
    "ack": "Sistem48: prijava {ref} je primljena, odgovor za 48 sati.",
    "ack_voice": "Sistem48: govorna poruka je primljena kao prijava {ref}.",
    "open": "Sistem48: prijava {ref} je prihvaćena, rok {due}.",
    "assigned": "Sistem48: prijava {ref} prosleđena: {utility}.",
    "in_progress": "Sistem48: po prijavi {ref} se radi.",
    "resolved": "Sistem48: prijava {ref} je rešena. Ako nije, pišite NIJE.",
    "closed": "Sistem48: prijava {ref} je zatvorena.",
    "waiting": "Sistem48: prijava {ref} čeka: {note}",
    "forwarded": "Sistem48: {ref} nije u nadležnosti grada; prosleđeno: {where}",
    "duplicate": "Sistem48: prijava {ref} spojena je sa {original}.",
    "status_reply": "Sistem48: prijava {ref} je {label}.{due_part}",
    "unknown_ref": "Sistem48: prijava {ref} nije pronađena.",
    "stop": "Sistem48: odjavljeni ste, više nećete dobijati SMS.",
    "reply": "Sistem48 ({ref}): {text}",
}

EMAIL_SUBJECTS = {
    "ack": "Prijava primljena",
    "open": "Prijava prihvaćena",
    "assigned": "Prijava prosleđena službi",
    "in_progress": "Po prijavi se radi",
    "resolved": "Prijava rešena",
    "closed": "Prijava zatvorena",
    "waiting": "Prijava na čekanju",
    "forwarded": "Prijava prosleđena van nadležnosti",
    "duplicate": "Prijava spojena",
    "status_reply": "Status prijave",
    "reply": "Odgovor na prijavu",
}

EMAIL_BODY = """Poštovani,

{line}

Broj prijave: {ref}
Status: {label}{due_line}
Pregled statusa: {url}

Na ovu poruku možete odgovoriti; odgovor se dodaje vašoj prijavi {ref}.

Sistem 48 — gradski kontakt centar
"""

EMAIL_LINES = {
    "ack": "vaša prijava je primljena i registrovana. Status ćete dobiti u roku od 48 sati.",
    "open": "vaša prijava je prihvaćena i upućena na rešavanje.",
    "assigned": "vaša prijava je prosleđena nadležnoj službi: {utility}.",
    "in_progress": "nadležna služba radi po vašoj prijavi.",
    "resolved": "vaša prijava je rešena: {note}\nAko problem nije otklonjen, odgovorite rečju NIJE.",
    "closed": "vaša prijava je zatvorena.",
    "waiting": "vaša prijava čeka: {note}",
    "forwarded": "prijava nije u nadležnosti grada i prosleđena je: {where}",
    "duplicate": "vaša prijava je spojena sa prijavom {original} o istom problemu.",
    "status_reply": "stanje vaše prijave je: {label}.",
    "reply": "{text}",
}

_PLACEHOLDER = re.compile(r"(\{[^{}]*\})")


def sms_body(
    kind: str, script: str, *, automatic: bool = True, template: str | None = None, **values: Any
) -> str:
    """The SMS text of a template. One diacritic makes a whole SMS UCS-2 (70 instead of 160
    characters a part), so Latin readers get our automatic texts without them — as Serbians text
    each other anyway; Cyrillic readers get Cyrillic. A person's reply is sent as typed."""
    body = render(template or SMS_TEMPLATES.get(kind, SMS_TEMPLATES["reply"]), script, **values)
    return sms_text(body, "gsm7_latin") if script == "latin" and automatic else body


def render(template: str, script: str, **values: Any) -> str:
    """Fill a Latin template; for Cyrillic readers transliterate the words but never the values."""
    if script == "cyrillic":
        template = "".join(
            part if _PLACEHOLDER.fullmatch(part) else lat_to_cyr(part)
            for part in _PLACEHOLDER.split(template)
        )
    return template.format(**values)


class CitizenNotifier:
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
        try:
            number = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return False
        kind = phonenumbers.number_type(number)
        return kind in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )

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
            "url": f"{base}/s/{ticket.reference}?t={ticket.public_token}",
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

    def status_changed(
        self, session: Session, ticket: Ticket, old: Status, new: Status, change: Change
    ) -> None:
        if new == "assigned":
            self.work_order(session, ticket)
        if new in ("received", "discarded"):
            return
        route = self.reply_route(session, ticket)
        if route is None:
            return
        if route[0] == "sms" and new not in self.config.sms.reply_on:
            return
        extra: dict[str, Any] = {}
        if new == "duplicate" and ticket.duplicate_of_id is not None:
            original = session.get(Ticket, ticket.duplicate_of_id)
            extra["original"] = original.reference if original else ""
        if change.note and new in ("waiting", "resolved"):
            extra["note"] = change.note
        self.queue_for_citizen(session, ticket, str(new), urgent=False, route=route, **extra)

    # -- utilities and staff -------------------------------------------------------------------
    def work_order(self, session: Session, ticket: Ticket) -> None:
        """The anonymous work order: no name, number or address of the reporter, PII masked."""
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
        self.staff_mail(session, ticket, "workorder", utility.emails, subject, body)
        # Imported here: workorders builds on TicketService, which builds on this module.
        from gateway.workorders import finish_work_order

        finish_work_order(session, self.blobs, self.config, self.config.work_orders, ticket, self.clock())

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

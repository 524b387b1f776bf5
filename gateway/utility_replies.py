"""A utility's e-mail answer to its work order (PRIMLJENO / U RADU / ZAVRŠENO / NIJE NAŠE), applied
through TicketService; only a reply to our own signed work-order mail may change the ticket."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from channels.base import Attachment, InboundContact, IngestResult
from gateway.config import Config, UtilitySettings
from gateway.outbox import Outbox
from gateway.signing import REFERENCE, Signer
from gateway.text import fold, mask_pii
from gateway.tickets import SYSTEM, Actor, Change, MissingDetail, Status, TicketService, TransitionRefused
from storage.blobs import inline_raw
from storage.models import Message, Ticket

log = logging.getLogger(__name__)


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


def _reference(signer: Signer, contact: InboundContact) -> tuple[str | None, bool]:
    """The work order a reply names, and whether it did so with a token only we can make (our
    signed Message-ID or plus-address) rather than a subject tag anyone can type."""
    for hint in contact.thread_hints:
        ref = signer.reference_from_message_id(hint) or signer.reference_from_plus_token(hint)
        if ref:
            return ref, True
    for text in (*contact.thread_hints, contact.subject or ""):
        if "@" not in text and (m := REFERENCE.search(text)):
            return m.group(1).upper(), False
    return None, False


class UtilityReplies:
    """Applies a utility's e-mail answers to its work orders; the composition root hands it to the inbox."""

    def __init__(
        self,
        config: Config,
        signer: Signer,
        tickets: TicketService,
        outbox: Outbox,
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.signer = signer
        self.tickets = tickets
        self.outbox = outbox
        self.clock = clock

    def ingest(
        self,
        s: Session,
        contact: InboundContact,
        raw_sha: str | None,
        stored: Sequence[tuple[Attachment, str]],
    ) -> IngestResult | None:
        """Apply a reply from a utility's address; None when the sender is no utility (a citizen's mail).

        Called by GatewayInbox for e-mail, after its duplicate check, in its transaction. A utility's
        mail never opens a citizen ticket and is never acknowledged.
        """
        utility = utility_for_sender(self.config, contact.sender)
        if utility is None or contact.meta.get("quarantine"):
            return None  # unparseable mail is quarantined by the inbox as usual
        reference, signed = _reference(self.signer, contact)
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
        self.tickets.add_message_files(s, ticket, message, stored, phase="after")
        if ticket is None:
            log.info("utility %s mail without a work order kept for operators", utility.code)
            return IngestResult(
                None, None, created=False, duplicate=False, message_id=message.id, quarantined=True
            )
        actor = Actor(utility.code, "utility", utility.code)
        # A From header is easy to forge: only a reply to our own work-order mail (signed Message-ID
        # or plus-address) may change the ticket; a bare subject tag goes to operators to confirm.
        applied = signed and self.apply(s, ticket, actor, reply, auto)
        if not applied:
            why = (
                "automatic reply"
                if auto
                else "no keyword in the first line"
                if signed
                else "it does not answer our work-order mail (subject tag only)"
            )
            self.tickets.note(
                s, ticket, SYSTEM, f"utility reply not understood ({why})", kind="utility_reply"
            )
        log.info(
            "utility %s reply on %s: %s", utility.code, ticket.reference, reply.action or "not understood"
        )
        return IngestResult(
            ticket.id, ticket.reference, created=False, duplicate=False, message_id=message.id
        )

    def apply(
        self,
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
                self.tickets.note(s, ticket, actor, note or "služba je primila radni nalog", public=True)
            elif reply.action == IN_PROGRESS:
                if status == Status.IN_PROGRESS:
                    self.tickets.note(s, ticket, actor, note or "služba radi po nalogu", public=True)
                else:
                    self.tickets.transition(s, ticket, Status.IN_PROGRESS, actor, Change(note=note))
            elif reply.action == DONE:
                resolution = note or "služba je javila da je posao završen"
                self.tickets.transition(s, ticket, Status.RESOLVED, actor, Change(note=resolution))
            elif reply.action == NOT_OURS:
                if status != Status.ASSIGNED:
                    return False
                why = note or "služba kaže da nalog nije u njenoj nadležnosti"
                self.tickets.transition(s, ticket, Status.OPEN, actor, Change(note=why))
                self.tickets.note(
                    s, ticket, SYSTEM, f"returned by {actor.utility} for re-routing: {why}", kind="escalation"
                )
                self._tell_coordinator(s, ticket, why)
        except (TransitionRefused, MissingDetail):
            return False
        return True

    def _tell_coordinator(self, s: Session, ticket: Ticket, why: str) -> None:
        body = (
            f"Služba {ticket.utility} je vratila radni nalog {ticket.reference}.\n\n"
            f"Razlog: {why}\n\nPrijava je ponovo otvorena i čeka preusmeravanje.\n"
        )
        subject = "Služba vratila nalog: potrebno preusmeravanje"
        self.outbox.staff_mail(s, ticket, "escalation", self.config.sla.escalation_emails, subject, body)

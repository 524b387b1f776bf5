"""Turn the raw bytes of one received e-mail into what the core needs: sender, subject, text, files,
threading ids and the loop verdict. Never raises: what cannot be read becomes a quarantine reason and
the caller keeps the raw bytes (the mail path in docs/architecture.md)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.message import Message

from channels.base import Attachment
from mail.charset import decode_header_text
from mail.classify import classify
from mail.headers import envelope_address, first_mailbox, header_text, load_message, message_ids
from mail.mime_guard import mime_shape_problem, tree_problem
from mail.quotes import split_reply
from mail.walk import walk_message

log = logging.getLogger(__name__)

_TICKET_REF = re.compile(r"\b[SС]48[-\s]?(\d{4})[-\s]?(\d{6})\b")  # Latin S or a hand-typed Cyrillic С
# Threading needs the parent and the last few ancestors; thousands of ids would become thousands
# of lookups in the inbox.
_MAX_IN_REPLY_TO = 5
_MAX_REFERENCES = 30
_MAX_TICKET_REFS = 10


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What one mail said, decoded; `body` is the new text, `quoted` the collapsed reply history."""

    sender: str | None
    sender_name: str | None
    subject: str
    body: str
    quoted: str = ""
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    auto: str = ""
    suppress_ack: bool = False
    auto_reason: str = ""
    bounce_recipients: tuple[str, ...] = ()
    bounced_message_id: str | None = None
    bounce_detail: str = ""
    defects: tuple[str, ...] = ()
    quarantine_reason: str | None = None
    ticket_refs: tuple[str, ...] = field(default=())


def _defect_names(msg: Message) -> list[str]:
    names: list[str] = []
    for part in msg.walk():
        names.extend(type(defect).__name__ for defect in getattr(part, "defects", []))
    return list(dict.fromkeys(names))


def ticket_refs(subject: str) -> tuple[str, ...]:
    """Every Sistem48 ticket reference in a subject, normalised to `S48-YYYY-NNNNNN`."""
    refs = dict.fromkeys(f"S48-{m.group(1)}-{m.group(2)}" for m in _TICKET_REF.finditer(subject))
    return tuple(refs)[:_MAX_TICKET_REFS]


def parse_message(raw: bytes, *, envelope_from: str | None = None) -> ParsedMail:
    """Parse one mail; never raises (a failure becomes `quarantine_reason`)."""
    try:
        return _parse(raw, envelope_from)
    except Exception as exc:
        log.warning("mail parser failed: %s", type(exc).__name__)
        return _unparseable(raw, f"parser error: {type(exc).__name__}")


def _unparseable(raw: bytes, reason: str) -> ParsedMail:
    head = raw[:65536].decode("utf-8", "replace")

    def scrape(name: str) -> str | None:
        match = re.search(rf"^{name}[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.IGNORECASE | re.MULTILINE)
        return decode_header_text(match.group(1)).strip() if match else None

    ids = message_ids(scrape("Message-ID"))
    subject = scrape("Subject") or ""
    sender_field = scrape("From") or ""
    found = re.search(r"[\w.+-]+@[\w.-]+\.\w+", sender_field)
    return ParsedMail(
        sender=found.group(0).lower() if found else None,
        sender_name=None,
        subject=subject,
        body="",
        message_id=ids[0] if ids else None,
        suppress_ack=True,
        quarantine_reason=reason,
    )


def _parse(raw: bytes, envelope_from: str | None) -> ParsedMail:
    if not raw or raw.isspace():  # not raw.strip(): that copies a 30 MB mail only to test it
        return _unparseable(raw, "empty message")
    too_large = mime_shape_problem(raw)
    if too_large is not None:
        return _unparseable(raw, too_large)
    msg, defects = load_message(raw)
    if not list(msg.keys()):
        return _unparseable(raw, "no header section")
    too_large = tree_problem(msg)
    if too_large is not None:
        return _unparseable(raw, too_large)
    subject = header_text(msg, "Subject") or ""
    sender, sender_name = first_mailbox(msg, "From")
    reply_to, _reply_name = first_mailbox(msg, "Reply-To")
    if sender is None:
        sender = reply_to
    if sender is None:
        sender = envelope_address(envelope_from)

    walk = walk_message(msg, defects)

    own_text = "\n\n".join(walk.texts)
    new_text, quoted = split_reply(own_text, subject)
    body = "\n\n".join(x for x in [new_text, *walk.forwarded] if x)

    own_ids = message_ids(header_text(msg, "Message-ID"))
    in_reply_to = message_ids(header_text(msg, "In-Reply-To"))[:_MAX_IN_REPLY_TO]
    # References lists the oldest first: the parent and its nearest ancestors are at the end.
    references = message_ids(header_text(msg, "References"))[-_MAX_REFERENCES:]
    verdict = classify(
        msg,
        lambda name: header_text(msg, name),
        sender=sender,
        subject=subject,
        envelope_from=envelope_from,
    )
    quarantine = None
    if not body and not walk.attachments and not subject:
        quarantine = "no readable content"
    return ParsedMail(
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        body=body,
        quoted=quoted,
        attachments=tuple(walk.attachments),
        message_id=own_ids[0] if own_ids else None,
        in_reply_to=in_reply_to,
        references=references,
        reply_to=reply_to,
        auto=verdict.auto,
        suppress_ack=verdict.suppress_ack,
        auto_reason=verdict.reason,
        bounce_recipients=verdict.bounce_recipients,
        bounced_message_id=verdict.bounced_message_id,
        bounce_detail=verdict.bounce_detail,
        defects=tuple(dict.fromkeys([*walk.defects, *_defect_names(msg)])),
        quarantine_reason=quarantine,
        ticket_refs=ticket_refs(subject),
    )

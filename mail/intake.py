"""Received mail bytes → the InboundContact and the delivery reports they carry; run by the core's
spool worker after the sender already got its 250, so nothing here may lose the mail (never raises)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from channels.base import (
    Attachment,
    ChannelKind,
    DeliveryReport,
    DeliveryState,
    InboundContact,
    RawInbound,
)
from channels.script import script_of
from mail.classify import BOUNCE, is_null_sender
from mail.headers import envelope_address
from mail.parse import parse_message

_MAX_EXTERNAL_ID = 250  # an absurd Message-ID must not become an unbounded database key


def decode_spooled(item: RawInbound) -> tuple[InboundContact, list[DeliveryReport]]:
    envelope = item.envelope
    rcpt_tos = tuple(r for r in envelope.get("rcpt_tos", "").split(",") if r)
    contact = contact_from_bytes(
        item.raw,
        received_at=item.received_at,
        mail_from=envelope.get("mail_from"),
        rcpt_tos=rcpt_tos,
        peer=envelope.get("peer") or None,
    )
    return contact, bounce_reports(contact)


def bounce_reports(contact: InboundContact) -> list[DeliveryReport]:
    """A bounce names the recipients our earlier mail failed for; each becomes a failed delivery."""
    meta = contact.meta
    if meta.get("auto") != BOUNCE:
        return []
    recipients = [r for r in meta.get("bounce_recipients", "").split(",") if r]
    return [
        DeliveryReport(
            ChannelKind.EMAIL,
            recipient,
            DeliveryState.FAILED,
            contact.received_at,
            provider_ref=meta.get("bounced_message_id") or None,
            detail=meta.get("bounce_detail", ""),
        )
        for recipient in recipients
    ]


def _plus_tokens(rcpt_tos: Sequence[str]) -> tuple[str, ...]:
    tokens: list[str] = []
    for rcpt in rcpt_tos:
        local = rcpt.strip("<>").rsplit("@", 1)[0]
        if "+" in local:
            token = local.split("+", 1)[1]
            if token:
                tokens.append(token)
    return tuple(tokens)


def storable(text: str) -> str:
    """`text` as the database can hold it: PostgreSQL refuses NUL, and a lone surrogate (a raw 8-bit
    byte the stdlib carried as a surrogate escape) cannot be encoded; it becomes U+FFFD."""
    text = text.replace("\x00", "")
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _storable_attachment(a: Attachment) -> Attachment:
    cid = storable(a.content_id) if a.content_id else None
    return replace(a, filename=storable(a.filename), content_type=storable(a.content_type), content_id=cid)


def contact_from_bytes(
    raw: bytes,
    *,
    received_at: datetime,
    mail_from: str | None = None,
    rcpt_tos: Sequence[str] = (),
    peer: str | None = None,
) -> InboundContact:
    """The InboundContact for one received mail; never raises."""
    parsed = parse_message(raw, envelope_from=mail_from)
    meta: dict[str, str] = {
        "envelope_from": mail_from or "",
        "rcpt_to": ",".join(rcpt_tos),
        "peer": peer or "",
        "auto": parsed.auto,
        "script": script_of(parsed.body),
    }
    if parsed.suppress_ack or is_null_sender(mail_from):
        meta["suppress_ack"] = "1"
    if parsed.auto_reason:
        meta["auto_reason"] = parsed.auto_reason
    if parsed.quoted:
        meta["quoted"] = parsed.quoted
    if parsed.quarantine_reason:
        meta["quarantine"] = parsed.quarantine_reason
    if parsed.message_id:
        meta["message_id"] = parsed.message_id
    if parsed.reply_to:
        meta["reply_to"] = parsed.reply_to
    if parsed.defects:
        meta["defects"] = ",".join(parsed.defects)[:1000]
    if parsed.auto == BOUNCE:
        meta["bounce_recipients"] = ",".join(parsed.bounce_recipients)
        if parsed.bounced_message_id:
            meta["bounced_message_id"] = parsed.bounced_message_id
        if parsed.bounce_detail:
            meta["bounce_detail"] = parsed.bounce_detail
    if not parsed.body:
        meta["no_text"] = "attachments only" if parsed.attachments else "empty body"
    hints = tuple(
        dict.fromkeys([*parsed.ticket_refs, *parsed.in_reply_to, *parsed.references, *_plus_tokens(rcpt_tos)])
    )
    external_id = parsed.message_id or ""
    if not external_id or len(external_id) > _MAX_EXTERNAL_ID:
        external_id = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    sender = parsed.sender
    if sender is None:
        sender = envelope_address(mail_from)
    # Every text leaves through storable(): header values and names can carry NUL or raw 8-bit bytes.
    return InboundContact(
        channel=ChannelKind.EMAIL,
        external_id=storable(external_id),
        sender=storable(sender or ""),
        received_at=received_at,
        subject=storable(parsed.subject) or None,
        body=storable(parsed.body),
        attachments=tuple(_storable_attachment(a) for a in parsed.attachments),
        thread_hints=tuple(storable(h) for h in hints),
        meta={key: storable(value) for key, value in meta.items()},
        raw=raw,
        sender_name=storable(parsed.sender_name) if parsed.sender_name else None,
    )

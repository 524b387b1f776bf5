"""Spooled SMTP DATA → the contact and delivery reports it carries; run by the core's spool worker
after the sender already got its 250, so nothing here may lose the mail (parse never raises)."""

from __future__ import annotations

from channels.base import ChannelKind, DeliveryReport, DeliveryState, InboundContact, RawInbound
from mail.classify import BOUNCE
from mail.parse import contact_from_bytes


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

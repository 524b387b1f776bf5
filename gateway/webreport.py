"""A report from the public web form (`/prijava`): one contact through Inbox.ingest (channel `web`),
then the reporter's suggested category and address applied through TicketService."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlmodel import select

from channels.base import Attachment, ChannelKind, InboundContact
from gateway.statuslink import status_url
from gateway.tickets import Actor
from storage.db import session_scope
from storage.models import Ticket

if TYPE_CHECKING:
    from gateway.runtime import Gateway

REPORTER = Actor("reporter", "citizen")


@dataclass(frozen=True)
class WebReport:
    form_id: str  # the form's nonce: a second press of "send" answers with the same ticket
    description: str
    received_at: datetime
    category: str | None = None
    address: str = ""
    photos: tuple[Attachment, ...] = ()
    reply_to: str = ""  # E.164 number or e-mail address, already checked; "" = anonymous
    reply_channel: Literal["sms", "email", ""] = ""


@dataclass(frozen=True)
class Registered:
    reference: str
    status_url: str
    duplicate: bool


def submit(gw: Gateway, report: WebReport) -> Registered:
    """Register the report (blocking: call it in a worker thread). The acknowledgement to the given
    number or address is queued by the inbox in the same transaction as the ticket."""
    meta = {"form": "public"}
    if report.address:
        meta["address"] = report.address
    if report.reply_channel:
        meta["reply_channel"] = report.reply_channel
    contact = InboundContact(
        channel=ChannelKind.WEB,
        external_id=f"web-form:{report.form_id}",
        sender=report.reply_to,
        received_at=report.received_at,
        body=report.description,
        attachments=report.photos,
        meta=meta,
    )
    result = gw.inbox.ingest_sync(contact)
    if result.reference is None:
        raise RuntimeError("the web report did not become a ticket")
    with session_scope(gw.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == result.reference)).one()
        if not result.duplicate and (report.category or report.address):
            gw.tickets.update_details(
                s,
                ticket,
                REPORTER,
                category=report.category if gw.config.category(report.category) else None,
                location_text=report.address or None,
            )
        url = status_url(gw.config.gateway.public_base_url, gw.signer, ticket.reference, ticket.public_token)
        return Registered(ticket.reference, url, result.duplicate)

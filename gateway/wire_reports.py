"""What the media report after the fact: delivery reports of our outbound messages (and genuine
bounces, which stop mail to an address) and the hotline's call records (the missed-call list)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.base import CallOutcome, CallRecord, ChannelKind, DeliveryReport, DeliveryState
from gateway.citizens import Citizens, normalise_address
from gateway.config import Config
from gateway.ticket_states import Actor
from gateway.tickets import TicketService
from storage.db import session_scope
from storage.models import CallLog, Message, OutboxMessage, Ticket


class WireReports:
    """The one writer of the call log and of delivery outcomes on outbox rows."""

    def __init__(
        self,
        config: Config,
        engine: sa.Engine,
        citizens: Citizens,
        tickets: TicketService,
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.engine = engine
        self.citizens = citizens
        self.tickets = tickets
        self.clock = clock

    def record_delivery_sync(self, report: DeliveryReport) -> None:
        region = self.config.gateway.default_region
        recipient = normalise_address(report.channel, report.recipient, region)
        with session_scope(self.engine, write=True) as s:
            query = select(OutboxMessage).where(OutboxMessage.channel == report.channel.value)
            if report.channel == ChannelKind.EMAIL and report.provider_ref:
                mid = report.provider_ref.strip("<>")
                query = query.where(col(OutboxMessage.message_id_header) == f"<{mid}>")
            else:
                query = query.where(
                    OutboxMessage.recipient == recipient,
                    OutboxMessage.provider_ref == report.provider_ref,
                    col(OutboxMessage.sent_at) >= report.reported_at - timedelta(days=3),
                )
            row = s.exec(query.order_by(col(OutboxMessage.id).desc())).first()
            if row is not None:
                row.delivery = report.state.value
                row.meta = {**row.meta, "delivery_detail": report.detail[:500]}
                s.add(row)
            # Only a bounce of a message we really sent (its signed Message-ID matched) may mark an
            # address undeliverable: anyone can forge a bounce.
            if (
                row is not None
                and row.recipient.lower() == recipient.lower()
                and report.state == DeliveryState.FAILED
                and report.channel == ChannelKind.EMAIL
            ):
                self.citizens.mark_undeliverable(s, recipient, report.detail[:500] or "bounced")

    def record_call_sync(self, call: CallRecord) -> None:
        with session_scope(self.engine, write=True) as s:
            row = s.exec(select(CallLog).where(CallLog.call_id == call.call_id)).first()
            caller = normalise_address(ChannelKind.VOICE, call.caller, self.config.gateway.default_region)
            if row is None:
                row = CallLog(
                    call_id=call.call_id,
                    caller=caller,
                    called=call.called,
                    started_at=call.started_at,
                    outcome=call.outcome.value,
                )
            row.duration_s = call.duration_s
            row.outcome = call.outcome.value
            row.after_hours = call.after_hours
            row.detail = call.detail[:500]
            row.needs_callback = call.outcome == CallOutcome.MISSED and caller.startswith("+")
            ticket_id = s.exec(
                select(Message.ticket_id).where(
                    Message.channel == "voice", Message.external_id == call.call_id
                )
            ).first()
            row.ticket_id = ticket_id
            s.add(row)

    def mark_called_back(self, s: Session, call_id: str, who: str, note: str | None) -> CallLog | None:
        """An operator returned a missed call: it leaves the call-back list, with who and a note."""
        call = s.exec(select(CallLog).where(CallLog.call_id == call_id)).first()
        if call is None:
            return None
        self._called_back(s, call, who, note)
        return call

    def mark_ticket_called_back(self, s: Session, ticket: Ticket, actor: Actor, note: str | None) -> None:
        """An operator returned the call of a ticket: its calls leave the list, the ticket says so."""
        for call in s.exec(
            select(CallLog).where(CallLog.ticket_id == ticket.id, col(CallLog.callback_done_at).is_(None))
        ).all():
            self._called_back(s, call, actor.name, note)
        self.tickets.mark_called_back(s, ticket, actor, note)

    def _called_back(self, s: Session, call: CallLog, who: str, note: str | None) -> None:
        call.needs_callback = False
        call.callback_done_at = self.clock()
        call.callback_note = f"{who}: {note or ''}".strip(": ")
        s.add(call)

"""Work orders after they leave: reminders along the utility's escalation chain when the deadline
passes (a utility's replies are gateway/utility_replies.py, its webhooks gateway/webhooks.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from gateway.config import Config, UtilitySettings, WorkOrderSettings
from gateway.text import mask_pii
from gateway.tickets import SYSTEM, Status, TicketService
from storage.db import session_scope
from storage.models import Ticket, TicketEvent


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
        self.outbox = tickets.outbox
        self.clock = clock

    def run_once_sync(self) -> int:
        if not self.settings.enabled or not self.settings.reminder_steps_hours:
            return 0
        with session_scope(self.engine, write=True) as s:
            return self.sweep(s)

    async def run_once(self) -> int:
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
        subject = f"Opomena {level + 1}: rok za radni nalog je istekao"
        self.outbox.staff_mail(s, ticket, "reminder", recipients, subject, body)
        if utility is not None and utility.webhook_url:
            self.outbox.webhook(s, ticket, "work_order.reminder", level=level + 1)
        return recipients

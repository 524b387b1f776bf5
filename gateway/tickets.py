"""TicketService: the only writer of ticket state. A literal transition table; every change writes a
TicketEvent and, where the citizen must hear of it, an outbox row — in the caller's transaction."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from gateway.text import mask_pii
from gateway.ticket_records import TicketRecords
from gateway.ticket_states import (
    CLOCK_RUNNING,
    SYSTEM,
    TERMINAL,
    THREADABLE,
    TRANSITIONS,
    Actor,
    Change,
    MissingDetail,
    S,
    Status,
    TicketError,
    TicketNotFound,
    TransitionRefused,
)
from storage.models import (
    OutboxMessage,
    Ticket,
    TicketCounter,
    TicketEvent,
)

# The vocabulary of gateway/ticket_states.py is imported from here, with the service.
# fmt: off
__all__ = [
    "CLOCK_RUNNING", "SYSTEM", "TERMINAL", "THREADABLE", "TRANSITIONS", "UNDO_WINDOW", "Actor", "Change",
    "MissingDetail", "Status", "Ticket", "TicketError", "TicketNotFound", "TicketService",
    "TransitionRefused",
]
# fmt: on
# How long a discard or a merge can be taken back from the ticket page.
UNDO_WINDOW = timedelta(minutes=15)


class TicketService(TicketRecords):
    """The ticket's lifecycle: creation, the transition table, validation, corrections and undo,
    merges and the SLA sweep; the field writers it shares are in TicketRecords."""

    # -- creation ---------------------------------------------------------------------------
    def _next_reference(self, session: Session, now: datetime) -> str:
        year = now.astimezone(self.calendar.tz).year
        # One row per year, incremented in the same transaction: on PostgreSQL the UPDATE takes a
        # row lock, on SQLite the write transaction is already exclusive.
        bumped = session.execute(
            sa.update(TicketCounter)
            .where(col(TicketCounter.year) == year)
            .values(last=col(TicketCounter.last) + 1)
            .returning(col(TicketCounter.last))
        ).scalar_one_or_none()
        if bumped is None:
            session.add(TicketCounter(year=year, last=1))
            session.flush()
            bumped = 1
        return f"{self.config.gateway.reference_prefix}-{year}-{bumped:06d}"

    def open_ticket(
        self,
        session: Session,
        *,
        channel: str,
        citizen_id: int | None,
        description: str,
        subject: str | None = None,
        script: str = "latin",
        after_hours: bool = False,
        actor: Actor = SYSTEM,
        location_text: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        category: str | None = None,
    ) -> Ticket:
        now = self.clock()
        ticket = Ticket(
            reference=self._next_reference(session, now),
            public_token=secrets.token_urlsafe(9),
            channel=channel,
            status=Status.RECEIVED,
            subject=subject,
            description=description,
            suggested_category=self.router.suggest(f"{subject or ''}\n{description}"),
            citizen_id=citizen_id,
            script=script,
            after_hours=after_hours,
            location_text=location_text,
            lat=lat,
            lon=lon,
            category=category if self.config.category(category) else None,
            created_at=now,
            updated_at=now,
        )
        self.refresh_work_order_text(session, ticket)
        session.add(ticket)
        session.flush()
        self._event(session, ticket, actor, "status", None, Status.RECEIVED, "registered")
        return ticket

    # -- transitions ------------------------------------------------------------------------
    def transition(
        self, session: Session, ticket: Ticket, to: Status, actor: Actor, change: Change = Change()
    ) -> Ticket:
        now = self.clock()
        current = Status(ticket.status)
        if to not in TRANSITIONS[current]:
            raise TransitionRefused(f"{ticket.reference}: {current} → {to} is not allowed")
        self._check_actor(ticket, to, actor)
        if current == S.WAITING:
            self._resume_clock(ticket, now)

        if to == S.OPEN and current == S.RESOLVED:
            ticket.escalation_level += 1
            ticket.resolved_at = None
            ticket.due_at = self.calendar.add_working_hours(now, ticket.sla_hours or 24)
            ticket.overdue = False
        elif to == S.OPEN and ticket.validated_at is None:
            code = change.category or ticket.category or ticket.suggested_category
            if code is None or self.config.category(code) is None:
                raise MissingDetail("validation needs a known category")
            if not (ticket.description or "").strip():
                # A blank voicemail validated on reflex became a 24 h work order about nothing.
                raise MissingDetail("validation needs the text of the report")
            self._apply_category(ticket, code)
            ticket.validated_at = now
            ticket.due_at = self.calendar.add_working_hours(now, ticket.sla_hours or 48)
        elif to == S.OPEN and change.category:
            self._apply_category(ticket, change.category)
        elif to == S.ASSIGNED:
            code = change.utility or ticket.utility
            if code is None or self.config.utility(code) is None:
                raise MissingDetail("assignment needs a known utility")
            ticket.utility = code
            ticket.assigned_at = now
        elif to == S.RESOLVED:
            if not change.note:
                raise MissingDetail("resolving needs a resolution note")
            ticket.resolution_note = change.note
            ticket.resolved_at = now
        elif to == S.CLOSED:
            ticket.closed_at = now
        elif to == S.WAITING:
            if not change.note:
                raise MissingDetail("waiting needs a reason")
            ticket.waiting_reason = change.note
            ticket.paused_at = now
        elif to == S.FORWARDED:
            if not change.forwarded_to:
                raise MissingDetail("forwarding needs where it went")
            ticket.forwarded_to = change.forwarded_to
        elif to == S.DUPLICATE:
            original = self._find_original(session, ticket, change.duplicate_of)
            ticket.duplicate_of_id = original.id
            merged = f"{ticket.reference} merged as a duplicate"
            self._event(session, original, actor, "merge", None, None, merged, public=False)
        elif to == S.DISCARDED:
            if not change.note:
                raise MissingDetail("discarding needs a reason")
            ticket.discard_reason = change.note

        ticket.status = to
        ticket.updated_at = now
        self.refresh_work_order_text(session, ticket)
        session.add(ticket)
        public = to not in (S.DISCARDED,)
        self._event(session, ticket, actor, "status", current, to, change.note, public=public)
        if to == S.ASSIGNED:
            self.outbox.work_order(session, ticket)  # the utility's mail with its photos, its webhook
        self.outbox.status_changed(session, ticket, to, note=change.note)
        if to == S.RESOLVED:
            self._tell_duplicates(session, ticket, actor, change.note or "")
        return ticket

    def _tell_duplicates(self, session: Session, ticket: Ticket, actor: Actor, note: str) -> None:
        """Reporters of tickets merged into this one hear its resolution on their own channel."""
        for dup in session.exec(select(Ticket).where(Ticket.duplicate_of_id == ticket.id)).all():
            row = self.outbox.queue_for_citizen(session, dup, "resolved", urgent=False, note=note)
            if row is not None:
                self._event(session, dup, actor, "merge", None, None, f"resolution sent: {ticket.reference}")

    def _check_actor(self, ticket: Ticket, to: Status, actor: Actor) -> None:
        if actor.role != "utility":
            return
        if ticket.utility != actor.utility:
            raise TicketNotFound(ticket.reference)  # a utility must not learn other tickets exist
        if to not in (S.IN_PROGRESS, S.RESOLVED, S.OPEN):
            raise TransitionRefused(f"a utility cannot move a work order to {to}")

    def _apply_category(self, ticket: Ticket, code: str) -> None:
        route = self.router.route(code)
        ticket.category = route.category
        ticket.sla_hours = route.sla_hours
        if ticket.utility is None:
            ticket.utility = route.utility

    def _resume_clock(self, ticket: Ticket, now: datetime) -> None:
        if ticket.paused_at is not None and ticket.due_at is not None:
            paused = self.calendar.working_time_between(ticket.paused_at, now)
            ticket.due_at = self.calendar.add_working_hours(ticket.due_at, paused / timedelta(hours=1))
        ticket.paused_at = None
        ticket.waiting_reason = None

    def _find_original(self, session: Session, ticket: Ticket, reference: str | None) -> Ticket:
        if not reference:
            raise MissingDetail("a duplicate needs the reference of the original ticket")
        original = session.exec(select(Ticket).where(Ticket.reference == reference)).first()
        if original is None:
            raise MissingDetail(f"no ticket {reference}")
        if original.id == ticket.id:
            raise MissingDetail("a ticket cannot duplicate itself")
        return original

    # -- other changes ----------------------------------------------------------------------
    def update_details(
        self,
        session: Session,
        ticket: Ticket,
        actor: Actor,
        *,
        description: str | None = None,
        category: str | None = None,
        location_text: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> Ticket:
        notes = []
        if description is not None and description != ticket.description:
            ticket.description = description
            notes.append("description edited")
        if category is not None and category != ticket.category:
            if self.config.category(category) is None:
                raise MissingDetail(f"unknown category {category!r}")
            notes.append(f"category: {ticket.category or '-'} → {category}")
            ticket.category = category
            ticket.sla_hours = self.router.route(category).sla_hours
        if location_text is not None and location_text != (ticket.location_text or ""):
            notes.append(f"location: {ticket.location_text or '-'} → {location_text or '-'}")
            ticket.location_text = location_text or None
        if lat is not None and lon is not None:
            ticket.lat, ticket.lon = lat, lon
        ticket.updated_at = self.clock()
        self.refresh_work_order_text(session, ticket)
        session.add(ticket)
        if notes:
            self._event(session, ticket, actor, "edit", None, None, "; ".join(notes))
        return ticket

    def correct(
        self,
        session: Session,
        ticket: Ticket,
        actor: Actor,
        *,
        category: str | None,
        description: str,
        location_text: str,
    ) -> Ticket:
        """An operator's correction of a validated ticket; each change is a timeline event."""
        if Status(ticket.status) in TERMINAL:
            raise TransitionRefused(f"{ticket.reference} is {ticket.status}: nothing to correct")
        if not description.strip():
            raise MissingDetail("validation needs the text of the report")
        return self.update_details(
            session,
            ticket,
            actor,
            description=description,
            category=category or None,
            location_text=location_text.strip(),
        )

    def undo_close(self, session: Session, ticket: Ticket, actor: Actor) -> Ticket:
        """Take back a discard or a merge made within UNDO_WINDOW: the status before it returns."""
        last = self.undoable(session, ticket)
        if last is None:
            raise TransitionRefused(f"{ticket.reference}: nothing to undo")
        restored = Status(last.from_status or S.RECEIVED)
        if restored == S.WAITING:
            restored = S.RECEIVED if ticket.validated_at is None else S.OPEN
        current = ticket.status
        if ticket.duplicate_of_id is not None and (original := session.get(Ticket, ticket.duplicate_of_id)):
            self._event(session, original, actor, "merge", None, None, f"{ticket.reference} merge undone")
        # The merge notice may not have left yet: a taken-back merge must not reach the citizen.
        for row in session.exec(
            select(OutboxMessage).where(
                OutboxMessage.ticket_id == ticket.id,
                OutboxMessage.kind == current,
                OutboxMessage.state == "queued",
            )
        ).all():
            row.state = "cancelled"
            session.add(row)
        ticket.status = restored
        ticket.discard_reason = None
        ticket.duplicate_of_id = None
        ticket.updated_at = self.clock()
        session.add(ticket)
        self._event(session, ticket, actor, "undo", current, restored, None, public=False)
        return ticket

    def undoable(self, session: Session, ticket: Ticket) -> TicketEvent | None:
        """The discard/merge event that can still be undone, if any."""
        if ticket.status not in (S.DISCARDED, S.DUPLICATE):
            return None
        last = session.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")
            .order_by(col(TicketEvent.id).desc())
        ).first()
        if last is None or last.to_status != ticket.status:
            return None
        at = last.at if last.at.tzinfo else last.at.replace(tzinfo=UTC)
        return last if self.clock() - at <= UNDO_WINDOW else None

    def reply(self, session: Session, ticket: Ticket, actor: Actor, text: str) -> OutboxMessage:
        """A staff member's answer to the reporter, on the channel the reporter used."""
        row = self.outbox.queue_for_citizen(session, ticket, "reply", automatic=False, text=text)
        if row is None:
            raise MissingDetail("the reporter cannot be reached (no number/address, STOP or bounces)")
        self._event(session, ticket, actor, "reply", None, None, text)
        return row

    def validate(
        self,
        session: Session,
        ticket: Ticket,
        actor: Actor,
        *,
        category: str | None = None,
        description: str | None = None,
        location_text: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        note: str | None = None,
    ) -> Ticket:
        """An operator's validation: the edited details, then received → open (the clock starts)."""
        self.update_details(
            session, ticket, actor, description=description, location_text=location_text, lat=lat, lon=lon
        )
        return self.transition(session, ticket, Status.OPEN, actor, Change(note=note, category=category))

    def citizen_replied(self, session: Session, ticket: Ticket, not_fixed: bool, words: str = "") -> None:
        """A message from the reporter threaded in: a 'not fixed' on a resolved ticket reopens it;
        the utility keeps seeing it, with `words` (personal data masked), and is told."""
        ticket.updated_at = self.clock()
        session.add(ticket)
        if not_fixed and ticket.status == S.RESOLVED:
            # The keyword and the reference the citizen typed after it are not their words (and a
            # reference would be masked as a phone number).
            said = re.sub(r"^\s*(nije|није)\b[\s:.,!-]*", "", words.strip(), flags=re.IGNORECASE)
            said = re.sub(r"^\w{1,6}[\s-]*\d{4}[\s-]*\d{1,6}\b[\s:.,!-]*", "", said)
            ticket.reopened_at = self.clock()
            ticket.reopen_note = mask_pii(said)[:500] or None
            self.transition(
                session,
                ticket,
                S.OPEN,
                Actor("reporter", "citizen"),
                Change(note="the citizen reports it is not fixed", reopen=True),
            )
            self.outbox.escalate(session, ticket, "reopened: the citizen reports it is not fixed")
            self.outbox.reopened_notice(session, ticket)

    # -- SLA -----------------------------------------------------------------------------------
    def sweep_overdue(self, session: Session) -> list[Ticket]:
        """Mark every running ticket past its deadline overdue once, and queue the escalation."""
        now = self.clock()
        due = session.exec(
            select(Ticket)
            .where(Ticket.status.in_([s.value for s in CLOCK_RUNNING]))  # type: ignore[attr-defined]
            .where(Ticket.overdue == False)  # noqa: E712
            .where(Ticket.due_at != None)  # noqa: E711
            .where(Ticket.due_at < now)  # type: ignore[operator]
            .with_for_update(skip_locked=True)
        ).all()
        for ticket in due:
            ticket.overdue = True
            ticket.escalation_level += 1
            session.add(ticket)
            passed = f"deadline {ticket.due_at:%Y-%m-%d %H:%M} UTC passed"
            self._event(session, ticket, SYSTEM, "escalation", None, None, passed)
            if ticket.status == S.OPEN or not self.config.work_orders.enabled:
                # Work orders (assigned / in progress) get WorkOrderReminders' chain instead.
                self.outbox.escalate(session, ticket, "deadline passed")
        return list(due)

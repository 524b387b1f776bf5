"""A month of tickets with known fates for the report tests, and the same figures counted straight
from the database (plain SQL and the working calendar), to compare the report against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from gateway.tickets import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import Ticket, TicketEvent
from tests.core.helpers import mail, sms

OCTOBER = (datetime(2026, 9, 30, 22, 0, tzinfo=UTC), datetime(2026, 10, 31, 23, 0, tzinfo=UTC))  # Belgrade


def _move(gw: Any, ref: str, *steps: tuple[Status, Change]) -> None:
    with session_scope(gw.engine, write=True) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        for to, change in steps:
            gw.tickets.transition(s, row, to, SYSTEM, change)


def seed_october(gw: Any, clock: Any) -> dict[str, str]:
    """Tickets received in October 2026 (and one each side of it); returns name → reference."""
    clock.now = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)  # Monday 10:00 in Belgrade
    refs: dict[str, str] = {}

    def new(name: str, contact: Any) -> str:
        refs[name] = gw.inbox.ingest_sync(contact).reference
        return refs[name]

    rasveta, vodovod = Change(category="javna_rasveta"), Change(category="vodovod_kvar")
    fast = new("fast", sms(gw, "+381641000001", "Ne radi svetiljka u Njegoševoj"))
    slow = new("slow", mail(gw, "a@example.rs", "Ne radi svetiljka kod pošte"))
    late = new("late", sms(gw, "+381641000002", "Curi voda iz hidranta"))
    away = new("away", mail(gw, "b@example.rs", "Autoput je oštećen"))
    again = new("again", sms(gw, "+381641000003", "Ne radi svetiljka kod škole"))
    spam = new("spam", mail(gw, "c@example.rs", "Kupite jeftino"))
    waiting = new("waiting", sms(gw, "+381641000004", "Pukla cev negde"))
    clock.advance(hours=1)
    for ref, cat in ((fast, rasveta), (slow, rasveta), (late, vodovod), (again, rasveta)):
        _move(gw, ref, (Status.OPEN, cat), (Status.ASSIGNED, Change()))
    _move(gw, away, (Status.OPEN, vodovod), (Status.FORWARDED, Change(forwarded_to="Putevi Srbije")))
    _move(gw, spam, (Status.DISCARDED, Change(note="reklama")))
    clock.advance(hours=3)
    _move(gw, fast, (Status.RESOLVED, Change(note="Zamenjena sijalica.")))
    _move(gw, again, (Status.RESOLVED, Change(note="Popravljeno.")))
    gw.inbox.ingest_sync(sms(gw, "+381641000003", f"NIJE {again} i dalje ne radi"))
    clock.advance(days=2, hours=5)  # Wednesday 19:00: the slow one resolved after 2 days and a bit
    _move(gw, slow, (Status.RESOLVED, Change(note="Zamenjena svetiljka.")))
    clock.now = datetime(2026, 10, 9, 13, 0, tzinfo=UTC)  # Friday 15:00 in Belgrade
    weekend = new("weekend", sms(gw, "+381641000007", "Ne radi svetiljka u parku"))
    clock.advance(hours=1)
    _move(gw, weekend, (Status.OPEN, rasveta), (Status.ASSIGNED, Change()))
    clock.now = datetime(2026, 10, 12, 8, 0, tzinfo=UTC)  # Monday 10:00: the weekend does not count
    _move(gw, weekend, (Status.RESOLVED, Change(note="Popravljeno.")))
    clock.now = datetime(2026, 10, 31, 22, 30, tzinfo=UTC)  # Saturday 23:30 in Belgrade: still October
    new("last_minute", sms(gw, "+381641000005", "Ne radi svetiljka na trgu"))
    clock.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    new("november", sms(gw, "+381641000006", "Ne radi svetiljka u novembru"))
    with session_scope(gw.engine, write=True) as s:
        gw.tickets.sweep_overdue(s)
    del waiting
    return refs


def direct_counts(gw: Any, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Per utility code ('' = none yet): the report's figures, counted straight from the tables."""
    cal = gw.calendar
    out: dict[str, dict[str, int]] = {}
    with session_scope(gw.engine) as s:
        rows = s.exec(
            select(Ticket).where(
                Ticket.created_at >= start, Ticket.created_at < end, Ticket.status != "discarded"
            )
        ).all()
        reopened = set(
            s.execute(
                sa.select(TicketEvent.ticket_id).where(
                    TicketEvent.from_status == "resolved", TicketEvent.to_status == "open"
                )
            ).scalars()
        )
        for t in rows:
            c = out.setdefault(
                t.utility or "",
                dict.fromkeys(("received", "validated", "forwarded", "r24", "r48", "overdue", "reopened"), 0),
            )
            c["received"] += 1
            c["validated"] += t.validated_at is not None
            c["forwarded"] += t.status == "forwarded"
            c["overdue"] += t.overdue and t.status in ("open", "assigned", "in_progress", "waiting")
            c["reopened"] += t.id in reopened
            if t.validated_at and t.resolved_at:
                hours = cal.working_time_between(t.validated_at, t.resolved_at) / timedelta(hours=1)
                c["r24"] += hours <= 24
                c["r48"] += hours <= 48
    return out

"""Every transition of the status table: allowed ones apply with their effects, the rest are refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from gateway.tickets import (
    TRANSITIONS,
    Actor,
    Change,
    MissingDetail,
    Status,
    TicketNotFound,
    TransitionRefused,
)
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket, TicketEvent
from tests.core.helpers import sms

OPERATOR = Actor("ana", "operator")
ALL_PAIRS = [(a, b) for a in Status for b in Status]

DETAILS = {
    Status.OPEN: Change(category="javna_rasveta"),
    Status.ASSIGNED: Change(utility="rasveta"),
    Status.RESOLVED: Change(note="zamenjena sijalica"),
    Status.WAITING: Change(note="čekamo tačnu adresu"),
    Status.FORWARDED: Change(forwarded_to="Elektrodistribucija Beograd"),
    Status.DISCARDED: Change(note="šala"),
}


def _ticket_in(gw: Any, status: Status) -> str:
    gw.config.sms.enabled = True
    result = gw.inbox.ingest_sync(sms(gw, "+381641234567", "Ne radi sijalica u ulici"))
    with session_scope(gw.engine, write=True) as s:
        ticket = s.get(Ticket, result.ticket_id)
        assert ticket is not None
        # Test setup only: put the ticket straight into the state under test.
        ticket.status = status.value
        if status not in (Status.RECEIVED, Status.WAITING):
            ticket.category, ticket.utility, ticket.sla_hours = "javna_rasveta", "rasveta", 48
            ticket.validated_at = gw.clock()
            ticket.due_at = gw.clock() + timedelta(days=2)
        s.add(ticket)
    return result.reference


def _other(gw: Any) -> str:
    return gw.inbox.ingest_sync(sms(gw, "+381651111111", "Ne radi sijalica kod pijace")).reference


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_transition_table_is_enforced(gateway: Any, current: Status, target: Status) -> None:
    ref = _ticket_in(gateway, current)
    change = DETAILS.get(target, Change())
    if target == Status.DUPLICATE:
        change = Change(duplicate_of=_other(gateway))
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        if target in TRANSITIONS[current]:
            gateway.tickets.transition(s, ticket, target, OPERATOR, change)
            assert ticket.status == target
        else:
            with pytest.raises(TransitionRefused):
                gateway.tickets.transition(s, ticket, target, OPERATOR, change)
    with session_scope(gateway.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        events = s.exec(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")
        ).all()
        moved = target in TRANSITIONS[current]
        assert ticket.status == (target if moved else current)
        assert len(events) == (2 if moved else 1)


def test_validation_starts_the_clock_and_tells_the_citizen(gateway: Any) -> None:
    ref = _ticket_in(gateway, Status.RECEIVED)
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gateway.tickets.transition(s, ticket, Status.OPEN, OPERATOR, Change(category="vodovod_kvar"))
        assert ticket.validated_at == gateway.clock()
        assert ticket.utility == "vodovod" and ticket.sla_hours == 24
        assert ticket.due_at == gateway.clock() + timedelta(hours=24)
    with session_scope(gateway.engine) as s:
        kinds = [o.kind for o in s.exec(select(OutboxMessage)).all()]
    assert kinds == ["ack", "open"]


@pytest.mark.parametrize("target", [Status.RESOLVED, Status.WAITING, Status.FORWARDED, Status.DISCARDED])
def test_transitions_that_need_a_detail_refuse_without_it(gateway: Any, target: Status) -> None:
    ref = _ticket_in(gateway, Status.OPEN)
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        with pytest.raises(MissingDetail):
            gateway.tickets.transition(s, ticket, target, OPERATOR, Change())


def test_validation_without_any_category_is_refused(gateway: Any) -> None:
    result = gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "zdravo"))
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.get(Ticket, result.ticket_id)
        assert ticket is not None and ticket.suggested_category is None
        with pytest.raises(MissingDetail):
            gateway.tickets.transition(s, ticket, Status.OPEN, OPERATOR)


def test_waiting_pauses_the_deadline(gateway: Any) -> None:
    ref = _ticket_in(gateway, Status.OPEN)
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        due_before = ticket.due_at
        gateway.tickets.transition(s, ticket, Status.WAITING, OPERATOR, Change(note="adresa?"))
    gateway.clock.advance(hours=3)  # Tuesday → still a working day
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gateway.tickets.transition(s, ticket, Status.OPEN, OPERATOR)
        assert ticket.due_at == due_before + timedelta(hours=3)


def test_citizen_not_fixed_reopens_resolved_ticket_and_escalates(gateway: Any) -> None:
    gateway.config.mail.enabled = True
    ref = _ticket_in(gateway, Status.RESOLVED)
    gateway.clock.advance(hours=1)
    gateway.inbox.ingest_sync(sms(gateway, "+381641234567", "НИЈЕ поправљено"))
    with session_scope(gateway.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        assert ticket.status == "open" and ticket.escalation_level == 1
        kinds = [o.kind for o in s.exec(select(OutboxMessage)).all()]
    assert "escalation" in kinds


def test_utility_cannot_touch_another_utilitys_ticket(gateway: Any) -> None:
    ref = _ticket_in(gateway, Status.ASSIGNED)
    with session_scope(gateway.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        with pytest.raises(TicketNotFound):
            gateway.tickets.transition(s, ticket, Status.IN_PROGRESS, Actor("x", "utility", "vodovod"))
        gateway.tickets.transition(s, ticket, Status.IN_PROGRESS, Actor("r", "utility", "rasveta"))


def test_sla_sweep_marks_overdue_once_and_queues_escalation(gateway: Any) -> None:
    gateway.config.mail.enabled = True
    ref = _ticket_in(gateway, Status.OPEN)  # validated, not yet routed: the coordinator hears of it
    gateway.clock.advance(days=3)
    with session_scope(gateway.engine, write=True) as s:
        assert [t.reference for t in gateway.tickets.sweep_overdue(s)] == [ref]
    with session_scope(gateway.engine, write=True) as s:
        assert gateway.tickets.sweep_overdue(s) == []
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        assert ticket.overdue
        esc = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "escalation")).all()
        assert esc and all("+381" not in e.body for e in esc)


def test_event_timestamps_are_timezone_aware(gateway: Any) -> None:
    _ticket_in(gateway, Status.RECEIVED)
    with session_scope(gateway.engine) as s:
        event = s.exec(select(TicketEvent)).first()
        assert event is not None and isinstance(event.at, datetime) and event.at.tzinfo is not None

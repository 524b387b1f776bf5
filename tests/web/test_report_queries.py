"""The report's SQL aggregation against a direct count: a month of 300 tickets at random moments
(weekends, nights, Orthodox holidays, whole-hour SLA edges), every figure per utility, per category
and in total, incl. the working-time 24/48 h and the medians the calendar gives ticket by ticket."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gateway.reports import build_report, parse_period, ticket_lines
from storage.db import session_scope
from storage.models import Ticket, TicketEvent

# Belgrade's April 2026: Orthodox Easter (10–13 April) inside
APRIL = (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), datetime(2026, 4, 30, 22, 0, tzinfo=UTC))
FIELDS = ("received", "validated", "forwarded", "r24", "r48", "overdue", "reopened", "med_val", "med_res")


def seed_april(gw: Any, n: int = 300) -> None:
    rng = random.Random(1415)
    codes = [(c.code, c.utility) for c in gw.config.categories][:4]
    start = APRIL[0] - timedelta(days=2)  # some before the month, some after: left out
    rows = []
    for i in range(n):
        created = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 34))
        fate = rng.random()
        validated = created + timedelta(minutes=rng.randrange(5, 60 * 30)) if fate > 0.1 else None
        later = validated + timedelta(minutes=rng.randrange(30, 60 * 24 * 6)) if validated else None
        if validated and fate > 0.8:  # whole working hours after validation: the ≤ 24 h / ≤ 48 h edges
            later = gw.calendar.add_working_hours(validated, rng.choice((24, 48)))
        resolved = later if fate > 0.3 else None
        status = "resolved" if resolved else "forwarded" if fate < 0.1 else "assigned"
        status = "discarded" if fate < 0.05 else status
        status = "received" if validated is None and status == "assigned" else status
        category, utility = codes[i % len(codes)] if validated else (None, None)
        rows.append(
            {"reference": f"S48-2026-{i + 1:06d}", "public_token": f"t{i}", "channel": "sms",
             "status": status,
             "category": category, "utility": utility, "created_at": created, "updated_at": created,
             "validated_at": validated, "resolved_at": resolved, "overdue": fate < 0.5,
             "description": "", "work_order_text": "", "script": "latin", "after_hours": False,
             "escalation_level": 0, "needs_callback": False}
        )  # fmt: skip
    with session_scope(gw.engine, write=True) as s:
        s.execute(sa.insert(Ticket), rows)
        ids = list(s.execute(sa.select(Ticket.id).order_by(Ticket.id)).scalars())  # type: ignore[arg-type]
        s.execute(
            sa.insert(TicketEvent),
            [
                {"ticket_id": t, "at": APRIL[1], "actor": "test", "kind": "status",
                 "from_status": "resolved", "to_status": "open"}
                for t in ids[::7]
            ],
        )  # fmt: skip


def direct(gw: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(grouping, code) → the figures, from every row and the calendar, one ticket at a time."""
    cal = gw.calendar
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with session_scope(gw.engine) as s:
        tickets = s.execute(sa.select(Ticket)).scalars().all()
        reopened = set(
            s.execute(sa.select(TicketEvent.ticket_id).where(TicketEvent.to_status == "open")).scalars()
        )
        for t in tickets:
            if not (APRIL[0] <= t.created_at < APRIL[1]) or t.status == "discarded":
                continue
            for key in (("utility", t.utility or ""), ("category", t.category or ""), ("total", "")):
                c = out.setdefault(key, {f: 0 for f in FIELDS} | {"val": [], "res": []})
                c["received"] += 1
                c["forwarded"] += t.status == "forwarded"
                c["overdue"] += t.overdue and t.status in ("open", "assigned", "in_progress", "waiting")
                c["reopened"] += t.id in reopened
                if t.validated_at:
                    c["validated"] += 1
                    c["val"].append(
                        cal.working_time_between(t.created_at, t.validated_at) / timedelta(hours=1)
                    )
                if t.validated_at and t.resolved_at:
                    hours = cal.working_time_between(t.validated_at, t.resolved_at) / timedelta(hours=1)
                    c["res"].append(hours)
                    c["r24"] += hours <= 24
                    c["r48"] += hours <= 48
    for c in out.values():
        val, res = c.pop("val"), c.pop("res")
        c["med_val"] = round(statistics.median(val), 1) if val else None
        c["med_res"] = round(statistics.median(res), 1) if res else None
    return out


def test_the_sql_report_equals_a_direct_count_of_a_seeded_month(gw: Any) -> None:
    seed_april(gw)
    with session_scope(gw.engine) as s:
        report = build_report(s, gw, parse_period(date(2026, 5, 2), month="2026-04"))
    got: dict[tuple[str, str], dict[str, Any]] = {}
    groups = (("utility", report.by_utility), ("category", report.by_category), ("total", [report.total]))
    for grouping, rows in groups:
        for r in rows:
            figures = (r.received, r.validated, r.forwarded, r.resolved_24h, r.resolved_48h, r.overdue_now,
                       r.reopened, r.median_validation_h, r.median_resolution_h)  # fmt: skip
            got[(grouping, r.code)] = dict(zip(FIELDS, figures, strict=True))
    expected = direct(gw)
    assert got == expected
    assert 200 < report.total.received < 300 and report.total.resolved_48h > report.total.resolved_24h > 0


def test_the_streamed_ticket_lines_carry_the_same_working_hours(gw: Any) -> None:
    seed_april(gw, 80)
    cal = gw.calendar
    with session_scope(gw.engine) as s:
        lines = list(ticket_lines(s, gw, parse_period(date(2026, 5, 2), month="2026-04")))
    assert lines and [t.created_at for t in lines] == sorted(t.created_at for t in lines)
    for t in lines:
        if t.validated_at is None:
            assert t.to_validation_h is None
            continue
        want = cal.working_time_between(t.created_at, t.validated_at) / timedelta(hours=1)
        assert abs((t.to_validation_h or 0) - want) < 1e-6, t.reference
        if t.resolved_at is not None:
            want = cal.working_time_between(t.validated_at, t.resolved_at) / timedelta(hours=1)
            assert abs((t.to_resolution_h or 0) - want) < 1e-6, t.reference
    assert datetime(2026, 3, 31, 22, 0, tzinfo=UTC) <= lines[0].created_at

"""Managers' reports: a period (month, quarter, custom) and, per utility and per category, what came in
and how fast it was handled, in working time as the SLA counts it. Read-only; CSV for both tables.

Every figure is about the tickets *received* in the period (discarded ones left out), so a month's
numbers never change meaning when later months are added.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col

from gateway.report_queries import EpochWorkingClock, counts, moments, ticket_rows
from gateway.tickets import CLOCK_RUNNING, Status
from storage.models import Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.runtime import Gateway

RUNNING = [s.value for s in CLOCK_RUNNING] + [Status.WAITING.value]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    first: date  # local dates, both included
    last: date
    label: str
    kind: str  # month | quarter | custom

    def bounds(self, tz: object) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first, time(0), tz)  # type: ignore[arg-type]
        end = datetime.combine(self.last + timedelta(days=1), time(0), tz)  # type: ignore[arg-type]
        return start, end


def month_period(year: int, month: int) -> Period:
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return Period(first, nxt - timedelta(days=1), f"{year}-{month:02d}", "month")


def quarter_period(year: int, quarter: int) -> Period:
    first = date(year, 3 * quarter - 2, 1)
    last = month_period(year, 3 * quarter).last
    return Period(first, last, f"{year}-Q{quarter}", "quarter")


def parse_period(today: date, month: str = "", quarter: str = "", start: str = "", end: str = "") -> Period:
    """The period the query names; the previous full month when it names none (or nonsense)."""
    if m := _MONTH.match(month.strip()):
        year, mon = int(m.group(1)), int(m.group(2))
        if 2000 <= year <= 2100 and 1 <= mon <= 12:
            return month_period(year, mon)
    if (q := _QUARTER.match(quarter.strip())) and 2000 <= int(q.group(1)) <= 2100:
        return quarter_period(int(q.group(1)), int(q.group(2)))
    try:
        first, last = date.fromisoformat(start.strip()), date.fromisoformat(end.strip())
    except ValueError:
        first = last = None  # type: ignore[assignment]
    if first is not None and last is not None and first <= last and (last - first).days <= 366:
        return Period(first, last, f"{first.isoformat()} – {last.isoformat()}", "custom")
    previous = today.replace(day=1) - timedelta(days=1)
    return month_period(previous.year, previous.month)


@dataclass
class Row:
    code: str
    received: int = 0
    validated: int = 0
    forwarded: int = 0
    resolved_24h: int = 0
    resolved_48h: int = 0
    overdue_now: int = 0
    reopened: int = 0
    to_validation_h: list[float] = field(default_factory=list)
    to_resolution_h: list[float] = field(default_factory=list)

    @property
    def median_validation_h(self) -> float | None:
        return round(statistics.median(self.to_validation_h), 1) if self.to_validation_h else None

    @property
    def median_resolution_h(self) -> float | None:
        return round(statistics.median(self.to_resolution_h), 1) if self.to_resolution_h else None


@dataclass
class Report:
    period: Period
    by_utility: list[Row]
    by_category: list[Row]
    total: Row


class TicketLine(NamedTuple):  # a tuple: built once per ticket of a month, so it must be cheap
    reference: str
    channel: str
    status: str
    category: str
    utility: str
    created_at: datetime
    validated_at: datetime | None
    resolved_at: datetime | None
    due_at: datetime | None
    overdue: bool
    to_validation_h: float | None
    to_resolution_h: float | None
    reopened: bool
    location: str


class WorkingClock:
    """Working hours between two moments, as the SLA counts them (WorkingCalendar's windows), with
    each local day's windows computed once: a month of tickets costs one calendar lookup per day."""

    def __init__(self, gw: Gateway) -> None:
        self._clock = EpochWorkingClock(gw.calendar)

    def hours(self, a: datetime | None, b: datetime | None) -> float | None:
        if a is None or b is None:
            return None
        self._clock.cover(a.timestamp(), b.timestamp())
        return self._clock.hours(a.timestamp(), b.timestamp())


def ticket_lines(session: Session, gw: Gateway, period: Period) -> Iterator[TicketLine]:
    """The period's tickets oldest first, streamed (the tickets CSV of a month)."""
    start, end = period.bounds(gw.calendar.tz)
    clock = EpochWorkingClock(gw.calendar)
    # resolution can come months after the period: the windows up to now are known once
    clock.cover(start.timestamp(), max(end, gw.clock()).timestamp())
    for r in ticket_rows(session, start, end):
        if r.resolved_s is not None:
            clock.cover(r.created_s, r.resolved_s)
        yield TicketLine(
            reference=str(r.reference),
            channel=str(r.channel),
            status=str(r.status),
            category=str(r.category or ""),
            utility=str(r.utility or ""),
            created_at=r.created_at,
            validated_at=r.validated_at,
            resolved_at=r.resolved_at,
            due_at=r.due_at,
            overdue=bool(r.overdue) and r.status in RUNNING,
            to_validation_h=clock.hours(r.created_s, r.validated_s),
            to_resolution_h=clock.hours(r.validated_s, r.resolved_s),
            reopened=bool(r.reopened),
            location=str(r.location_text or ""),
        )


def build_report(session: Session, gw: Gateway, period: Period) -> Report:
    """Counts from one GROUP BY; working times from the validated tickets' three moments."""
    start, end = period.bounds(gw.calendar.tz)
    by_utility: dict[str, Row] = {}
    by_category: dict[str, Row] = {}
    total = Row("")
    for c in counts(session, start, end):
        for row in (_at(by_utility, c.utility), _at(by_category, c.category), total):
            row.received += c.received
            row.validated += c.validated
            row.forwarded += c.forwarded
            row.overdue_now += c.overdue_now
            row.reopened += c.reopened
    found = moments(session, start, end)
    clock = EpochWorkingClock(gw.calendar)
    if found:
        clock.cover(min(m.created for m in found), max(m.resolved or m.validated for m in found))
    # Per (utility, category) first, then merged: one list append per ticket, not three.
    pairs: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    upto = clock.upto
    for utility, category, created, validated, resolved in found:
        lists = pairs.get((utility, category))
        if lists is None:
            lists = pairs[(utility, category)] = ([], [])
        at_validation = upto(validated)
        lists[0].append(max(0.0, (at_validation - upto(created)) / 3600))
        if resolved is not None:
            lists[1].append(max(0.0, (upto(resolved) - at_validation) / 3600))
    for (utility, category), (to_validation, to_resolution) in pairs.items():
        within_24 = sum(h <= 24 for h in to_resolution)
        within_48 = sum(h <= 48 for h in to_resolution)
        # a ticket added between the two queries has no counts row yet: it gets one
        for row in (_at(by_utility, utility), _at(by_category, category), total):
            row.to_validation_h.extend(to_validation)
            row.to_resolution_h.extend(to_resolution)
            row.resolved_24h += within_24
            row.resolved_48h += within_48
    return Report(period, _ordered(by_utility.values()), _ordered(by_category.values()), total)


def _at(rows: dict[str, Row], code: str) -> Row:
    row = rows.get(code)
    if row is None:
        row = rows[code] = Row(code)
    return row


def _ordered(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (-r.received, r.code))


TABLE_COLUMNS = [
    "grouping", "code", "name", "received", "validated", "forwarded", "resolved_within_24h",
    "resolved_within_48h", "overdue_now", "median_hours_to_validation", "median_hours_to_resolution",
    "reopened",
]  # fmt: skip


def table_csv(report: Report, name_of: Callable[[str, str], str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TABLE_COLUMNS)
    groups = [("utility", report.by_utility), ("category", report.by_category), ("total", [report.total])]
    for grouping, rows in groups:
        for r in rows:
            writer.writerow(
                [grouping, r.code, name_of(grouping, r.code), r.received, r.validated, r.forwarded,
                 r.resolved_24h, r.resolved_48h, r.overdue_now, _num(r.median_validation_h),
                 _num(r.median_resolution_h), r.reopened]
            )  # fmt: skip
    return out.getvalue()


def tickets_csv(lines: Iterable[TicketLine], tz: object, *, with_location: bool) -> Iterator[str]:
    """The period's tickets in chunks of rows; the location column only for roles that may see what
    reporters wrote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    head = ["reference", "channel", "status", "category", "utility", "received", "validated", "resolved",
            "due", "overdue_now", "hours_to_validation", "hours_to_resolution", "reopened"]  # fmt: skip
    writer.writerow([*head, "location"] if with_location else head)

    def when(at: datetime | None) -> str:
        # isoformat is C-fast; its first 16 characters are the local 'YYYY-MM-DD HH:MM'
        return at.astimezone(tz).isoformat(" ", "minutes")[:16] if at else ""  # type: ignore[arg-type]

    for n, t in enumerate(lines, 1):
        row = [t.reference, t.channel, t.status, t.category, t.utility, when(t.created_at),
               when(t.validated_at), when(t.resolved_at), when(t.due_at), int(t.overdue),
               _num(t.to_validation_h), _num(t.to_resolution_h), int(t.reopened)]  # fmt: skip
        writer.writerow([*row, t.location] if with_location else row)
        if n % 1000 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


class ReportCache:
    """Recent reports by period, valid while no ticket was added and no ticket event written (every
    change of a ticket writes one) and for at most `max_age`: repeated views of a month are cheap."""

    def __init__(self, clock: Callable[[], datetime], max_age: timedelta = timedelta(minutes=5)) -> None:
        self.clock = clock
        self.max_age = max_age
        self._entries: dict[str, tuple[tuple[object, ...], datetime, Report]] = {}

    def get(self, session: Session, gw: Gateway, period: Period) -> Report:
        fingerprint = tuple(
            session.execute(
                sa.select(
                    sa.func.max(col(Ticket.id)), sa.select(sa.func.max(col(TicketEvent.id))).scalar_subquery()
                )
            ).one()
        )
        key = f"{period.kind}:{period.first}:{period.last}"
        now = self.clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] == fingerprint and now - hit[1] < self.max_age:
            return hit[2]
        report = build_report(session, gw, period)
        if len(self._entries) >= 32:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (fingerprint, now, report)
        return report


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"

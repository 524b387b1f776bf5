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
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col

from gateway.tickets import CLOCK_RUNNING, Status
from storage.models import Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.app import Gateway

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


@dataclass(frozen=True)
class TicketLine:
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
    """Working hours between two moments, as the SLA counts them, with each day's count cached: a
    month of tickets needs one calendar walk per timestamp's day, not one per ticket."""

    def __init__(self, gw: Gateway) -> None:
        self.cal = gw.calendar
        self.tz = gw.calendar.tz
        self._before: dict[date, float] = {}  # working seconds from the origin to each local midnight
        self._origin: date | None = None

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz)

    def _upto(self, at: datetime) -> float:
        day = at.astimezone(self.tz).date()
        if self._origin is None:
            self._origin = day - timedelta(days=1)
            self._before[self._origin] = 0.0
        if day < self._origin:
            return -self.cal.working_time_between(at, self._midnight(self._origin)).total_seconds()
        if day not in self._before:
            known = max(d for d in self._before if d <= day)
            running = self._before[known]
            cursor = known
            while cursor < day:
                nxt = cursor + timedelta(days=1)
                running += self.cal.working_time_between(
                    self._midnight(cursor), self._midnight(nxt)
                ).total_seconds()
                self._before[nxt] = running
                cursor = nxt
        return self._before[day] + self.cal.working_time_between(self._midnight(day), at).total_seconds()

    def hours(self, a: datetime | None, b: datetime | None) -> float | None:
        if a is None or b is None:
            return None
        return max(0.0, (self._upto(b) - self._upto(a)) / 3600)


def _tickets(session: Session, start: datetime, end: datetime) -> list[sa.Row[tuple[object, ...]]]:
    query = (
        sa.select(
            col(Ticket.id),
            col(Ticket.reference),
            col(Ticket.channel),
            col(Ticket.status),
            col(Ticket.category),
            col(Ticket.utility),
            col(Ticket.created_at),
            col(Ticket.validated_at),
            col(Ticket.resolved_at),
            col(Ticket.due_at),
            col(Ticket.overdue),
            col(Ticket.location_text),
        )
        .where(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
        .where(col(Ticket.status) != Status.DISCARDED.value)
        .order_by(col(Ticket.created_at), col(Ticket.id))
    )
    return list(session.execute(query).all())


def _reopened(session: Session, start: datetime, end: datetime) -> set[int]:
    query = (
        sa.select(col(TicketEvent.ticket_id))
        .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
        .where(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
        .where(col(TicketEvent.from_status) == Status.RESOLVED.value)
        .where(col(TicketEvent.to_status) == Status.OPEN.value)
        .distinct()
    )
    return {int(i) for i in session.execute(query).scalars()}


def ticket_lines(session: Session, gw: Gateway, period: Period) -> list[TicketLine]:
    start, end = period.bounds(gw.calendar.tz)
    clock = WorkingClock(gw)
    reopened = _reopened(session, start, end)
    lines = []
    for r in _tickets(session, start, end):
        validated, resolved = r.validated_at, r.resolved_at
        lines.append(
            TicketLine(
                reference=str(r.reference),
                channel=str(r.channel),
                status=str(r.status),
                category=str(r.category or ""),
                utility=str(r.utility or ""),
                created_at=r.created_at,
                validated_at=validated,
                resolved_at=resolved,
                due_at=r.due_at,
                overdue=bool(r.overdue) and r.status in RUNNING,
                to_validation_h=clock.hours(r.created_at, validated),
                to_resolution_h=clock.hours(validated, resolved),
                reopened=int(r.id) in reopened,
                location=str(r.location_text or ""),
            )
        )
    return lines


def build_report(session: Session, gw: Gateway, period: Period) -> Report:
    lines = ticket_lines(session, gw, period)
    by_utility: dict[str, Row] = defaultdict(lambda: Row(""))
    by_category: dict[str, Row] = defaultdict(lambda: Row(""))
    total = Row("")
    for line in lines:
        for row in (by_utility[line.utility], by_category[line.category], total):
            _count(row, line)
    for table in (by_utility, by_category):
        for code, row in table.items():
            row.code = code
    return Report(period, _ordered(by_utility.values()), _ordered(by_category.values()), total)


def _count(row: Row, line: TicketLine) -> None:
    row.received += 1
    row.validated += line.validated_at is not None
    row.forwarded += line.status == Status.FORWARDED.value
    row.overdue_now += line.overdue
    row.reopened += line.reopened
    if line.to_validation_h is not None:
        row.to_validation_h.append(line.to_validation_h)
    if line.to_resolution_h is not None:
        row.to_resolution_h.append(line.to_resolution_h)
        row.resolved_24h += line.to_resolution_h <= 24
        row.resolved_48h += line.to_resolution_h <= 48


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


def tickets_csv(lines: list[TicketLine], tz: object, *, with_location: bool) -> str:
    """The period's tickets; the location column only for roles that may see what reporters wrote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    head = ["reference", "channel", "status", "category", "utility", "received", "validated", "resolved",
            "due", "overdue_now", "hours_to_validation", "hours_to_resolution", "reopened"]  # fmt: skip
    writer.writerow([*head, "location"] if with_location else head)

    def when(at: datetime | None) -> str:
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else ""  # type: ignore[arg-type]

    for t in lines:
        row = [t.reference, t.channel, t.status, t.category, t.utility, when(t.created_at),
               when(t.validated_at), when(t.resolved_at), when(t.due_at), int(t.overdue),
               _num(t.to_validation_h), _num(t.to_resolution_h), int(t.reopened)]  # fmt: skip
        writer.writerow([*row, t.location] if with_location else row)
    return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"

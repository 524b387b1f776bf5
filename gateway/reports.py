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
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col

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
    each local day's windows and running total computed once: a month of tickets costs one calendar
    lookup per day, not one walk per ticket."""

    def __init__(self, gw: Gateway) -> None:
        self.cal = gw.calendar
        self.tz = gw.calendar.tz
        # local day → (working seconds before that day since the origin, [(start, end) epoch seconds])
        self._days: dict[date, tuple[float, list[tuple[float, float]]]] = {}
        self._origin: date | None = None
        self._last: date | None = None

    def _windows(self, day: date) -> list[tuple[float, float]]:
        return [(a.timestamp(), b.timestamp()) for a, b in self.cal.counting_windows(day)]

    def _day(self, day: date) -> tuple[float, list[tuple[float, float]]]:
        known = self._days.get(day)
        if known is not None:
            return known
        if self._origin is None or self._last is None:
            self._origin = self._last = day
            self._days[day] = (0.0, self._windows(day))
            return self._days[day]
        if day < self._origin:  # earlier than anything seen: extend backwards
            cursor = self._origin
            while cursor > day:
                before, _ = self._days[cursor]
                prev = cursor - timedelta(days=1)
                windows = self._windows(prev)
                self._days[prev] = (before - sum(b - a for a, b in windows), windows)
                cursor = prev
            self._origin = day
            return self._days[day]
        cursor = self._last
        while cursor < day:
            before, windows = self._days[cursor]
            nxt = cursor + timedelta(days=1)
            self._days[nxt] = (before + sum(b - a for a, b in windows), self._windows(nxt))
            cursor = nxt
        self._last = day
        return self._days[day]

    def _upto(self, at: datetime) -> float:
        before, windows = self._day(at.astimezone(self.tz).date())
        t = at.timestamp()
        return before + sum(min(t, b) - a for a, b in windows if t > a)

    def hours(self, a: datetime | None, b: datetime | None) -> float | None:
        if a is None or b is None:
            return None
        return max(0.0, (self._upto(b) - self._upto(a)) / 3600)


def _tickets(session: Session, start: datetime, end: datetime) -> list[Any]:
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
    # Core, not the ORM: a month is thousands of rows and they need no identity map.
    return list(session.connection().execute(query).all())


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
    by_utility: dict[str, list[TicketLine]] = defaultdict(list)
    by_category: dict[str, list[TicketLine]] = defaultdict(list)
    for line in lines:
        by_utility[line.utility].append(line)
        by_category[line.category].append(line)
    return Report(
        period,
        _ordered(_row(code, group) for code, group in by_utility.items()),
        _ordered(_row(code, group) for code, group in by_category.items()),
        _row("", lines),
    )


def _row(code: str, lines: list[TicketLine]) -> Row:
    resolution = [t.to_resolution_h for t in lines if t.to_resolution_h is not None]
    return Row(
        code,
        received=len(lines),
        validated=sum(t.validated_at is not None for t in lines),
        forwarded=sum(t.status == Status.FORWARDED.value for t in lines),
        resolved_24h=sum(h <= 24 for h in resolution),
        resolved_48h=sum(h <= 48 for h in resolution),
        overdue_now=sum(t.overdue for t in lines),
        reopened=sum(t.reopened for t in lines),
        to_validation_h=[t.to_validation_h for t in lines if t.to_validation_h is not None],
        to_resolution_h=resolution,
    )


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

"""The managers' report's queries: counts per utility and category aggregated in SQL, and the three
moments working time is measured between as epoch seconds (no datetime objects for a month's rows)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col

from gateway.calendar import WorkingCalendar
from gateway.tickets import CLOCK_RUNNING, Status
from storage.models import Ticket, TicketEvent

RUNNING = [s.value for s in CLOCK_RUNNING] + [Status.WAITING.value]


class Counts(NamedTuple):
    utility: str
    category: str
    received: int
    validated: int
    forwarded: int
    overdue_now: int
    reopened: int


def epoch(dialect: str, column: Any) -> Any:
    """Seconds since 1970 of a UTC timestamp column: exact on PostgreSQL; to the millisecond on
    SQLite, whose julianday() counts whole milliseconds (4× cheaper than parsing the text)."""
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", column), sa.Float)
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC); 2440587.5 is 1970-01-01 as a Julian day
    return sa.func.round((sa.func.julianday(column) - 2440587.5) * 86_400_000) / 1000.0


def _in_period(start: datetime, end: datetime) -> list[Any]:
    return [
        col(Ticket.created_at) >= start,
        col(Ticket.created_at) < end,
        col(Ticket.status) != Status.DISCARDED.value,
    ]


def reopened_clause() -> Any:
    return sa.exists().where(
        col(TicketEvent.ticket_id) == col(Ticket.id),
        col(TicketEvent.from_status) == Status.RESOLVED.value,
        col(TicketEvent.to_status) == Status.OPEN.value,
    )


def counts(session: Session, start: datetime, end: datetime) -> list[Counts]:
    """Per (utility, category): the report's counts, one GROUP BY over the period's rows."""

    def share(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    utility = sa.func.coalesce(col(Ticket.utility), "")
    category = sa.func.coalesce(col(Ticket.category), "")
    overdue = sa.and_(col(Ticket.overdue) == sa.true(), col(Ticket.status).in_(RUNNING))
    query = (
        sa.select(
            utility,
            category,
            sa.func.count(),
            share(col(Ticket.validated_at).is_not(None)),
            share(col(Ticket.status) == Status.FORWARDED.value),
            share(overdue),
            share(reopened_clause()),
        )
        .where(*_in_period(start, end))
        .group_by(utility, category)
    )
    return [Counts(str(u), str(c), *(int(v) for v in rest)) for u, c, *rest in session.execute(query)]


def moments(session: Session, start: datetime, end: datetime) -> list[Any]:
    """Rows of (utility, category, created, validated, resolved), the moments in epoch seconds, of
    the period's validated tickets; plain rows: a month is thousands of them."""
    dialect = session.get_bind().dialect.name
    query = sa.select(
        sa.func.coalesce(col(Ticket.utility), "").label("utility"),
        sa.func.coalesce(col(Ticket.category), "").label("category"),
        epoch(dialect, col(Ticket.created_at)).label("created"),
        epoch(dialect, col(Ticket.validated_at)).label("validated"),
        epoch(dialect, col(Ticket.resolved_at)).label("resolved"),
    ).where(*_in_period(start, end), col(Ticket.validated_at).is_not(None))
    return list(session.connection().execute(query).all())


class EpochWorkingClock:
    """Working seconds up to a moment, as the SLA counts them (WorkingCalendar's windows): each
    local day's windows are fetched once, then every moment is one binary search."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.cal = calendar
        self.tz = calendar.tz
        self._first: date | None = None
        self._last: date | None = None
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._before: list[float] = []  # working seconds in the windows before this one
        self._span = (float("inf"), float("-inf"))  # the moments asked for so far

    def cover(self, lowest: float, highest: float) -> None:
        """Know every window between two moments (extends what is known)."""
        if self._span[0] <= lowest and highest <= self._span[1]:
            return
        self._span = (min(lowest, self._span[0]), max(highest, self._span[1]))
        first = datetime.fromtimestamp(lowest, UTC).astimezone(self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(highest, UTC).astimezone(self.tz).date() + timedelta(days=1)
        if self._first is not None and self._last is not None:
            if first >= self._first and last <= self._last:
                return
            first, last = min(first, self._first), max(last, self._last)
        self._first, self._last = first, last
        self._starts, self._ends, self._before = [], [], []
        total, day = 0.0, first
        while day <= last:
            for a, b in self.cal.counting_windows(day):
                self._starts.append(a.timestamp())
                self._ends.append(b.timestamp())
                self._before.append(total)
                total += b.timestamp() - a.timestamp()
            day += timedelta(days=1)

    def upto(self, t: float) -> float:
        k = bisect_right(self._starts, t) - 1
        if k < 0:
            return 0.0
        end = self._ends[k]
        return self._before[k] + (t if t < end else end) - self._starts[k]  # min() costs a call

    def hours(self, a: float | None, b: float | None) -> float | None:
        if a is None or b is None:
            return None
        return max(0.0, (self.upto(b) - self.upto(a)) / 3600)


def ticket_rows(session: Session, start: datetime, end: datetime) -> Iterator[Any]:
    """The period's tickets oldest first, for the tickets CSV, streamed from the cursor."""
    dialect = session.get_bind().dialect.name
    query = (
        sa.select(
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
            epoch(dialect, col(Ticket.created_at)).label("created_s"),
            epoch(dialect, col(Ticket.validated_at)).label("validated_s"),
            epoch(dialect, col(Ticket.resolved_at)).label("resolved_s"),
            reopened_clause().label("reopened"),
        )
        .where(*_in_period(start, end))
        .order_by(col(Ticket.created_at), col(Ticket.id))
    )
    yield from session.connection().execution_options(yield_per=2000).execute(query)

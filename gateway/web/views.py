"""Read models only the web UI needs: the operators' inbox (unvalidated first) and the dashboard
figures (open/overdue, response and resolution times against the targets, volumes, health)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from channels.clock import utc_now
from gateway.queues import apply_queue, queue_may_hold
from gateway.search import apply_search
from gateway.tickets import CLOCK_RUNNING, Status
from storage.models import OutboxMessage, Ticket

if TYPE_CHECKING:
    from gateway.runtime import Gateway

RUNNING = frozenset(s.value for s in CLOCK_RUNNING)
RESPONSE_TARGET_HOURS = 24  # operators validate within a working day; the SLA then runs 24/48 h
INBOX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class InboxFilter:
    channel: str | None = None
    status: str | None = None
    text: str | None = None
    region: str = "RS"  # how national phone numbers typed into the search are read
    queue: str | None = None  # overdue | today | waiting | callback (gateway/queues.py)


def inbox(
    session: Session,
    f: InboxFilter,
    *,
    limit: int = INBOX_LIMIT,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> list[dict[str, Any]]:
    now = now or utc_now()
    query = select(Ticket)
    if f.channel:
        query = query.where(Ticket.channel == f.channel)
    if f.status:
        query = query.where(Ticket.status == f.status)
    if f.text:
        query = apply_search(query, session, f.text, f.region)
    if f.queue:
        query = apply_queue(query, f.queue, now, tz or ZoneInfo("Europe/Belgrade"))
    # Unvalidated first, each part newest first: two index walks that stop at `limit`, instead of
    # sorting every ticket by a computed key (a full scan at 100 000 tickets).
    newest = (col(Ticket.created_at).desc(), col(Ticket.id).desc())
    received = Status.RECEIVED.value
    # A filter no draft can pass skips the first walk: a planner that does not see the
    # contradiction (PostgreSQL) would otherwise walk every ticket to find none (121 ms at 100 000).
    drafts = f.status in (None, received) and queue_may_hold(f.queue, received)
    rows = (
        list(session.exec(query.where(Ticket.status == received).order_by(*newest).limit(limit)).all())
        if drafts
        else []
    )
    if len(rows) < limit and f.status != received:
        rest = query.where(Ticket.status != received).order_by(*newest).limit(limit - len(rows))
        rows += session.exec(rest).all()
    return [
        {
            "reference": t.reference,
            "channel": t.channel,
            "status": t.status,
            "subject": t.subject,
            "excerpt": (t.description or "")[:160],
            "created_at": t.created_at,
            "category": t.category or t.suggested_category,
            "overdue": t.overdue or (t.due_at is not None and t.due_at < now and t.status in RUNNING),
            "due_at": t.due_at,
            "needs_callback": t.needs_callback,
        }
        for t in rows
    ]


@dataclass
class Dashboard:
    open_by_utility: list[tuple[str, int, int]] = field(default_factory=list)  # code, open, overdue
    open_by_category: list[tuple[str, int, int]] = field(default_factory=list)
    response_median_h: float | None = None
    response_within: float | None = None  # share within RESPONSE_TARGET_HOURS
    resolution_median_h: float | None = None
    resolution_within: float | None = None  # share within each ticket's own 24/48 h
    days: list[str] = field(default_factory=list)
    volumes: dict[str, list[int]] = field(default_factory=dict)  # channel → count per day
    max_volume: int = 1
    health: list[dict[str, Any]] = field(default_factory=list)
    outbox_backlog: int = 0


def dashboard(session: Session, gw: Gateway, *, days: int = 14) -> Dashboard:
    d = Dashboard()
    running = [s.value for s in CLOCK_RUNNING] + [Status.WAITING.value]
    for attr, target in ((Ticket.utility, "open_by_utility"), (Ticket.category, "open_by_category")):
        rows = session.execute(
            sa.select(
                col(attr),
                func.count(),
                func.sum(sa.case((col(Ticket.overdue) == sa.true(), 1), else_=0)),
            )
            .where(col(Ticket.status).in_(running))
            .group_by(attr)
            .order_by(func.count().desc())
        ).all()
        setattr(d, target, [(str(code or "—"), int(n), int(late or 0)) for code, n, late in rows])

    now = gw.clock()
    since = now - timedelta(days=30)
    cal = gw.calendar
    measured = session.exec(
        select(Ticket).where(col(Ticket.validated_at) != None, col(Ticket.validated_at) >= since)  # noqa: E711
    ).all()
    response = [
        cal.working_time_between(t.created_at, t.validated_at) / timedelta(hours=1)
        for t in measured
        if t.validated_at
    ]
    if response:
        d.response_median_h = statistics.median(response)
        d.response_within = sum(h <= RESPONSE_TARGET_HOURS for h in response) / len(response)
    resolution = [
        (cal.working_time_between(t.validated_at, t.resolved_at) / timedelta(hours=1), t.sla_hours or 48)
        for t in measured
        if t.validated_at and t.resolved_at
    ]
    if resolution:
        d.resolution_median_h = statistics.median(h for h, _ in resolution)
        d.resolution_within = sum(h <= target for h, target in resolution) / len(resolution)

    local_today = now.astimezone(cal.tz).date()
    day_list = [local_today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    d.days = [day.strftime("%d.%m.") for day in day_list]
    start = datetime.combine(day_list[0], datetime.min.time(), cal.tz)
    counts: Counter[tuple[str, int]] = Counter()
    index = {day: i for i, day in enumerate(day_list)}
    for channel, created in session.execute(
        sa.select(col(Ticket.channel), col(Ticket.created_at)).where(col(Ticket.created_at) >= start)
    ).all():
        i = index.get(created.astimezone(cal.tz).date())
        if i is not None:
            counts[(channel, i)] += 1
    volumes: dict[str, list[int]] = defaultdict(lambda: [0] * len(day_list))
    for (channel, i), n in counts.items():
        volumes[channel][i] = n
    d.volumes = dict(sorted(volumes.items()))
    d.max_volume = max([1, *counts.values()])

    if gw.supervisor is not None:
        for st in gw.supervisor.statuses():
            d.health.append(
                {
                    "name": st.name,
                    "state": st.state.value,
                    "detail": st.detail,
                    "since": st.since,
                    "metrics": dict(st.metrics),
                }
            )
    if gw.transcription is not None:
        d.health.append({"name": "transcription", "metrics": {}, **gw.transcription.health()})
    d.outbox_backlog = session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.state).in_(["queued", "sending"]))
    ).one()
    return d

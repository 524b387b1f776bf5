"""Claiming work rows (jobs, outbox) so that several processes never take the same row:
`FOR UPDATE SKIP LOCKED` on PostgreSQL, a single writer transaction on SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from storage.db import session_scope
from storage.models import Job, OutboxMessage


def claim_jobs(
    engine: sa.Engine,
    kinds: list[str],
    worker: str,
    now: datetime,
    *,
    limit: int = 1,
    lease: timedelta = timedelta(minutes=30),
) -> list[Job]:
    """Take up to `limit` runnable jobs; a job whose worker died is taken again after `lease`."""
    with session_scope(engine, write=True) as s:
        stale = now - lease
        rows = s.exec(
            select(Job)
            .where(col(Job.kind).in_(kinds))
            .where(
                sa.or_(
                    sa.and_(col(Job.state) == "queued", col(Job.run_after) <= now),
                    sa.and_(col(Job.state) == "running", col(Job.locked_at) < stale),
                )
            )
            .order_by(col(Job.run_after), col(Job.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for job in rows:
            job.state, job.locked_by, job.locked_at = "running", worker, now
            job.attempts += 1
            s.add(job)
        return list(rows)


def finish_job(engine: sa.Engine, job_id: int, now: datetime) -> None:
    with session_scope(engine, write=True) as s:
        job = s.get(Job, job_id)
        if job is not None:
            job.state, job.finished_at, job.last_error = "done", now, None
            s.add(job)


def fail_job(engine: sa.Engine, job_id: int, now: datetime, error: str) -> Job | None:
    """Retry with exponential backoff until max_attempts, then leave it failed for staff to see."""
    with session_scope(engine, write=True) as s:
        job = s.get(Job, job_id)
        if job is None:
            return None
        job.last_error = error[:2000]
        job.locked_by = None
        if job.attempts >= job.max_attempts:
            job.state, job.finished_at = "failed", now
        else:
            job.state = "queued"
            job.run_after = now + timedelta(seconds=min(3600, 10 * 2 ** (job.attempts - 1)))
        s.add(job)
        return job


def enqueue_job(session: Any, kind: str, payload: dict[str, Any], now: datetime) -> Job:
    job = Job(kind=kind, payload=payload, run_after=now, created_at=now)
    session.add(job)
    return job


def claim_outbox(
    engine: sa.Engine,
    now: datetime,
    *,
    limit: int = 10,
    channels: list[str] | None = None,
    stale_after: timedelta = timedelta(minutes=10),
) -> list[OutboxMessage]:
    """Take queued messages that are due; a message stuck in `sending` (its sender died) is retried."""
    with session_scope(engine, write=True) as s:
        query = (
            select(OutboxMessage)
            .where(
                sa.or_(
                    sa.and_(
                        col(OutboxMessage.state) == "queued",
                        col(OutboxMessage.next_attempt_at) <= now,
                    ),
                    sa.and_(
                        col(OutboxMessage.state) == "sending",
                        col(OutboxMessage.next_attempt_at) < now - stale_after,
                    ),
                )
            )
            .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if channels is not None:
            query = query.where(col(OutboxMessage.channel).in_(channels))
        rows = s.exec(query).all()
        for row in rows:
            row.state = "sending"
            row.attempts += 1
            row.next_attempt_at = now
            s.add(row)
        return list(rows)


def settle_outbox(
    engine: sa.Engine,
    outbox_id: int,
    now: datetime,
    *,
    sent: bool,
    error: str | None = None,
    permanent: bool = False,
    provider_ref: str | None = None,
    max_attempts: int = 8,
    backoff: Callable[[int], timedelta] = lambda n: timedelta(seconds=min(3600, 30 * 2 ** (n - 1))),
) -> OutboxMessage | None:
    with session_scope(engine, write=True) as s:
        row = s.get(OutboxMessage, outbox_id)
        if row is None:
            return None
        if sent:
            row.state, row.sent_at, row.provider_ref, row.last_error = (
                "sent",
                now,
                provider_ref,
                None,
            )
        elif permanent or row.attempts >= max_attempts:
            row.state, row.last_error = "failed", (error or "")[:2000]
        else:
            row.state, row.last_error = "queued", (error or "")[:2000]
            row.next_attempt_at = now + backoff(row.attempts)
        s.add(row)
        return row

"""Claiming work rows (jobs, outbox) so that several processes never take the same row:
`FOR UPDATE SKIP LOCKED` on PostgreSQL, a single writer transaction on SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select

from storage.db import session_scope
from storage.models import InboundSpool, Job, OutboxMessage

_CLAIMED_BY = "claimed_by"  # outbox meta key: the worker id of the process sending it

_LockedRow = TypeVar("_LockedRow", Job, InboundSpool)  # rows claimed with state/locked_by/run_after


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


def requeue_orphaned_jobs(engine: sa.Engine, is_dead: Callable[[str], bool], now: datetime) -> int:
    """Jobs a dead worker held go back to the queue at once instead of after the claim's lease (a
    transcription must not wait half an hour because the process was killed mid-decode)."""
    return _requeue_orphans(engine, Job, is_dead, now)


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
    worker: str | None = None,
) -> list[OutboxMessage]:
    """Take queued messages that are due; a message stuck in `sending` (its sender died) is retried.
    `worker` is noted in the row's meta, so a restarted process can take back what a killed one held."""
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
            if worker is not None:
                row.meta = {**row.meta, _CLAIMED_BY: worker}
            s.add(row)
        return list(rows)


def requeue_orphaned_outbox(engine: sa.Engine, is_dead: Callable[[str], bool], now: datetime) -> int:
    """Messages a killed process had claimed go back to the queue at once instead of after
    `stale_after`. The one it was handing over may have reached the relay or the modem: that one can
    go out twice (with the same Message-ID), none is lost."""
    with session_scope(engine, write=True) as s:
        rows = s.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.state) == "sending")
            .with_for_update(skip_locked=True)
        ).all()
        orphans = [row for row in rows if is_dead(str(row.meta.get(_CLAIMED_BY, "")))]
        for row in orphans:
            row.state, row.next_attempt_at = "queued", now
            s.add(row)
        return len(orphans)


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


def claim_spool(
    engine: sa.Engine,
    worker: str,
    now: datetime,
    *,
    limit: int = 16,
    lease: timedelta = timedelta(seconds=30),
) -> list[InboundSpool]:
    """Take spooled raw messages to parse; one whose worker died is taken again after `lease`
    (parsing is idempotent: the inbox answers "duplicate" for a message already stored)."""
    with session_scope(engine, write=True) as s:
        rows = s.exec(
            select(InboundSpool)
            .where(
                sa.or_(
                    sa.and_(col(InboundSpool.state) == "queued", col(InboundSpool.run_after) <= now),
                    sa.and_(col(InboundSpool.state) == "running", col(InboundSpool.locked_at) < now - lease),
                )
            )
            .order_by(col(InboundSpool.run_after), col(InboundSpool.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.state, row.locked_by, row.locked_at = "running", worker, now
            row.attempts += 1
            s.add(row)
        return list(rows)


def settle_spool(
    engine: sa.Engine,
    outcomes: list[tuple[int, int | None, str | None]],
    now: datetime,
    *,
    max_attempts: int = 5,
) -> None:
    """Record what became of claimed rows: (spool id, message id, None) is done and its raw bytes
    are dropped (the message keeps them); (spool id, None, error) is retried with backoff."""
    with session_scope(engine, write=True) as s:
        for spool_id, message_id, error in outcomes:
            row = s.get(InboundSpool, spool_id)
            if row is None:
                continue
            row.locked_by = None
            if error is None:
                row.state, row.message_id, row.finished_at, row.raw = "done", message_id, now, None
                row.last_error = None
            else:
                row.last_error = error[:2000]
                if row.attempts >= max_attempts:
                    row.state, row.finished_at = "failed", now
                else:
                    row.state = "queued"
                    row.run_after = now + timedelta(seconds=min(600, 5 * 2 ** (row.attempts - 1)))
            s.add(row)


def release_spool(
    engine: sa.Engine, spool_ids: list[int], now: datetime, *, after: timedelta = timedelta(0)
) -> None:
    """Give claimed rows back untouched (the batch failed as a whole, e.g. the database went away
    mid-commit, or the blob disk is full): not the message's fault, so the attempt does not count."""
    with session_scope(engine, write=True) as s:
        for row in s.exec(select(InboundSpool).where(col(InboundSpool.id).in_(spool_ids))).all():
            row.state, row.locked_by, row.run_after = "queued", None, now + after
            row.attempts = max(0, row.attempts - 1)
            s.add(row)


def requeue_orphaned_spool(engine: sa.Engine, is_dead: Callable[[str], bool], now: datetime) -> int:
    """Rows a dead worker held go back to the queue at once, instead of after the lease; the attempt
    still counts, so a mail that crashes its parser every time ends up quarantined, not in a loop."""
    return _requeue_orphans(engine, InboundSpool, is_dead, now)


def _requeue_orphans(
    engine: sa.Engine, table: type[_LockedRow], is_dead: Callable[[str], bool], now: datetime
) -> int:
    """`running` rows of `table` whose `locked_by` worker is dead go back to `queued`, due now."""
    with session_scope(engine, write=True) as s:
        rows = s.exec(
            select(table).where(col(table.state) == "running").with_for_update(skip_locked=True)
        ).all()
        orphans = [row for row in rows if row.locked_by and is_dead(row.locked_by)]
        for row in orphans:
            row.state, row.locked_by, row.run_after = "queued", None, now
            s.add(row)
        return len(orphans)

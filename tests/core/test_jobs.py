"""Background jobs and the outbox: claimed once, and what a killed process held is not left waiting for
its claim to time out."""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlmodel import select

from storage.db import session_scope
from storage.models import Job
from storage.queue import (
    claim_jobs,
    claim_outbox,
    enqueue_job,
    requeue_orphaned_jobs,
    requeue_orphaned_outbox,
)


def _enqueue(gw: Any, n: int) -> None:
    with session_scope(gw.engine, write=True) as s:
        for i in range(n):
            enqueue_job(s, "transcribe", {"ticket_id": i}, gw.clock())


def test_a_job_is_claimed_by_one_worker_only(gateway: Any) -> None:
    _enqueue(gateway, 1)
    assert len(claim_jobs(gateway.engine, ["transcribe"], "a", gateway.clock())) == 1
    assert claim_jobs(gateway.engine, ["transcribe"], "b", gateway.clock()) == []


def test_jobs_of_a_killed_worker_on_this_host_are_queued_again_those_of_live_ones_are_not(
    gateway: Any,
) -> None:
    from gateway.workers import worker_gone

    _enqueue(gateway, 2)
    dead = f"gw@{socket.gethostname()}:{2**22 + 7}"  # above pid_max's default: never a live pid
    alive = f"gw@{socket.gethostname()}:{os.getpid()}"
    [first] = claim_jobs(gateway.engine, ["transcribe"], dead, gateway.clock())
    [second] = claim_jobs(gateway.engine, ["transcribe"], alive, gateway.clock())
    assert requeue_orphaned_jobs(gateway.engine, worker_gone, gateway.clock()) == 1
    with session_scope(gateway.engine) as s:
        states = {job.id: (job.state, job.attempts) for job in s.exec(select(Job)).all()}
    assert states[first.id] == ("queued", 1)  # the killed try still counts towards max_attempts
    assert states[second.id] == ("running", 1)
    [again] = claim_jobs(gateway.engine, ["transcribe"], alive, gateway.clock())
    assert again.id == first.id


def test_outbound_messages_a_killed_sender_had_claimed_go_back_to_the_queue_at_once(gateway: Any) -> None:
    from gateway.workers import worker_gone
    from storage.models import OutboxMessage

    with session_scope(gateway.engine, write=True) as s:
        for n in range(3):
            s.add(
                OutboxMessage(
                    kind="ack",
                    channel="sms",
                    recipient=f"+38164000000{n}",
                    body="Primljeno",
                    next_attempt_at=gateway.clock(),
                )
            )
    dead = f"gw@{socket.gethostname()}:{2**22 + 7}"
    alive = f"gw@{socket.gethostname()}:{os.getpid()}"
    held_by_dead = claim_outbox(gateway.engine, gateway.clock(), limit=2, worker=dead)
    [held_by_live] = claim_outbox(gateway.engine, gateway.clock(), limit=2, worker=alive)
    assert requeue_orphaned_outbox(gateway.engine, worker_gone, gateway.clock()) == 2
    again = claim_outbox(gateway.engine, gateway.clock(), limit=5, worker=alive)
    assert {row.id for row in again} == {row.id for row in held_by_dead}  # at once, not after 10 min
    assert held_by_live.id not in {row.id for row in again}


def test_an_outcome_is_recorded_once_the_database_answers_again() -> None:
    import asyncio

    import sqlalchemy as sa

    from gateway.workers import record_once_database_answers

    tries: list[int] = []

    def finish(job_id: int) -> None:
        tries.append(job_id)
        if len(tries) < 3:  # what psycopg raises while PostgreSQL restarts
            raise sa.exc.OperationalError("UPDATE job", {}, ConnectionRefusedError("connection refused"))

    asyncio.run(record_once_database_answers("job 7", finish, 7))
    assert tries == [7, 7, 7]

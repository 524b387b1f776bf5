"""Background loops owned by the app lifespan: outbox sender, transcription jobs, SLA sweep."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from channels.base import (
    Attachment,
    ChannelKind,
    ChannelMisconfigured,
    ChannelState,
    DeliveryFailed,
    Notification,
    Notifier,
)
from gateway.address import locate_from_text
from gateway.health import DeliveryHealth
from gateway.tickets import TicketService
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import AttachmentRow, CitizenIdentity, Job, OutboxMessage, Ticket, TranscriptRow
from storage.queue import claim_jobs, claim_outbox, fail_job, finish_job, settle_outbox
from voicemail.heap import trim_heap

log = logging.getLogger(__name__)
_KINDS = frozenset(k.value for k in ChannelKind)
_RECORD_TRIES = 30  # with backoff up to 10 s: about 4 minutes of database outage
# A missing or broken model is an administrator's fix, not a passing fault: try again this often.
MODEL_RETRY_S = 300.0


def worker_id(instance: str) -> str:
    return f"{instance}@{socket.gethostname()}:{os.getpid()}"


async def record_once_database_answers(
    what: str, record: Callable[..., Any], *args: Any, **kwargs: Any
) -> None:
    """Run `record` (a write that settles claimed work) in a thread, retrying while the database is
    away; otherwise the work stays claimed by a live process until its claim expires."""
    delay = 0.5
    for _ in range(_RECORD_TRIES):
        try:
            await asyncio.to_thread(record, *args, **kwargs)
            return
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            log.warning("%s: outcome not recorded yet (database unavailable)", what)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    log.error("%s: outcome could not be recorded; it is taken up again when its claim expires", what)


def worker_gone(worker: str) -> bool:
    """`worker` (a worker_id) names a process on this host that no longer runs. Workers on other
    hosts are never "gone" here: their claims and leases are taken over when they expire."""
    host, _, pid = worker.rpartition("@")[2].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


class OutboxSender:
    """Hands queued messages to the notifier of their channel; temporary failures are retried."""

    def __init__(
        self,
        engine: sa.Engine,
        blobs: BlobStore,
        notifiers: Mapping[str, Notifier],
        clock: Callable[[], datetime],
        *,
        max_attempts: int = 8,
        worker: str | None = None,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.notifiers = notifiers
        self.clock = clock
        self.max_attempts = max_attempts
        self.worker = worker
        self.health = DeliveryHealth(clock)

    async def run_once(self, limit: int = 20) -> int:
        rows = await asyncio.to_thread(
            claim_outbox,
            self.engine,
            self.clock(),
            limit=limit,
            channels=list(self.notifiers),
            worker=self.worker,
        )
        for row in rows:
            try:
                await self._send(row)
            except (sa.exc.OperationalError, sa.exc.InterfaceError):
                # The database went away before the hand-over: the message goes back to the queue.
                assert row.id is not None
                await self._settle(
                    row.id,
                    self.clock(),
                    sent=False,
                    error="database unavailable",
                    max_attempts=self.max_attempts,
                )
        return len(rows)

    async def _send(self, row: OutboxMessage) -> None:
        assert row.id is not None
        blocked = await asyncio.to_thread(self._blocked_reason, row)
        if blocked:
            await self._settle(
                row.id,
                self.clock(),
                sent=False,
                error=blocked,
                permanent=True,
            )
            return
        notification = Notification(
            outbox_id=row.id,
            # Webhook rows are not a citizen medium; their notifier ignores the kind.
            channel=ChannelKind(row.channel) if row.channel in _KINDS else ChannelKind.WEB,
            recipient=row.recipient,
            body=row.body,
            subject=row.subject,
            automatic=row.automatic,
            in_reply_to=row.in_reply_to,
            references=tuple(r for r in (row.references or "").split() if r),
            message_id=row.message_id_header,
            attachments=await asyncio.to_thread(self._attachments, row),
            meta={k: str(v) for k, v in row.meta.items()},
            ticket_reference=await asyncio.to_thread(self._reference, row),
        )
        try:
            receipt = await self.notifiers[row.channel].send(notification)
        except DeliveryFailed as exc:
            log.warning(
                "outbox %s via %s failed (%s): %s",
                row.id,
                row.channel,
                "permanent" if exc.permanent else "will retry",
                exc.reason,
            )
            self.health.failed(row.channel, exc.reason, permanent=exc.permanent)
            await self._settle(
                row.id,
                self.clock(),
                sent=False,
                error=exc.reason,
                permanent=exc.permanent,
                max_attempts=self.max_attempts,
            )
            return
        except Exception as exc:  # a notifier bug must not stop the loop; the row is retried
            log.exception("outbox %s via %s crashed", row.id, row.channel)
            self.health.failed(row.channel, f"{type(exc).__name__}: {exc}", permanent=False)
            await self._settle(
                row.id,
                self.clock(),
                sent=False,
                error=f"{type(exc).__name__}: {exc}",
                max_attempts=self.max_attempts,
            )
            return
        self.health.sent(row.channel)
        await self._settle(
            row.id,
            self.clock(),
            sent=True,
            provider_ref=receipt.provider_ref if receipt else None,
        )

    async def _settle(self, outbox_id: int, now: datetime, **outcome: Any) -> None:
        # Left in `sending`, a message handed over already would wait for its claim to time out and
        # then go out twice.
        await record_once_database_answers(
            f"outbox {outbox_id}", settle_outbox, self.engine, outbox_id, now, **outcome
        )

    def _blocked_reason(self, row: OutboxMessage) -> str | None:
        """An opted-out number or a bouncing address gets nothing (except the STOP confirmation)."""
        kind = {"sms": "phone", "email": "email"}.get(row.channel)
        with session_scope(self.engine) as s:
            identity = s.exec(
                select(CitizenIdentity).where(
                    CitizenIdentity.kind == kind, CitizenIdentity.value == row.recipient
                )
            ).first()
        if identity is None:
            return None
        if identity.opted_out and row.kind != "stop":
            return "recipient opted out (STOP)"
        if identity.undeliverable and row.automatic:
            return "recipient address bounces"
        return None

    def _reference(self, row: OutboxMessage) -> str | None:
        if row.ticket_id is None:
            return None
        with session_scope(self.engine) as s:
            ticket = s.get(Ticket, row.ticket_id)
            return ticket.reference if ticket else None

    def _attachments(self, row: OutboxMessage) -> tuple[Attachment, ...]:
        return tuple(
            Attachment(a["filename"], a["content_type"], self.blobs.get(a["sha256"]))
            for a in row.meta.get("attachments", [])
        )


class TranscriptionWorker:
    """Claims transcription jobs, runs the engine in a thread, stores the transcript."""

    def __init__(
        self,
        engine: sa.Engine,
        blobs: BlobStore,
        tickets: TicketService,
        transcriber_factory: Callable[[], Any],
        clock: Callable[[], datetime],
        worker: str,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.tickets = tickets
        self._factory = transcriber_factory
        self._transcriber: Any = None
        self._loading = threading.Lock()
        self._worked = False
        self._idle_since: float | None = None
        self.clock = clock
        self.worker = worker
        self._model_error: str | None = None
        self._model_retry_at = 0.0
        self._state_since: datetime | None = None

    def health(self) -> dict[str, Any]:
        """For /healthz and the dashboard: degraded while the model cannot be loaded."""
        return {
            "state": (ChannelState.DEGRADED if self._model_error else ChannelState.UP).value,
            "detail": self._model_error or "",
            "since": self._state_since.isoformat() if self._state_since else None,
        }

    def _has_runnable_job(self) -> bool:
        with session_scope(self.engine) as s:
            return (
                s.exec(
                    select(Job.id).where(
                        Job.kind == "transcribe", Job.state == "queued", Job.run_after <= self.clock()
                    )
                ).first()
                is not None
            )

    def _ensure_model(self) -> bool:
        """Load the model before claiming jobs; a model that cannot load leaves them queued (the
        voicemails are in review with their audio) and is logged once, not per retry."""
        try:
            self.transcriber()
        except ChannelMisconfigured as exc:
            if str(exc) != self._model_error:
                log.error("transcription unavailable: %s", exc)
                self._state_since = self.clock()
            self._model_error = str(exc)
            self._model_retry_at = time.monotonic() + MODEL_RETRY_S
            return False
        if self._model_error is not None:
            log.info("transcription model loaded; queued voicemails are transcribed now")
            self._model_error, self._state_since = None, self.clock()
        return True

    def transcriber(self) -> Any:
        # The model loads once per process, on first use; jobs of the first batch arrive in
        # parallel threads, and without the lock each would load its own ~500 MB copy.
        with self._loading:
            if self._transcriber is None:
                self._transcriber = self._factory()
        return self._transcriber

    async def run_once(self, limit: int = 2) -> int:
        """Run jobs until the queue is empty, `limit` at a time; returns how many ran.

        A thread that finishes claims the next job at once instead of waiting for the longest
        voicemail of a batch, so both cores stay busy through a night of uneven recordings.
        """
        if self._transcriber is None:
            if self._model_error is not None and time.monotonic() < self._model_retry_at:
                return 0
            if not await asyncio.to_thread(self._has_runnable_job):
                return 0
            if not await asyncio.to_thread(self._ensure_model):
                return 0
        running: set[asyncio.Task[None]] = set()
        ran = 0
        drained = False
        try:
            while True:
                if not drained and len(running) < limit:
                    jobs = await asyncio.to_thread(
                        claim_jobs,
                        self.engine,
                        ["transcribe"],
                        self.worker,
                        self.clock(),
                        limit=limit - len(running),
                    )
                    drained = not jobs
                    ran += len(jobs)
                    running |= {asyncio.create_task(self._run(job.id, job.payload)) for job in jobs if job.id}
                if not running:
                    break
                _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in running:
                task.cancel()
        if ran:
            self._worked = True
            self._idle_since = None
        elif self._worked and self._transcriber is not None:
            # The queue is drained: the warm decoders of the night go back to the OS until next time.
            self._worked = False
            self._idle_since = time.monotonic()
            await asyncio.to_thread(self._transcriber.release_memory)
        elif self._idle_since is not None and self._transcriber is not None:
            await asyncio.to_thread(self._maybe_unload)
        return ran

    def _maybe_unload(self) -> None:
        """Drop the model after `unload_after_idle_s` without jobs; the next job loads it again.

        An idle worker otherwise holds ~500 MB for a model a reload brings back in a few seconds.
        """
        after = getattr(self._transcriber, "unload_after_idle_s", 0.0)
        if not after or self._idle_since is None or time.monotonic() - self._idle_since < after:
            return
        with self._loading:
            # run_once calls this only when no job runs, so no thread holds the transcriber.
            self._transcriber = None
            self._idle_since = None
        gc.collect()  # a reference cycle would otherwise hold the model until the next GC run
        trim_heap()
        log.info("transcription model unloaded after %.0f s without jobs", after)

    async def _run(self, job_id: int, payload: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(self.transcribe_attachment, int(payload["attachment_id"]))
        except Exception as exc:
            log.exception("transcription job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"
            await record_once_database_answers(
                f"job {job_id}", fail_job, self.engine, job_id, self.clock(), error
            )
            return
        await record_once_database_answers(f"job {job_id}", finish_job, self.engine, job_id, self.clock())

    def transcribe_attachment(self, attachment_id: int) -> TranscriptRow:
        from voicemail.audio import read_wav_native

        with session_scope(self.engine) as s:
            att = s.get(AttachmentRow, attachment_id)
            if att is None or att.ticket_id is None:
                raise LookupError(f"attachment {attachment_id} is gone")
            sha, ticket_id = att.sha256, att.ticket_id
        pcm, rate = read_wav_native(self.blobs.get(sha))
        transcript = self.transcriber().transcribe(pcm, rate)
        with session_scope(self.engine, write=True) as s:
            ticket = s.get(Ticket, ticket_id)
            assert ticket is not None
            row = self.tickets.attach_transcript(s, ticket, attachment_id, transcript)
            if transcript.text:
                locate_from_text(s, self.tickets, ticket, transcript.text, source="voicemail transcript")
            return row


class SlaSweeper:
    """Overdue tickets are marked and escalated; overdue work orders get the reminder chain."""

    def __init__(
        self,
        engine: sa.Engine,
        tickets: TicketService,
        reminders: Any | None = None,
        digest: Any | None = None,
    ) -> None:
        self.engine = engine
        self.tickets = tickets
        self.reminders = reminders
        self.digest = digest

    def run_once_sync(self) -> int:
        with session_scope(self.engine, write=True) as s:
            marked = len(self.tickets.sweep_overdue(s))
        reminded = self.reminders.run_once_sync() if self.reminders is not None else 0
        digests = self.digest.run_once_sync() if self.digest is not None else 0
        return marked + reminded + digests

    async def run_once(self) -> int:
        return await asyncio.to_thread(self.run_once_sync)


async def every(interval_s: float, step: Callable[[], Any], name: str) -> None:
    """Run `step` forever; an exception is logged and the loop goes on (a DB outage, say)."""
    while True:
        try:
            did = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s loop step failed; retrying", name)
            did = 0
        if not did:
            await asyncio.sleep(interval_s)

"""The running gateway: the parts `build_gateway` wired together, and the lifecycle that starts and
stops this process's channels and background loops. Routers and pages depend on this, not on app.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from channels.base import Channel, Notifier
from channels.supervisor import Supervisor
from gateway.calendar import WorkingCalendar
from gateway.catalogue import Catalogue
from gateway.config import Config
from gateway.inbox import GatewayInbox
from gateway.queries import status_by_digits
from gateway.retention import RetentionSweeper
from gateway.routing import Router
from gateway.signing import Signer
from gateway.spool import SpoolProcessor
from gateway.tickets import TicketService
from gateway.workers import OutboxSender, SlaSweeper, TranscriptionWorker, every, worker_gone
from storage.blobs import BlobStore
from storage.queue import requeue_orphaned_jobs, requeue_orphaned_outbox

log = logging.getLogger(__name__)

_STOP_WAIT_S = 10.0


@dataclass
class Gateway:
    config: Config
    engine: sa.Engine
    blobs: BlobStore
    calendar: WorkingCalendar
    router: Router
    signer: Signer
    tickets: TicketService
    inbox: GatewayInbox
    clock: Callable[[], datetime]
    roles: frozenset[str]
    catalogue: Catalogue
    channels: list[Channel] = field(default_factory=list)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    supervisor: Supervisor | None = None
    outbox: OutboxSender | None = None
    transcription: TranscriptionWorker | None = None
    spool: SpoolProcessor | None = None
    sla: SlaSweeper | None = None
    retention: RetentionSweeper | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    async def start(self) -> None:
        """Start channels (each failure contained) and the background loops of this process."""
        self.supervisor = Supervisor(self.channels, self.inbox)
        await self.supervisor.start()
        w = self.config.workers
        # Another process's admin save reaches this one within one interval (one primary-key read).
        self._tasks.append(
            asyncio.create_task(every(self.catalogue.check_every_s, self.catalogue.run_once, "catalogue"))
        )
        if self.spool is not None:
            self._tasks.append(asyncio.create_task(self.spool.run_forever()))
        if self.outbox is not None:
            await self._take_back(requeue_orphaned_outbox, "outbound messages")
            self._tasks.append(
                asyncio.create_task(every(w.outbox_interval_s, self.outbox.run_once, "outbox"))
            )
        if self.sla is not None:
            self._tasks.append(
                asyncio.create_task(every(self.config.sla.sweep_interval_s, self.sla.run_once, "sla"))
            )
        if self.retention is not None:
            self._tasks.append(
                asyncio.create_task(
                    every(self.config.retention.check_interval_s, self.retention.run_once, "retention")
                )
            )
        if self.transcription is not None:
            await self._take_back(requeue_orphaned_jobs, "transcription jobs")
            self._tasks.append(
                asyncio.create_task(every(w.jobs_interval_s, self.transcription.run_once, "transcribe"))
            )

    async def _take_back(self, requeue: Callable[..., int], what: str) -> None:
        """Queue again at once what a killed process on this host had claimed, before this one's loop
        starts. With the database down at start they are taken back when their claims expire."""
        with contextlib.suppress(Exception):
            taken = await asyncio.to_thread(requeue, self.engine, worker_gone, self.clock())
            if taken:
                log.warning("%d %s held by a dead process were queued again", taken, what)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a loop that swallowed its cancellation must not keep a SIGTERM'd process alive.
            _, stuck = await asyncio.wait(self._tasks, timeout=_STOP_WAIT_S)
            for task in stuck:
                log.error("background task %s did not stop; leaving it", task.get_coro())
        self._tasks.clear()
        if self.supervisor is not None:
            await self.supervisor.stop()
        for close in reversed(self._closers):
            result = close()
            if asyncio.iscoroutine(result):
                await result
        self.engine.dispose()

    async def status_lookup(self, digits: str) -> str | None:
        """For the hotline's keypad: the digits of a reference → its status key, or None."""
        return await asyncio.to_thread(status_by_digits, self.engine, digits)

"""The composition root: `build_gateway(config)` is the one place that constructs concrete classes;
`create_app(config)` is the FastAPI factory whose lifespan starts and stops channels and workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import Channel, ChannelKind, Notifier
from channels.supervisor import Supervisor
from gateway.calendar import WorkingCalendar
from gateway.config import Config
from gateway.digest import MorningDigest
from gateway.inbox import GatewayInbox
from gateway.lease import LeasedChannel
from gateway.notify import STATUS_LABEL, CitizenNotifier
from gateway.routing import Router
from gateway.signing import Signer
from gateway.spool import SpoolProcessor
from gateway.tickets import TicketService
from gateway.workers import OutboxSender, SlaSweeper, TranscriptionWorker, every, worker_gone, worker_id
from storage.blobs import BlobStore
from storage.db import make_engine, session_scope
from storage.models import Ticket
from storage.queue import requeue_orphaned_jobs, requeue_orphaned_outbox

if TYPE_CHECKING:  # a `sistem48 worker` process never needs the web stack
    from fastapi import FastAPI

log = logging.getLogger(__name__)

_STOP_WAIT_S = 10.0
ALL_ROLES = frozenset({"api", "mail", "sms", "sip", "outbox", "sla", "transcribe"})


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    channels: list[Channel] = field(default_factory=list)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    supervisor: Supervisor | None = None
    outbox: OutboxSender | None = None
    transcription: TranscriptionWorker | None = None
    spool: SpoolProcessor | None = None
    sla: SlaSweeper | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    async def start(self) -> None:
        """Start channels (each failure contained) and the background loops of this process."""
        self.supervisor = Supervisor(self.channels, self.inbox)
        await self.supervisor.start()
        w = self.config.workers
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
        return await asyncio.to_thread(self._status_by_digits, digits)

    def _status_by_digits(self, digits: str) -> str | None:
        digits = "".join(ch for ch in digits if ch.isdigit())
        if len(digits) < 5:
            return None
        year, number = (digits[:4], digits[4:]) if len(digits) > 6 else (None, digits)
        with session_scope(self.engine) as s:
            query = select(Ticket).where(col(Ticket.reference).endswith(f"-{int(number):06d}"))
            if year:
                query = query.where(col(Ticket.reference).contains(f"-{year}-"))
            ticket = s.exec(query.order_by(col(Ticket.id).desc())).first()
        return ticket.status if ticket and ticket.status in STATUS_LABEL else None


def _absolute(path: str | Path) -> Path:
    return Path(path).expanduser().absolute()


def build_gateway(
    config: Config,
    *,
    clock: Callable[[], datetime] = utc_now,
    roles: Iterable[str] = ALL_ROLES,
    engine: sa.Engine | None = None,
) -> Gateway:
    roles = frozenset(roles)
    unknown = roles - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    engine = engine or make_engine(config.database_url())
    data_dir = _absolute(config.gateway.data_dir)
    blobs = BlobStore(data_dir / "blobs")
    calendar = WorkingCalendar(config.business_hours, config.sla, config.tz())
    router = Router(config)
    signer = Signer(config.secret())
    notifier = CitizenNotifier(config, signer, clock, blobs)
    tickets = TicketService(config, calendar, router, notifier, clock)
    inbox = GatewayInbox(config, engine, blobs, tickets, signer, clock)
    gw = Gateway(config, engine, blobs, calendar, router, signer, tickets, inbox, clock, roles)

    if config.mail.enabled:
        from mail.notifier import MailNotifier

        gw.notifiers["email"] = MailNotifier(config.mail)
        if "mail" in roles:
            from mail.channel import MailChannel
            from mail.intake import decode_spooled

            gw.channels.append(MailChannel(config.mail, clock=clock))
            # Whoever takes mail parses it too; other `--only mail` processes share the spool.
            gw.spool = SpoolProcessor(
                engine,
                inbox,
                {ChannelKind.EMAIL: decode_spooled},
                clock,
                worker_id(config.gateway.instance_name),
            )
    if config.sms.enabled and ("sms" in roles):
        # The modem has exactly one owner: the process that runs the sms role also sends SMS.
        from sms.channel import SmsChannel
        from sms.modem import Modem
        from sms.notifier import SmsNotifier

        sms_settings = config.sms.model_copy(update={"device": str(_absolute(config.sms.device))})
        modem = Modem(sms_settings, clock=clock)
        # One modem, one owner: the lease makes a second `--only sms` process stand by.
        gw.channels.append(
            LeasedChannel(
                SmsChannel(sms_settings, modem, clock=clock),
                engine,
                worker_id(config.gateway.instance_name),
                clock,
            )
        )
        gw.notifiers["sms"] = SmsNotifier(sms_settings, modem, clock=clock)
    if config.sip.enabled and "sip" in roles:
        from voicemail.channel import VoicemailChannel
        from voicemail.settings import HoursKind

        sip_settings = config.sip.model_copy(update={"state_dir": _absolute(config.sip.state_dir)})
        gw.channels.append(
            LeasedChannel(
                VoicemailChannel(
                    sip_settings,
                    hours=lambda at: HoursKind(calendar.hours_kind(at).value),
                    status_lookup=gw.status_lookup,
                    has_speech=_speech_gate(config),
                    clock=clock,
                ),
                engine,
                worker_id(config.gateway.instance_name),
                clock,
            )
        )
    if any(u.webhook_url for u in config.utilities):
        from gateway.workorders import WebhookNotifier

        gw.notifiers["webhook"] = WebhookNotifier(config, config.work_orders, clock)
    if "outbox" in roles and gw.notifiers:
        gw.outbox = OutboxSender(
            engine,
            blobs,
            gw.notifiers,
            clock,
            max_attempts=config.workers.outbox_max_attempts,
            worker=worker_id(config.gateway.instance_name),
        )
    if "sla" in roles:
        from gateway.workorders import WorkOrderReminders

        reminders = WorkOrderReminders(engine, config, config.work_orders, tickets, clock)
        digest = MorningDigest(engine, config, calendar, clock, worker_id(config.gateway.instance_name))
        gw.sla = SlaSweeper(engine, tickets, reminders, digest)
    if "transcribe" in roles and config.transcription.enabled and config.workers.transcribe_in_process:
        gw.transcription = TranscriptionWorker(
            engine,
            blobs,
            tickets,
            lambda: _load_transcriber(config),
            clock,
            worker_id(config.gateway.instance_name),
        )
    return gw


def _speech_gate(config: Config) -> Callable[[bytes, int], bool] | None:
    if not config.transcription.vad:
        return None
    from voicemail.vad import has_speech

    return has_speech


def _load_transcriber(config: Config) -> Any:
    from gateway.address import register_of, vocabulary
    from voicemail.transcribe import load_transcriber

    models_dir = config.transcription.models_dir or config.gateway.data_dir / "models"
    settings = config.transcription.model_copy(update={"models_dir": _absolute(models_dir)})
    return load_transcriber(settings, vocabulary=vocabulary(config.categories, register_of(config)))


def create_app(config: Config, *, gateway: Gateway | None = None, **build: Any) -> FastAPI:
    from fastapi import FastAPI

    gw = gateway or build_gateway(config, **build)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        try:
            yield
        finally:
            await gw.stop()

    from gateway.api import mount_api
    from gateway.web import mount_web

    app = FastAPI(
        title="Sistem48",
        version="0.1.0",
        description="Contact gateway of the municipal call centre: tickets from calls, SMS and e-mail.",
        lifespan=lifespan,
    )
    app.state.gateway = gw
    mount_api(app, gw)
    mount_web(app, gw)
    return app

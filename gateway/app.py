"""The composition root: `build_gateway(config)` is the one place that constructs concrete classes;
`create_app(config)` is the FastAPI factory whose lifespan starts and stops channels and workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from channels.base import ChannelKind
from channels.clock import utc_now
from gateway.calendar import WorkingCalendar
from gateway.citizens import Citizens
from gateway.config import Config
from gateway.digest import MorningDigest
from gateway.inbox import GatewayInbox
from gateway.lease import LeasedChannel
from gateway.outbox import Outbox
from gateway.routing import Router
from gateway.runtime import Gateway
from gateway.signing import Signer
from gateway.spool import SpoolProcessor
from gateway.tickets import TicketService
from gateway.utility_replies import UtilityReplies
from gateway.workers import OutboxSender, SlaSweeper, TranscriptionWorker, worker_id
from storage.blobs import BlobStore
from storage.db import make_engine

if TYPE_CHECKING:  # a `sistem48 worker` process never needs the web stack
    from fastapi import FastAPI

ALL_ROLES = frozenset({"api", "mail", "sms", "sip", "outbox", "sla", "transcribe"})


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
    outbox = Outbox(config, signer, clock, blobs)
    tickets = TicketService(config, calendar, router, outbox, clock)
    citizens = Citizens(config.gateway.default_region, clock)
    utility_replies = UtilityReplies(config, signer, tickets, outbox, clock)
    inbox = GatewayInbox(config, engine, blobs, tickets, citizens, signer, clock, utility_replies)
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
        from gateway.webhooks import WebhookNotifier

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
        digest = MorningDigest(
            engine, config, calendar, outbox, clock, worker_id(config.gateway.instance_name)
        )
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
    from voicemail.transcribe import load_transcriber

    return load_transcriber(config.transcription)


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

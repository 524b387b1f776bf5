"""The composition root: `build_gateway(config)` is the one place that constructs concrete classes;
`create_app(config)` is the FastAPI factory whose lifespan starts and stops channels and workers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from channels.base import ChannelKind
from channels.clock import utc_now
from channels.medium import CoreLinks, Decoder, MediumParts
from gateway.calendar import WorkingCalendar
from gateway.catalogue import Catalogue
from gateway.citizens import Citizens
from gateway.config import Config
from gateway.digest import MorningDigest
from gateway.inbox import GatewayInbox
from gateway.lease import LeasedChannel
from gateway.outbox import Outbox
from gateway.retention import Retention, RetentionSweeper
from gateway.routing import Router
from gateway.runtime import Gateway
from gateway.signing import Signer
from gateway.spool import SpoolProcessor
from gateway.tickets import TicketService
from gateway.utility_replies import UtilityReplies
from gateway.workers import OutboxSender, SlaSweeper, TranscriptionWorker, worker_id
from mail.setup import setup as mail_setup
from sms.setup import setup as sms_setup
from storage.blobs import BlobStore
from storage.db import make_engine
from voicemail.setup import setup as voicemail_setup

log = logging.getLogger(__name__)

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
    catalogue = Catalogue(engine, config, clock)
    try:
        catalogue.load()
    except sa.exc.SQLAlchemyError as exc:
        # The database may be down at start: run with the TOML catalogue; the loop loads it later.
        log.warning("catalogue not loaded yet (%s): the configuration's until then", type(exc).__name__)
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
    gw = Gateway(config, engine, blobs, calendar, router, signer, tickets, inbox, clock, roles, catalogue)

    owner = worker_id(config.gateway.instance_name)
    core = CoreLinks(clock, lambda at: calendar.hours_kind(at).value, gw.status_lookup)
    decoders: dict[ChannelKind, Decoder] = {}
    for role, settings, setup, extra in _media(config):
        if not settings.enabled:
            continue
        parts = setup(settings, run_channel=role in roles, core=core, **extra)
        # One device or line, one owner: the lease makes a second process with the role stand by.
        gw.channels += [
            LeasedChannel(c, engine, owner, clock) if parts.exclusive else c for c in parts.channels
        ]
        gw.notifiers.update(parts.notifiers)
        decoders.update(parts.decoders)
    if decoders:
        gw.spool = SpoolProcessor(engine, inbox, decoders, clock, owner)
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
            worker=owner,
        )
    if "sla" in roles:
        from gateway.workorders import WorkOrderReminders

        reminders = WorkOrderReminders(engine, config, config.work_orders, tickets, clock)
        digest = MorningDigest(engine, config, calendar, outbox, clock, owner)
        gw.sla = SlaSweeper(engine, tickets, reminders, digest)
        if config.retention.enabled:
            region = config.gateway.default_region
            gw.retention = RetentionSweeper(Retention(engine, blobs, config.retention, region, clock))
    if "transcribe" in roles and config.transcription.enabled and config.workers.transcribe_in_process:
        gw.transcription = TranscriptionWorker(
            engine,
            blobs,
            tickets,
            lambda: _load_transcriber(config),
            clock,
            owner,
        )
    return gw


def _media(config: Config) -> list[tuple[str, Any, Callable[..., MediumParts], dict[str, Any]]]:
    """Each medium: the role that runs its channel, its config section, its setup and what else it needs."""
    sms = config.sms.model_copy(update={"device": str(_absolute(config.sms.device))})
    sip = config.sip.model_copy(update={"state_dir": _absolute(config.sip.state_dir)})
    return [
        ("mail", config.mail, mail_setup, {}),
        ("sms", sms, sms_setup, {}),
        ("sip", sip, voicemail_setup, {"vad": config.transcription.vad}),
    ]


def _load_transcriber(config: Config) -> Any:
    from gateway.address import register_of, vocabulary
    from voicemail.transcribe import load_transcriber

    models_dir = config.transcription.models_dir or config.gateway.data_dir / "models"
    settings = config.transcription.model_copy(update={"models_dir": _absolute(models_dir)})
    return load_transcriber(settings, vocabulary=vocabulary(config.categories, register_of(config)))


_startup_frozen = False


def _freeze_startup_objects() -> None:
    """The ~180 000 objects of a started gateway (modules, routes, templates, ORM mappings) live as
    long as the process: frozen, a full collection no longer walks them, which cut the month
    report's p95 from ~250 to ~95 ms (its spikes were those collections). Once per process."""
    global _startup_frozen
    if not _startup_frozen:
        gc.collect()
        gc.freeze()
        _startup_frozen = True


def create_app(config: Config, *, gateway: Gateway | None = None, **build: Any) -> FastAPI:
    from fastapi import FastAPI

    gw = gateway or build_gateway(config, **build)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        _freeze_startup_objects()
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

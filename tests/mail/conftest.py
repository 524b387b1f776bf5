"""Fixtures for the e-mail medium: a recording inbox, a running MailChannel, a collecting relay."""

from __future__ import annotations

import asyncio
import os
import smtplib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.base import CallRecord, DeliveryReport, InboundContact, IngestResult, RawInbound
from mail.channel import MailChannel
from mail.intake import decode_spooled
from mail.settings import MailRelaySettings, MailSettings

# The project's own corpus, written by tests/mail/corpusgen (python -m tests.mail.corpusgen).
CORPUS = Path(__file__).resolve().parent / "corpus"
REPO_ROOT = Path(__file__).resolve().parents[2]


def extra_corpus() -> Path | None:
    """An external corpus of other projects' fixtures, run as an extra check when present:
    $SISTEM48_EXTRA_MAILCORPUS, else shared/mailcorpus beside the repository (as in CI)."""
    configured = os.environ.get("SISTEM48_EXTRA_MAILCORPUS")
    folder = Path(configured) if configured else REPO_ROOT.parent / "shared" / "mailcorpus"
    return folder if folder.is_dir() else None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class InboxDown(RuntimeError):
    """What the recording inbox raises when told to fail (a database outage, say)."""


@dataclass
class RecordingInbox:
    """Stands in for the core's Inbox: keeps what it got, fails or blocks on demand."""

    contacts: list[InboundContact] = field(default_factory=list)
    deliveries: list[DeliveryReport] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    spooled: list[RawInbound] = field(default_factory=list)
    failures_left: int = 0
    gate: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def ingest(self, contact: InboundContact) -> IngestResult:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures_left > 0:
            self.failures_left -= 1
            raise InboxDown("database unavailable")
        duplicate = any(c.external_id == contact.external_id for c in self.contacts)
        if not duplicate:
            self.contacts.append(contact)
        return IngestResult(
            ticket_id=len(self.contacts), reference=None, created=not duplicate, duplicate=duplicate
        )

    async def spool(self, item: RawInbound) -> str:
        """Like the core: keep the raw bytes, then decode them as the core's spool worker would."""
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures_left > 0:
            self.failures_left -= 1
            raise InboxDown("database unavailable")
        self.spooled.append(item)
        contact, reports = decode_spooled(item)
        if not any(c.external_id == contact.external_id for c in self.contacts):
            self.contacts.append(contact)
            self.deliveries.extend(reports)
        return f"S{len(self.spooled)}"

    async def record_delivery(self, report: DeliveryReport) -> None:
        self.deliveries.append(report)

    async def record_call(self, call: CallRecord) -> None:
        self.calls.append(call)


@pytest.fixture
def inbox() -> RecordingInbox:
    return RecordingInbox()


def channel_settings(**overrides: object) -> MailSettings:
    values: dict[str, object] = {
        "listen_host": "127.0.0.1",
        "listen_port": 0,
        "accept_addresses": ["sistem48@grad.test"],
        "max_message_bytes": 200_000,
    }
    values.update(overrides)
    return MailSettings.model_validate(values)


@asynccontextmanager
async def running_channel(
    inbox: RecordingInbox, settings: MailSettings | None = None
) -> AsyncIterator[MailChannel]:
    channel = MailChannel(settings or channel_settings())
    await channel.start(inbox)
    try:
        yield channel
    finally:
        await channel.stop()


def citizen_mail(
    body: str = "Rupa na kolovozu u ulici Kralja Petra 12.",
    *,
    subject: str = "Prijava kvara",
    sender: str = "Petar Petrović <petar@example.org>",
    to: str = "sistem48@grad.test",
    message_id: str | None = "<citizen-1@example.org>",
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def with_attachment(data: bytes, ctype: str, filename: str | None) -> bytes:
    """A citizen's mail with one attachment of the given type (a photo, a winmail.dat, …)."""
    msg = EmailMessage()
    msg["From"] = "petar@example.org"
    msg["Subject"] = "Fotografija"
    msg.set_content("Šaljem sliku.")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def smtp_client(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    client.ehlo("client.test")
    return client


@dataclass
class CollectingRelay:
    """A real aiosmtpd server standing in for the municipal relay; answers codes on demand."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        assert envelope.original_content is not None
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK"


@asynccontextmanager
async def running_relay(relay: CollectingRelay) -> AsyncIterator[MailRelaySettings]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(relay, hostname="relay.test", enable_SMTPUTF8=True), "127.0.0.1", 0
    )
    port = int(server.sockets[0].getsockname()[1])
    try:
        yield MailRelaySettings(host="127.0.0.1", port=port, timeout_s=5)
    finally:
        server.close()
        await server.wait_closed()

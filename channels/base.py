"""The contract every medium implements: inbound contacts, the inbox they go to, channels, notifiers.

The standard library only (channels/phone.py adds phonenumbers, a pure-Python library without
dependencies), so every package can depend on it and it depends on nothing of ours.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class ChannelKind(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"
    WEB = "web"
    PHONE = "phone"  # an operator records a call in working hours (never a voicemail)
    WALK_IN = "walk_in"  # a citizen at the counter


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a contact; `data` is the exact bytes received."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundContact:
    """One message from a citizen as a medium saw it on the wire: a pure value, no I/O."""

    channel: ChannelKind
    external_id: str  # idempotency key: Message-ID / SIP Call-ID / SMS hash
    sender: str  # E.164 number or lower-cased e-mail address
    received_at: datetime  # tz-aware UTC
    subject: str | None = None
    body: str = ""  # text; "" for voicemail until transcribed
    attachments: tuple[Attachment, ...] = ()
    thread_hints: tuple[str, ...] = ()  # ticket refs / Message-IDs the wire carried
    meta: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # the exact bytes received (a mail, a PDU dump), kept for re-parsing
    sender_name: str | None = None

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        if not self.external_id:
            raise ValueError("external_id is required for idempotent ingest")


@dataclass(frozen=True, slots=True)
class IngestResult:
    ticket_id: int | None  # None when the contact was kept without a ticket (quarantine, keyword)
    reference: str | None
    created: bool  # a new ticket was opened
    duplicate: bool  # this (channel, external_id) was ingested before; nothing changed
    message_id: int | None = None
    quarantined: bool = False


@dataclass(frozen=True, slots=True)
class RawInbound:
    """Wire bytes accepted but not parsed yet (an SMTP DATA): the inbox spools them durably and a
    worker turns them into contacts later, so the sender is answered at the speed of one commit."""

    channel: ChannelKind
    raw: bytes
    received_at: datetime  # tz-aware UTC
    envelope: Mapping[str, str] = field(default_factory=dict)  # mail_from, rcpt_tos, peer, helo, tls

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")


class DeliveryState(StrEnum):
    DELIVERED = "delivered"
    PENDING = "pending"  # the network is still trying (SMSC retry, 4xx deferral)
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A network's word on an earlier outbound message: an SMS status report or a mail bounce."""

    channel: ChannelKind
    recipient: str  # E.164 number or lower-cased address the message went to
    state: DeliveryState
    reported_at: datetime
    provider_ref: str | None = None  # SMS TP-MR; for mail the Message-ID of our bounced message
    detail: str = ""


class CallOutcome(StrEnum):
    VOICEMAIL = "voicemail"  # a recording was ingested as a draft ticket
    MISSED = "missed"  # too short or no speech: an operator should call back
    REFUSED = "refused"  # unknown source, no common codec, in hours by policy
    BUSY = "busy"  # over the concurrent-call limit
    STATUS_LOOKUP = "status_lookup"  # caller only asked for a ticket's status


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One hotline call, whatever became of it, for the call log and the call-back list."""

    call_id: str
    caller: str  # E.164 when it parses, else what the From header carried
    called: str
    started_at: datetime
    duration_s: float
    outcome: CallOutcome
    after_hours: bool
    detail: str = ""


class Inbox(Protocol):
    async def ingest(self, contact: InboundContact) -> IngestResult: ...

    async def spool(self, item: RawInbound) -> str: ...  # durable on return; the spool id

    async def record_delivery(self, report: DeliveryReport) -> None: ...

    async def record_call(self, call: CallRecord) -> None: ...


class ChannelState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    MISCONFIGURED = "misconfigured"


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    name: str
    state: ChannelState
    detail: str = ""
    since: datetime | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class Channel(Protocol):
    name: str

    async def start(self, inbox: Inbox) -> None: ...  # ready on return, or raises ChannelError

    async def stop(self) -> None: ...  # idempotent

    def status(self) -> ChannelStatus: ...


@dataclass(frozen=True, slots=True)
class Notification:
    """One outbound message to a citizen, a utility or staff, as stored in the outbox."""

    outbox_id: int
    channel: ChannelKind
    recipient: str
    body: str
    subject: str | None = None
    ticket_reference: str | None = None
    automatic: bool = True  # RFC 3834: auto-generated (ack / status) vs a person's reply
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    message_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What a notifier learned when it handed a message to the wire."""

    provider_ref: str | None = None  # SMS TP-MR, SMTP queue id


class Notifier(Protocol):
    async def send(self, n: Notification) -> DeliveryReceipt | None: ...  # raises DeliveryFailed


class ChannelError(Exception):
    """Base of every error a channel may raise across the package boundary."""


class ChannelUnavailable(ChannelError):
    """Transient: the supervisor retries with jittered backoff."""


class ChannelAuthFailed(ChannelError):
    """Credentials refused: stop and show on health."""


class ChannelMisconfigured(ChannelError):
    """Config or device missing: stop and show on health."""


def listen_failed(medium: str, where: str, exc: OSError) -> ChannelError:
    """The one mapping of a failed bind for every medium: a port another process holds may come free
    (retry), a port or address this host can never use (EACCES, EADDRNOTAVAIL) is a config error."""
    detail = f"{medium}: cannot listen on {where}: {exc.strerror or exc}"
    if exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL, errno.EPERM):
        return ChannelMisconfigured(detail)
    return ChannelUnavailable(detail)


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent

"""SQLModel tables: citizens and their identities apart from tickets, messages, events, outbox, jobs, staff.

Citizen PII (names, phone numbers, e-mail addresses) lives only in `citizen` and `citizen_identity`;
everything a utility may see is reachable without joining them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from channels.clock import utc_now


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = False, index: bool = False, default: bool = False) -> Any:
    if default:
        return Field(default_factory=utc_now, sa_type=UtcDateTime, index=index)
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable, index=index)


def _json() -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON)


class Citizen(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str | None = None
    script: str = "latin"  # the script the citizen last wrote in; replies follow it
    created_at: datetime = _ts(default=True)


class CitizenIdentity(SQLModel, table=True):
    __tablename__ = "citizen_identity"
    __table_args__ = (
        sa.UniqueConstraint("kind", "value"),
        sa.Index("ix_citizen_identity_citizen_kind", "citizen_id", "kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True)
    kind: str  # "phone" (E.164) | "email" (lower-case)
    value: str
    opted_out: bool = False  # SMS STOP / ODJAVA
    undeliverable: bool = False  # hard bounces of our mail
    undeliverable_reason: str | None = None
    created_at: datetime = _ts(default=True)


class TicketCounter(SQLModel, table=True):
    __tablename__ = "ticket_counter"
    year: int = Field(primary_key=True)
    last: int = 0


class Ticket(SQLModel, table=True):
    # Lists are filtered by status / category / utility and shown newest first (benchmarks/api.py).
    __table_args__ = (
        sa.Index("ix_ticket_status_created", "status", "created_at"),
        sa.Index("ix_ticket_category_status_created", "category", "status", "created_at"),
        sa.Index("ix_ticket_utility_created", "utility", "created_at"),
        # The call-back queue: a handful of flagged tickets among 100 000 (benchmarks/ui_render.py).
        sa.Index("ix_ticket_callback_created", "needs_callback", "created_at"),
        # Rows from before the folded search text, which search still matches the old way. Migration
        # 0006 also adds the substring index on search_text (pg_trgm GIN / SQLite FTS5 trigram).
        sa.Index(
            "ix_ticket_search_pending",
            "id",
            sqlite_where=sa.text("search_text IS NULL"),
            postgresql_where=sa.text("search_text IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, index=True)
    public_token: str = Field(index=True)
    channel: str = Field(index=True)
    status: str = Field(index=True)
    subject: str | None = None
    description: str = ""
    # What a utility sees: subject and description with the reporter's name, numbers and addresses
    # masked, kept current by TicketService so work-order queries never need the citizen tables.
    work_order_subject: str | None = None
    work_order_text: str = ""
    category: str | None = Field(default=None, index=True)
    suggested_category: str | None = None
    utility: str | None = Field(default=None, index=True)
    location_text: str | None = None
    lat: float | None = None
    lon: float | None = None
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", index=True)
    script: str = "latin"
    after_hours: bool = False
    sla_hours: int | None = None
    created_at: datetime = _ts(default=True, index=True)
    updated_at: datetime = _ts(default=True)
    validated_at: datetime | None = _ts(nullable=True)
    assigned_at: datetime | None = _ts(nullable=True)
    resolved_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    due_at: datetime | None = _ts(nullable=True, index=True)
    paused_at: datetime | None = _ts(nullable=True)
    overdue: bool = Field(default=False, index=True)
    escalation_level: int = 0
    # The citizen's last "not fixed": when, and their words with personal data masked (the utility sees them).
    reopened_at: datetime | None = _ts(nullable=True)
    reopen_note: str | None = None
    waiting_reason: str | None = None
    forwarded_to: str | None = None
    duplicate_of_id: int | None = Field(default=None, foreign_key="ticket.id")
    resolution_note: str | None = None
    discard_reason: str | None = None
    needs_callback: bool = False
    # Folded (Latin, no diacritics, lower-case) reference, text, address, reporter's name and the
    # E.164 form of numbers in the text: what staff search matches; kept current by TicketService.
    search_text: str | None = Field(default=None, sa_type=sa.Text)


class Message(SQLModel, table=True):
    """Every inbound and outbound message on a ticket; inbound ones are unique per (channel, external_id)."""

    __table_args__ = (sa.Index("uq_message_inbound", "channel", "external_id", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    direction: str  # "in" | "out"
    channel: str
    external_id: str
    # Indexed for a citizen's export and erasure and the retention sweep (gateway/erasure.py).
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", index=True)
    subject: str | None = None
    body: str = ""
    quoted: str | None = None
    raw_sha256: str | None = None
    # Small raw messages (SMS PDUs, most mails) live in the row: the commit that stores the row
    # makes them durable, without a file, a directory and two fsyncs each. Larger ones are blobs.
    raw_inline: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    received_at: datetime = _ts(default=True, index=True)
    quarantine_reason: str | None = None
    auto: str | None = None  # RFC 3834 classification of mail: bounce, mdn, auto-replied ...
    meta: dict[str, Any] = _json()


class AttachmentRow(SQLModel, table=True):
    __tablename__ = "attachment"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    filename: str
    content_type: str
    size: int
    sha256: str
    kind: str = "file"  # photo | audio | file
    phase: str = "before"  # photos before / after the intervention
    lat: float | None = None
    lon: float | None = None
    created_at: datetime = _ts(default=True)


class TicketEvent(SQLModel, table=True):
    __tablename__ = "ticket_event"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _ts(default=True)
    actor: str
    kind: str  # status | note | assign | category | merge | message | escalation ...
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    public: bool = False  # shown on the citizen's status page / Open311 status_notes


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    kind: str  # ack | status | reply | escalation | digest | workorder | status_reply
    channel: str
    recipient: str = Field(index=True)  # a citizen's export and erasure find their replies by it
    subject: str | None = None
    body: str
    automatic: bool = True
    message_id_header: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    state: str = Field(default="queued", index=True)  # queued | sending | sent | failed | cancelled
    delivery: str | None = None  # delivered | pending | failed (reports from the network)
    attempts: int = 0
    next_attempt_at: datetime = _ts(default=True, index=True)
    last_error: str | None = None
    provider_ref: str | None = Field(default=None, index=True)
    created_at: datetime = _ts(default=True)
    sent_at: datetime | None = _ts(nullable=True)
    meta: dict[str, Any] = _json()


class Job(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)  # transcribe | ...
    payload: dict[str, Any] = _json()
    state: str = Field(default="queued", index=True)  # queued | running | done | failed
    attempts: int = 0
    max_attempts: int = 5
    run_after: datetime = _ts(default=True, index=True)
    locked_by: str | None = None
    locked_at: datetime | None = _ts(nullable=True)
    last_error: str | None = None
    created_at: datetime = _ts(default=True)
    finished_at: datetime | None = _ts(nullable=True)


class TranscriptRow(SQLModel, table=True):
    __tablename__ = "transcript"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    attachment_id: int = Field(foreign_key="attachment.id", index=True)
    engine: str
    text: str
    has_speech: bool
    low_confidence: bool
    data: dict[str, Any] = _json()  # words with timings, reasons, durations
    created_at: datetime = _ts(default=True)


class CallLog(SQLModel, table=True):
    __tablename__ = "call_log"
    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(unique=True)
    caller: str = Field(index=True)  # a citizen's export and erasure find their calls by it
    called: str
    started_at: datetime = _ts(default=True, index=True)
    duration_s: float = 0
    outcome: str = Field(index=True)
    after_hours: bool = False
    detail: str = ""
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    needs_callback: bool = Field(default=False, index=True)
    callback_done_at: datetime | None = _ts(nullable=True)
    callback_note: str | None = None


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)
    password_hash: str
    role: str  # admin | operator | utility
    utility: str | None = None
    failed_logins: int = 0
    locked_until: datetime | None = _ts(nullable=True)
    # Logout ends every session of the user: cookies issued before this are refused.
    sessions_valid_from: datetime | None = _ts(nullable=True)
    # Set by an administrator: no login, and every open session ends (gateway/web user check).
    disabled_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts(default=True)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    token_hash: str = Field(unique=True)
    role: str  # admin | operator | utility | app
    utility: str | None = None
    created_at: datetime = _ts(default=True)
    last_used_at: datetime | None = _ts(nullable=True)
    revoked: bool = False


class PiiAccess(SQLModel, table=True):
    """Audit log: every time staff saw a citizen's personal data."""

    __tablename__ = "pii_access"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(default=True)
    actor: str
    ticket_id: int | None = None
    citizen_id: int | None = None
    what: str


class Lease(SQLModel, table=True):
    """Exactly one owner for a singleton duty (the modem, the SIP registration) across processes."""

    name: str = Field(primary_key=True)
    owner: str
    expires_at: datetime = _ts(default=True)


class InboundSpool(SQLModel, table=True):
    """Raw inbound bytes committed before the sender is answered (SMTP 250), parsed into a contact
    by a worker afterwards; `raw` is dropped once the message row or blob holds it."""

    __tablename__ = "inbound_spool"
    __table_args__ = (sa.Index("ix_inbound_spool_runnable", "state", "run_after"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str
    envelope: dict[str, Any] = _json()
    raw: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    size: int = 0
    raw_sha256: str
    received_at: datetime = _ts(default=True)
    state: str = "queued"  # queued | running | done | failed
    attempts: int = 0
    run_after: datetime = _ts(default=True)
    locked_by: str | None = None
    locked_at: datetime | None = _ts(nullable=True)
    last_error: str | None = None
    message_id: int | None = Field(default=None, foreign_key="message.id")
    finished_at: datetime | None = _ts(nullable=True)


class DataRemoval(SQLModel, table=True):
    """What the retention sweep or a citizen's erasure removed: counts per kind, never content."""

    __tablename__ = "data_removal"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(default=True, index=True)
    actor: str
    action: str = Field(index=True)  # retention | erasure
    citizen_id: int | None = None
    counts: dict[str, Any] = _json()
class CatalogueUtility(SQLModel, table=True):
    """A utility that receives work orders; the live copy of `[[utilities]]`, edited by an admin."""

    __tablename__ = "catalogue_utility"
    code: str = Field(primary_key=True)
    name: str
    emails: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    escalation_emails: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    webhook_url: str | None = None
    webhook_secret_env: str | None = None
    position: int = 0


class CatalogueCategory(SQLModel, table=True):
    """A category citizens' reports are sorted into; disabled ones stay for the tickets that have them."""

    __tablename__ = "catalogue_category"
    code: str = Field(primary_key=True)
    name: str
    utility: str = Field(foreign_key="catalogue_utility.code")
    sla_hours: int = 48
    keywords: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    open311_group: str | None = None
    enabled: bool = True
    position: int = 0


class CatalogueState(SQLModel, table=True):
    """One row: the catalogue's version (every process compares it to reload after an admin's save)
    and the coordinator's escalation addresses."""

    __tablename__ = "catalogue_state"
    id: int = Field(default=1, primary_key=True)
    version: int = 1
    escalation_emails: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    changed_at: datetime = _ts(default=True)
    changed_by: str = "config"

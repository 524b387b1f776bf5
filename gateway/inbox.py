"""The single ingestion entry (channels, API, CLI): blobs first, then one transaction that matches the
citizen, threads or opens a ticket and queues the acknowledgement. Re-delivery returns the same ticket."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.base import (
    Attachment,
    CallRecord,
    ChannelKind,
    DeliveryReport,
    InboundContact,
    IngestResult,
    RawInbound,
)
from channels.privacy import mask_address
from channels.script import script_of
from gateway.address import locate_from_text
from gateway.citizens import Citizens
from gateway.config import Config
from gateway.groupcommit import GroupCommitter
from gateway.keywords import Keyword, find_reference, parse_keyword
from gateway.notify import STATUS_LABEL, sms_body
from gateway.signing import REFERENCE, Signer
from gateway.tickets import THREADABLE, Actor, TicketService
from gateway.utility_replies import UtilityReplies
from gateway.wire_reports import WireReports
from storage.blobs import INLINE_RAW_MAX, BlobStore, inline_raw
from storage.db import session_scope
from storage.models import Citizen, CitizenIdentity, InboundSpool, Message, Ticket
from storage.queue import enqueue_job

log = logging.getLogger(__name__)

NO_TICKET_AUTO = frozenset({"bounce", "mdn"})
# Meta key of a contact registered even without a sender to answer (an anonymous Open311 report).
ANONYMOUS_REPORT = "anonymous_report"


class GatewayInbox:
    """Implements channels.base.Inbox on the database; blocking work runs in worker threads."""

    def __init__(
        self,
        config: Config,
        engine: sa.Engine,
        blobs: BlobStore,
        tickets: TicketService,
        citizens: Citizens,
        signer: Signer,
        clock: Callable[[], datetime],
        utility_replies: UtilityReplies | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.blobs = blobs
        self.tickets = tickets
        self.outbox = tickets.outbox
        self.citizens = citizens
        self.signer = signer
        self.clock = clock
        self.utility_replies = utility_replies
        self.reports = WireReports(config, engine, citizens, tickets, clock)
        self._ingests: GroupCommitter[InboundContact, IngestResult] = GroupCommitter(self.ingest_many_sync)
        self._spools: GroupCommitter[RawInbound, str] = GroupCommitter(self.spool_many_sync)
        # Set after every spool commit: the spool worker of this process wakes at once.
        self.spooled = asyncio.Event()
        self.last_spool_at = 0.0

    # -- Inbox protocol ----------------------------------------------------------------------
    async def ingest(self, contact: InboundContact) -> IngestResult:
        """Durable before the wire is answered, with group commit (see gateway.groupcommit)."""
        return await self._ingests.submit(contact)

    async def spool(self, item: RawInbound) -> str:
        """Commit the raw bytes only (one INSERT, group-committed); the spool worker parses them."""
        self.last_spool_at = time.monotonic()
        spool_id = await self._spools.submit(item)
        self.spooled.set()
        return spool_id

    async def record_delivery(self, report: DeliveryReport) -> None:
        await asyncio.to_thread(self.record_delivery_sync, report)

    def record_delivery_sync(self, report: DeliveryReport) -> None:
        self.reports.record_delivery_sync(report)

    async def record_call(self, call: CallRecord) -> None:
        await asyncio.to_thread(self.reports.record_call_sync, call)

    def record_call_sync(self, call: CallRecord) -> None:
        self.reports.record_call_sync(call)

    # -- spool -------------------------------------------------------------------------------
    def spool_many_sync(self, items: list[RawInbound]) -> list[str | Exception]:
        # One multi-row INSERT … RETURNING through Core: the wire waits on this, and ORM objects
        # would cost more than the insert itself.
        rows = [
            {
                "channel": item.channel.value,
                "envelope": dict(item.envelope),
                "raw": item.raw,
                "size": len(item.raw),
                "raw_sha256": hashlib.sha256(item.raw).hexdigest(),
                "received_at": item.received_at,
                "run_after": item.received_at,
                "state": "queued",
                "attempts": 0,
            }
            for item in items
        ]
        table = InboundSpool.__table__  # type: ignore[attr-defined]
        with session_scope(self.engine, write=True) as s:
            result = s.connection().execute(
                sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            )
            ids: list[str | Exception] = [f"S{spool_id}" for spool_id in result.scalars()]
        return ids

    # -- ingest ------------------------------------------------------------------------------
    def ingest_sync(self, contact: InboundContact) -> IngestResult:
        outcome = self.ingest_many_sync([contact])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def ingest_many_sync(self, contacts: list[InboundContact]) -> list[IngestResult | Exception]:
        """Ingest several contacts in one transaction; each in its own savepoint, so one bad contact
        fails alone. Raises when the commit itself fails (then none of them is stored)."""
        prepared = [self._store_blobs(c) for c in contacts]
        outcomes: list[IngestResult | Exception] = []
        with session_scope(self.engine, write=True) as s:
            for contact, blobs in zip(contacts, prepared, strict=True):
                if isinstance(blobs, Exception):
                    outcomes.append(blobs)
                    continue
                outcomes.append(self._ingest_savepoint(s, contact, *blobs))
        for contact, outcome in zip(contacts, outcomes, strict=True):
            if isinstance(outcome, IngestResult):
                log.info(
                    "ingested %s %s from %s: ticket %s%s",
                    contact.channel,
                    contact.external_id[:24],
                    mask_address(contact.sender),
                    outcome.reference,
                    " (duplicate)" if outcome.duplicate else "",
                )
        return outcomes

    def not_fixed_sync(self, reference: str, comment: str, external_id: str) -> bool:
        """The status page's "not fixed" button: recorded as the reporter's message on the ticket and
        applied as a "NIJE" reply is (TicketService.citizen_replied). True once the ticket is open
        again; pressing twice (the same `external_id`) changes nothing more."""
        with session_scope(self.engine, write=True) as s:
            ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).first()
            if ticket is None or ticket.id is None:
                return False
            seen = s.exec(
                select(Message.id).where(Message.channel == "web", Message.external_id == external_id)
            ).first()
            if seen is None:
                text = f"NIJE: {comment}" if comment else "NIJE"
                s.add(
                    Message(
                        direction="in",
                        channel=ChannelKind.WEB.value,
                        external_id=external_id,
                        citizen_id=ticket.citizen_id,
                        ticket_id=ticket.id,
                        body=text,
                        received_at=self.clock(),
                        meta={"via": "status_page"},
                    )
                )
                self.tickets.note(s, ticket, CITIZEN, "citizen wrote again", kind="message")
                self.tickets.citizen_replied(s, ticket, not_fixed=True, words=comment)
            return ticket.status == "open"

    def _store_blobs(
        self, contact: InboundContact
    ) -> tuple[str | None, list[tuple[Attachment, str]]] | Exception:
        try:
            raw_sha = None
            if contact.raw is not None:
                raw_sha = (
                    hashlib.sha256(contact.raw).hexdigest()
                    if len(contact.raw) <= INLINE_RAW_MAX
                    else self.blobs.put(contact.raw)
                )
            return raw_sha, [(a, self.blobs.put(a.data)) for a in contact.attachments]
        except OSError as exc:  # disk full, permissions: this contact fails, the sender retries
            log.error("blob store failed for %s: %s", contact.channel, exc)
            return exc

    def _ingest_savepoint(
        self, s: Session, contact: InboundContact, raw_sha: str | None, stored: list[tuple[Attachment, str]]
    ) -> IngestResult | Exception:
        for attempt in range(2):
            savepoint = s.begin_nested()
            try:
                result = self._ingest_in(s, contact, raw_sha, stored)
                savepoint.commit()
                return result
            except sa.exc.IntegrityError as exc:
                # The same message delivered twice in one batch or by two processes at once: the
                # second attempt finds the first one's row and answers "duplicate".
                savepoint.rollback()
                if attempt:
                    return exc
            except Exception as exc:
                savepoint.rollback()
                if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
                    # The database is away: one line per contact, not a traceback per SMS on the modem.
                    log.warning("ingest of a %s contact failed: database unavailable", contact.channel)
                else:
                    log.exception("ingest of a %s contact failed", contact.channel)
                return exc
        raise AssertionError("unreachable")

    def _ingest_in(
        self,
        s: Session,
        contact: InboundContact,
        raw_sha: str | None,
        stored: list[tuple[Attachment, str]],
    ) -> IngestResult:
        existing = s.exec(
            select(Message).where(
                Message.channel == contact.channel.value,
                Message.external_id == contact.external_id,
            )
        ).first()
        if existing is not None:
            ref = s.get(Ticket, existing.ticket_id).reference if existing.ticket_id else None  # type: ignore[union-attr]
            return IngestResult(
                existing.ticket_id,
                ref,
                created=False,
                duplicate=True,
                message_id=existing.id,
                quarantined=existing.quarantine_reason is not None,
            )
        # A utility's reply updates its work order instead of opening a citizen ticket.
        replies = self.utility_replies if contact.channel == ChannelKind.EMAIL else None
        if replies is not None and (handled := replies.ingest(s, contact, raw_sha, stored)) is not None:
            return handled

        meta = dict(contact.meta)
        quarantine = meta.pop("quarantine", None)
        auto = meta.get("auto") or None
        quoted = meta.pop("quoted", None)
        anonymous = meta.pop(ANONYMOUS_REPORT, None) == "1"
        citizen, new_identity = (None, None) if quarantine else self._citizen_and_new_identity(s, contact)
        message = Message(
            direction="in",
            channel=contact.channel.value,
            external_id=contact.external_id,
            citizen_id=citizen.id if citizen else None,
            subject=contact.subject,
            body=contact.body,
            quoted=quoted,
            raw_sha256=raw_sha,
            raw_inline=inline_raw(contact.raw),
            received_at=contact.received_at,
            quarantine_reason=quarantine,
            auto=auto,
            meta=meta,
        )
        # The public report form may be anonymous (no phone, no e-mail): it still makes a ticket.
        anonymous = anonymous or (contact.channel == ChannelKind.WEB and meta.get("form") == "public")
        nobody = citizen is None and not contact.attachments and not anonymous
        if quarantine or auto in NO_TICKET_AUTO or nobody:
            s.add(message)
            s.flush()
            self._attachments(s, None, message, stored)
            return IngestResult(
                None,
                None,
                created=False,
                duplicate=False,
                message_id=message.id,
                quarantined=quarantine is not None,
            )

        keyword = None
        if contact.channel in (ChannelKind.SMS, ChannelKind.EMAIL):
            first_line = contact.body.strip().splitlines()[0] if contact.body.strip() else ""
            keyword = parse_keyword(first_line, self.config.gateway.reference_prefix)
            if contact.channel == ChannelKind.EMAIL and keyword and keyword.command != "not_fixed":
                keyword = None  # in mail only "NIJE" means something; STATUS/STOP are plain words
        if keyword and keyword.command in ("status", "stop", "start") and citizen is not None:
            return self._keyword(s, contact, citizen, message, keyword)

        # A citizen created just now has no ticket to thread into.
        ticket = self._thread(s, contact, citizen, keyword) if new_identity is None else None
        created = ticket is None
        script = script_of(f"{contact.subject or ''} {contact.body}")
        if citizen is not None and contact.body.strip():
            self.citizens.set_script(s, citizen, script)
        if ticket is None:
            ticket = self.tickets.open_ticket(
                s,
                channel=contact.channel.value,
                citizen_id=citizen.id if citizen else None,
                description=contact.body,
                subject=contact.subject,
                script=script,
                after_hours=meta.get("after_hours") == "1",
            )
            if contact.body.strip():  # a voicemail's words come later, from its transcript
                locate_from_text(
                    s, self.tickets, ticket, f"{contact.subject or ''}\n{contact.body}", source="message"
                )
        else:
            self.tickets.note(s, ticket, CITIZEN, "citizen wrote again", kind="message")
            self.tickets.citizen_replied(
                s,
                ticket,
                not_fixed=keyword is not None and keyword.command == "not_fixed",
                words=contact.body,
            )
        message.ticket_id = ticket.id
        s.add(message)
        s.flush()
        self._attachments(s, ticket, message, stored)
        if created:
            known = [new_identity] if new_identity is not None else None
            self.outbox.acknowledge(
                s,
                ticket,
                suppress=meta.get("suppress_ack") == "1",
                identities=known,
                kind="ack_mms" if meta.get("sms_kind") == "mms" else None,
            )
        return IngestResult(
            ticket.id, ticket.reference, created=created, duplicate=False, message_id=message.id
        )

    def _citizen_and_new_identity(
        self, s: Session, contact: InboundContact
    ) -> tuple[Citizen | None, CitizenIdentity | None]:
        return self.citizens.find_or_create(s, contact.channel, contact.sender, contact.sender_name)

    def _hinted_references(self, s: Session, contact: InboundContact) -> list[str]:
        refs: list[str] = []
        for hint in contact.thread_hints:
            ref = self.signer.reference_from_message_id(hint) or self.signer.reference_from_plus_token(hint)
            if ref is None and (m := REFERENCE.search(hint)) and "@" not in hint:
                ref = m.group(1).upper()
            if ref is None and "@" in hint:
                ticket_id = s.exec(
                    select(Message.ticket_id).where(Message.external_id == hint.strip("<>"))
                ).first()
                if ticket_id:
                    ticket = s.get(Ticket, ticket_id)
                    ref = ticket.reference if ticket else None
            if ref and ref not in refs:
                refs.append(ref)
        if contact.channel == ChannelKind.SMS:
            ref = find_reference(contact.body, self.config.gateway.reference_prefix)
            if ref and ref not in refs:
                refs.append(ref)
        return refs

    def _thread(
        self, s: Session, contact: InboundContact, citizen: Citizen | None, keyword: Keyword | None
    ) -> Ticket | None:
        """The reporter's open ticket this contact belongs to, or None for a new ticket."""
        if citizen is None or contact.channel == ChannelKind.VOICE:
            return None
        threadable = [st.value for st in THREADABLE]
        for ref in self._hinted_references(s, contact):
            ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).first()
            # Only a participant may add to a ticket: a known reference alone is not enough.
            if ticket and ticket.citizen_id == citizen.id and ticket.status in threadable:
                return ticket
        if contact.channel == ChannelKind.SMS:
            window = timedelta(hours=self.config.sms.thread_window_hours)
            statuses = ["resolved"] if keyword and keyword.command == "not_fixed" else threadable
            recent = s.exec(
                select(Ticket)
                .where(Ticket.citizen_id == citizen.id)
                .where(col(Ticket.status).in_(statuses))
                .where(col(Ticket.updated_at) >= contact.received_at - window)
                .order_by(col(Ticket.updated_at).desc())
            ).first()
            return recent
        return None

    def _keyword(
        self,
        s: Session,
        contact: InboundContact,
        citizen: Citizen,
        message: Message,
        keyword: Keyword,
    ) -> IngestResult:
        identity = self.citizens.phone_of(s, citizen.id)
        route = ("sms", identity.value) if identity else None
        ticket: Ticket | None = None
        if keyword.command in ("stop", "start") and identity is not None:
            self.citizens.set_opted_out(s, identity, keyword.command == "stop")
            if keyword.command == "stop":
                # One last confirmation, as every SMS service must; nothing after it.
                self.outbox.sms_to_number(s, "stop", identity.value, _stop_text(citizen.script))
        elif keyword.command == "status":
            ref = keyword.reference
            ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).first() if ref else None
            if ticket is None and ref is None:
                ticket = s.exec(
                    select(Ticket).where(Ticket.citizen_id == citizen.id).order_by(col(Ticket.id).desc())
                ).first()
            if ticket is not None and route is not None:
                self.outbox.queue_for_citizen(
                    s,
                    ticket,
                    "status_reply",
                    route=route,
                    label=STATUS_LABEL.get(ticket.status, ticket.status),
                )
            elif route is not None:
                self.outbox.sms_to_number(
                    s, "status_reply", route[1], _unknown_text(citizen.script, ref or "?")
                )
        owned = ticket is not None and ticket.citizen_id == citizen.id
        message.ticket_id = ticket.id if owned and ticket else None
        s.add(message)
        s.flush()
        return IngestResult(
            message.ticket_id,
            ticket.reference if owned and ticket else None,
            created=False,
            duplicate=False,
            message_id=message.id,
        )

    def _attachments(
        self,
        s: Session,
        ticket: Ticket | None,
        message: Message,
        stored: list[tuple[Attachment, str]],
    ) -> None:
        for row in self.tickets.add_message_files(s, ticket, message, stored):
            if ticket is not None and row.lat is not None and row.lon is not None and ticket.lat is None:
                self.tickets.set_location(s, ticket, row.lat, row.lon)
            if ticket is not None and row.kind == "audio" and self.config.transcription.enabled:
                enqueue_job(s, "transcribe", {"ticket_id": ticket.id, "attachment_id": row.id}, self.clock())


CITIZEN = Actor("reporter", "citizen")


def _stop_text(script: str) -> str:
    return sms_body("stop", script)


def _unknown_text(script: str, ref: str) -> str:
    return sms_body("unknown_ref", script, ref=ref)

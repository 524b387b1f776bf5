"""The spool worker: turns raw bytes committed at the wire (SMTP DATA) into contacts and stores them
through the inbox. Idempotent, so a row taken twice (a worker died mid-batch) is stored once."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from channels.base import ChannelKind, DeliveryReport, InboundContact, IngestResult, RawInbound
from channels.medium import Decoder
from gateway.inbox import GatewayInbox
from gateway.workers import worker_gone
from storage.blobs import BlobStore, raw_bytes
from storage.models import InboundSpool, Message
from storage.queue import claim_spool, release_spool, requeue_orphaned_spool, settle_spool

log = logging.getLogger(__name__)

_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})
_STORAGE_RETRY = timedelta(seconds=5)

# Marks the idempotency key of a quarantined message that was sent back through the spool.
REPARSED = "#reparsed-"


def quarantine_contact(item: RawInbound, reason: str) -> InboundContact:
    """A contact that keeps the raw bytes for staff when decoding itself keeps failing."""
    return InboundContact(
        channel=item.channel,
        external_id=f"sha256:{hashlib.sha256(item.raw).hexdigest()}",
        sender=item.envelope.get("mail_from", "").strip("<>").lower(),
        received_at=item.received_at,
        meta={
            "quarantine": reason[:500],
            "envelope_from": item.envelope.get("mail_from", ""),
            "rcpt_to": item.envelope.get("rcpt_tos", ""),
            "peer": item.envelope.get("peer", ""),
        },
        raw=item.raw,
    )


class SpoolProcessor:
    """Claims spooled rows in batches (SKIP LOCKED, so several processes share the work)."""

    def __init__(
        self,
        engine: sa.Engine,
        inbox: GatewayInbox,
        decoders: Mapping[ChannelKind, Decoder],
        clock: Callable[[], datetime],
        worker: str,
        *,
        batch: int = 16,
        max_attempts: int = 5,
        idle_poll_s: float = 2.0,
        busy_share: float = 0.05,
    ) -> None:
        self.engine = engine
        self.inbox = inbox
        self.decoders = decoders
        self.clock = clock
        self.worker = worker
        self.batch = batch
        self.max_attempts = max_attempts
        self.idle_poll_s = idle_poll_s
        self.busy_share = busy_share

    async def run_forever(self) -> None:
        wakeup = self.inbox.spooled
        with contextlib.suppress(Exception):  # the database may be down at start; the lease covers that
            orphans = await asyncio.to_thread(
                requeue_orphaned_spool, self.engine, _died_on_this_host, self.clock()
            )
            if orphans:
                log.warning("spool: %d mails held by a dead worker were queued again", orphans)
        while True:
            busy = self._wire_busy()
            started = time.monotonic()
            try:
                done = await self.run_once(limit=max(1, self.batch // 4) if busy else self.batch)
            except Exception as exc:  # the database is down: keep the rows, try again later
                log.warning("spool worker: %s", type(exc).__name__)
                done = 0
            if done:
                if busy:
                    # Senders waiting for their 250 come first: while the wire is busy, parsing gets
                    # about `busy_share` of this process (the GIL is one core); the backlog drains after.
                    await asyncio.sleep((time.monotonic() - started) * (1 / self.busy_share - 1))
                continue
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that
            # arrives just as the event is set, and the process then never finished stopping.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.idle_poll_s):
                    await wakeup.wait()
            wakeup.clear()

    def _wire_busy(self) -> bool:
        return time.monotonic() - self.inbox.last_spool_at < 0.25

    async def run_once(self, limit: int | None = None) -> int:
        return await asyncio.to_thread(self.process_batch_sync, limit)

    def process_batch_sync(self, limit: int | None = None) -> int:
        rows = claim_spool(self.engine, self.worker, self.clock(), limit=limit or self.batch)
        if not rows:
            return 0
        items = [_item(row) for row in rows]
        decoded: list[tuple[InboundContact, list[DeliveryReport]] | Exception] = []
        for row, item in zip(rows, items, strict=True):
            try:
                decoded.append(self.decoders[item.channel](item))
            except Exception as exc:
                log.exception("spool row %s could not be decoded", row.id)
                decoded.append(exc)
        try:
            outcomes, held = self._store(rows, items, decoded)
        except Exception:
            release_spool(self.engine, [row.id for row in rows if row.id is not None], self.clock())
            raise
        settle_spool(self.engine, outcomes, self.clock(), max_attempts=self.max_attempts)
        if held:
            log.warning("spool: %d mails wait for storage to come back", len(held))
            release_spool(self.engine, held, self.clock(), after=_STORAGE_RETRY)
        return len(rows)

    def _store(
        self,
        rows: list[InboundSpool],
        items: list[RawInbound],
        decoded: list[tuple[InboundContact, list[DeliveryReport]] | Exception],
    ) -> tuple[list[tuple[int, int | None, str | None]], list[int]]:
        """Outcomes to settle, and the rows held back because storage itself failed (a full blob disk,
        the database gone): not the mail's fault, so no attempt is spent and nothing is quarantined."""
        last_try = [row.attempts >= self.max_attempts for row in rows]
        contacts: dict[int, InboundContact] = {}
        errors: dict[int, str] = {}
        for i, result in enumerate(decoded):
            if not isinstance(result, Exception):
                contacts[i] = result[0]
            elif last_try[i]:  # keep it for staff with the reason, never drop it
                contacts[i] = quarantine_contact(items[i], f"could not be parsed: {_describe(result)}")
            else:
                errors[i] = _describe(result)
        stored = self._ingest(contacts)
        unstorable = {
            i: quarantine_contact(items[i], f"could not be stored: {_describe(result)}")
            for i, result in stored.items()
            if isinstance(result, Exception)
            and last_try[i]
            and "quarantine" not in contacts[i].meta
            and not storage_failed(result)
        }
        stored.update(self._ingest(unstorable))
        outcomes: list[tuple[int, int | None, str | None]] = []
        held: list[int] = []
        for i, row in enumerate(rows):
            assert row.id is not None
            ingested = stored.get(i)
            if isinstance(ingested, Exception) and storage_failed(ingested):
                held.append(row.id)
                continue
            if isinstance(ingested, IngestResult):
                outcomes.append((row.id, ingested.message_id, None))
                result = decoded[i]
                if not isinstance(result, Exception) and not ingested.duplicate:
                    for report in result[1]:
                        self.inbox.record_delivery_sync(report)
            else:
                outcomes.append((row.id, None, errors.get(i) or _describe(ingested)))
        return outcomes, held

    def _ingest(self, contacts: dict[int, InboundContact]) -> dict[int, IngestResult | Exception]:
        if not contacts:
            return {}
        results = self.inbox.ingest_many_sync(list(contacts.values()))
        return dict(zip(contacts, results, strict=True))


def storage_failed(exc: BaseException) -> bool:
    """The failure is the storage's (disk full or failing, database connection lost), not the data's."""
    if isinstance(exc, OSError):
        return exc.errno in _STORAGE_ERRNOS
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError))


def _died_on_this_host(worker: str) -> bool:
    # Asked once at start, before this process claims anything, so its own pid (reused) counts as gone.
    return worker.rpartition("@")[2] == f"{socket.gethostname()}:{os.getpid()}" or worker_gone(worker)


def _item(row: InboundSpool) -> RawInbound:
    return RawInbound(
        ChannelKind(row.channel),
        row.raw or b"",
        row.received_at,
        {str(k): str(v) for k, v in row.envelope.items()},
    )


def _describe(exc: BaseException | object) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def respool_quarantined(s: Session, blobs: BlobStore, message: Message, now: datetime) -> InboundSpool:
    """Staff's "parse again" after a parser fix: the kept raw bytes go back into the spool, and the old
    row gives up its idempotency key (so the new parse is not a duplicate) but stays for the record."""
    raw = raw_bytes(blobs, message.raw_inline, message.raw_sha256)
    if raw is None:
        raise LookupError(f"message {message.id} has no raw bytes to parse again")
    meta = message.meta
    row = InboundSpool(
        channel=message.channel,
        envelope={
            "mail_from": str(meta.get("envelope_from", "")),
            "rcpt_tos": str(meta.get("rcpt_to", "")),
            "peer": str(meta.get("peer", "")),
        },
        raw=raw,
        size=len(raw),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        received_at=message.received_at,
        run_after=now,
    )
    s.add(row)
    s.flush()
    message.external_id = f"{message.external_id}{REPARSED}S{row.id}"[:1000]
    message.meta = {**meta, "reparsed_as": f"S{row.id}", "reparsed_at": now.isoformat()}
    s.add(message)
    return row


def retry_failed_spool(s: Session, row: InboundSpool, now: datetime) -> None:
    row.state, row.attempts, row.run_after, row.locked_by = "queued", 0, now, None
    s.add(row)

"""The retention sweep: each kind of personal data is removed once its period in `[retention]` is over,
in batches, with a dry run that only counts; what it removed is recorded as counts, never content."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from gateway.config import RetentionSettings
from gateway.erasure import Subject, all_blob_references, drop_work_order_photos, erase, purge_blobs
from gateway.search import forget_removed_words
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import (
    AttachmentRow,
    CallLog,
    Citizen,
    CitizenIdentity,
    DataRemoval,
    InboundSpool,
    Message,
    PiiAccess,
    Ticket,
    TranscriptRow,
)

log = logging.getLogger(__name__)

_Apply = Callable[[Session, list[int], datetime], set[str]]
KINDS = ("voicemail_audio", "raw_messages", "photos", "identities", "pii_access", "call_log", "blobs")
_DAILY = timedelta(hours=23)  # a sweep a little early the next day is still "daily"


class Retention:
    """Applies `[retention]`: `run(dry_run=True)` counts what is due, `run()` removes it."""

    def __init__(
        self,
        engine: sa.Engine,
        blobs: BlobStore,
        settings: RetentionSettings,
        region: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.settings = settings
        self.region = region
        self.clock = clock

    # -- what is due -------------------------------------------------------------------------
    def _closed_before(self, days: int, now: datetime) -> Any:
        return select(Ticket.id).where(
            col(Ticket.closed_at).is_not(None), col(Ticket.closed_at) < now - timedelta(days=days)
        )

    def _audio(self, now: datetime) -> Any:
        closed = self._closed_before(self.settings.voicemail_audio_days, now)
        return select(AttachmentRow.id).where(
            AttachmentRow.kind == "audio", col(AttachmentRow.ticket_id).in_(closed)
        )

    def _photos(self, now: datetime) -> Any:
        closed = self._closed_before(self.settings.photo_days, now)
        return select(AttachmentRow.id).where(
            AttachmentRow.kind == "photo", col(AttachmentRow.ticket_id).in_(closed)
        )

    def _raw(self, now: datetime) -> Any:
        cutoff = now - timedelta(days=self.settings.raw_message_days)
        held = col(Message.raw_inline).is_not(None) | col(Message.raw_sha256).is_not(None)
        return select(Message.id).where(col(Message.received_at) < cutoff, held)

    def _citizens(self, now: datetime) -> Any:
        """Citizens with nothing newer than the cutoff: every ticket closed before it, no later contact."""
        cutoff = now - timedelta(days=round(self.settings.identity_months * 365.25 / 12))
        recent_tickets = select(Ticket.citizen_id).where(
            col(Ticket.citizen_id).is_not(None),
            col(Ticket.closed_at).is_(None) | (col(Ticket.closed_at) >= cutoff),
        )
        recent_messages = select(Message.citizen_id).where(
            col(Message.citizen_id).is_not(None), col(Message.received_at) >= cutoff
        )
        return (
            select(Citizen.id)
            .where(col(Citizen.created_at) < cutoff)
            .where(col(Citizen.id).in_(select(CitizenIdentity.citizen_id)))
            .where(col(Citizen.id).not_in(recent_tickets), col(Citizen.id).not_in(recent_messages))
        )

    def _pii_access(self, now: datetime) -> Any:
        return select(PiiAccess.id).where(
            col(PiiAccess.at) < now - timedelta(days=self.settings.pii_access_days)
        )

    def _calls(self, now: datetime) -> Any:
        return select(CallLog.id).where(
            col(CallLog.started_at) < now - timedelta(days=self.settings.call_log_days)
        )

    def _blob_candidates(self, now: datetime) -> list[str]:
        """Blob files older than the grace period that no row holds."""
        limit = (now - timedelta(days=self.settings.blob_grace_days)).timestamp()
        old = [digest for digest, mtime in self.blobs.digests() if mtime < limit]
        if not old:
            return []
        with session_scope(self.engine) as s:
            held = all_blob_references(s)
        return [d for d in old if d not in held]

    # -- the sweep ------------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False, actor: str = "retention") -> dict[str, int]:
        """Counts per kind of what is due (dry run) or was removed; a real run is recorded and logged."""
        now = self.clock()
        steps: dict[str, tuple[Callable[[datetime], Any], _Apply]] = {
            "voicemail_audio": (self._audio, self._drop_attachments),
            "raw_messages": (self._raw, self._drop_raw),
            "photos": (self._photos, self._drop_attachments),
            "identities": (self._citizens, self._pseudonymise),
            "pii_access": (self._pii_access, _delete_rows(PiiAccess)),
            "call_log": (self._calls, _delete_rows(CallLog)),
        }
        counts: dict[str, int] = {}
        freed: set[str] = set()
        for kind, (due, apply) in steps.items():
            if dry_run:
                with session_scope(self.engine) as s:
                    counts[kind] = int(s.exec(select(func.count()).select_from(due(now).subquery())).one())
                continue
            counts[kind] = 0
            while True:
                # A citizen costs about a dozen statements: 10 of them per transaction (of 500 rows)
                # keep each write as short as a batch of plain rows (about 0.3 s on SQLite).
                size = (
                    max(1, self.settings.batch_size // 50)
                    if kind == "identities"
                    else self.settings.batch_size
                )
                with session_scope(self.engine, write=True) as s:
                    ids = [i for i in s.exec(due(now).limit(size)).all() if i is not None]
                    if ids:
                        freed |= apply(s, ids, now)
                counts[kind] += len(ids)
                if len(ids) < size:
                    break
        if dry_run:
            counts["blobs"] = len(self._blob_candidates(now))
            return counts
        counts["blobs"] = purge_blobs(self.engine, self.blobs, freed | set(self._blob_candidates(now)))
        with session_scope(self.engine, write=True) as s:
            if counts.get("identities"):
                forget_removed_words(s)
            s.add(DataRemoval(at=now, actor=actor, action="retention", counts=counts))
        log.info("retention sweep removed %s", " ".join(f"{k}={v}" for k, v in counts.items()))
        return counts

    def _drop_attachments(self, s: Session, ids: list[int], now: datetime) -> set[str]:
        freed: set[str] = set()
        tickets: set[int] = set()
        for t in s.exec(select(TranscriptRow).where(col(TranscriptRow.attachment_id).in_(ids))):
            s.delete(t)
        s.flush()
        for a in s.exec(select(AttachmentRow).where(col(AttachmentRow.id).in_(ids))):
            freed.add(a.sha256)
            if a.ticket_id is not None and a.kind == "photo":
                tickets.add(a.ticket_id)
            s.delete(a)
        return freed | drop_work_order_photos(s, tickets)

    def _drop_raw(self, s: Session, ids: list[int], now: datetime) -> set[str]:
        freed: set[str] = set()
        for m in s.exec(select(Message).where(col(Message.id).in_(ids))):
            if m.raw_sha256:
                freed.add(m.raw_sha256)
            m.raw_inline = m.raw_sha256 = None
            s.add(m)
        for spool in s.exec(select(InboundSpool).where(col(InboundSpool.message_id).in_(ids))):
            spool.raw = None
            s.add(spool)
        return freed

    def _pseudonymise(self, s: Session, ids: list[int], now: datetime) -> set[str]:
        freed: set[str] = set()
        for citizen_id in ids:
            identities = s.exec(select(CitizenIdentity).where(CitizenIdentity.citizen_id == citizen_id)).all()
            tickets = s.exec(select(Ticket.id).where(Ticket.citizen_id == citizen_id)).all()
            subject = Subject(citizen_id, [(i.kind, i.value) for i in identities], [t for t in tickets if t])
            _, more = erase(
                s,
                subject,
                "retention",
                now,
                self.region,
                action="pseudonymisation",
                media=False,
                record=False,
            )
            freed |= more
        return freed


def _delete_rows(model: Any) -> _Apply:
    def delete(s: Session, ids: list[int], now: datetime) -> set[str]:
        s.execute(sa.delete(model).where(model.id.in_(ids)))
        return set()

    return delete


class RetentionSweeper:
    """The daily sweep inside the gateway's periodic loops: asks often, sweeps once a day."""

    def __init__(self, retention: Retention) -> None:
        self.retention = retention

    def due(self) -> bool:
        with session_scope(self.retention.engine) as s:
            last = s.exec(select(func.max(DataRemoval.at)).where(DataRemoval.action == "retention")).one()
        if last is None:
            return True
        if last.tzinfo is None:
            last = last.replace(tzinfo=self.retention.clock().tzinfo)
        return bool(self.retention.clock() - last >= _DAILY)

    def run_once_sync(self) -> int:
        if self.retention.settings.enabled and self.due():
            self.retention.run()
        return 0  # the loop waits its interval either way

    async def run_once(self) -> int:
        return await asyncio.to_thread(self.run_once_sync)

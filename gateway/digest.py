"""The administrator's morning digest: at opening time on a working day, one e-mail with the night's
voicemails (transcript or its flags, duration, link to the review) and the calls to return."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.privacy import mask_phone
from gateway.calendar import WorkingCalendar
from gateway.config import Config
from gateway.lease import try_acquire
from gateway.outbox import Outbox
from storage.db import session_scope
from storage.models import CallLog, OutboxMessage, Ticket, TranscriptRow


class MorningDigest:
    def __init__(
        self,
        engine: sa.Engine,
        config: Config,
        calendar: WorkingCalendar,
        outbox: Outbox,
        clock: Callable[[], datetime],
        owner: str,
    ) -> None:
        self.engine = engine
        self.config = config
        self.calendar = calendar
        self.outbox = outbox
        self.clock = clock
        self.owner = owner

    def run_once_sync(self) -> int:
        """Queue today's digest once it is opening time; 1 when queued now, else 0."""
        if not (self.config.digest.enabled and self.config.mail.enabled and self.config.digest.recipients):
            return 0
        now = self.clock()
        today = now.astimezone(self.calendar.tz).date()
        night = self.calendar.night_before(today)
        if night is None or now < night[1]:
            return 0
        # One digest a day across every process sharing the database: the day's lease decides.
        if not try_acquire(self.engine, f"digest:{today.isoformat()}", "digest", now, timedelta(days=3)):
            return 0
        with session_scope(self.engine, write=True) as s:
            if self._already_sent(s, today.isoformat()):
                return 0
            subject, body = self.compose(s, night[0], night[1])
            self.outbox.digest(s, self.config.digest.recipients, subject, body, today.isoformat())
        return 1

    def _already_sent(self, s: Session, day: str) -> bool:
        rows = s.exec(select(OutboxMessage.meta).where(OutboxMessage.kind == "digest")).all()
        return any(meta.get("day") == day for meta in rows)

    def compose(self, s: Session, since: datetime, until: datetime) -> tuple[str, str]:
        tz = self.calendar.tz
        base = self.config.gateway.public_base_url.rstrip("/")
        tickets = s.exec(
            select(Ticket)
            .where(Ticket.channel == "voice", col(Ticket.created_at) >= since, col(Ticket.created_at) < until)
            .order_by(col(Ticket.created_at))
        ).all()
        calls = s.exec(
            select(CallLog)
            .where(col(CallLog.started_at) >= since, col(CallLog.started_at) < until)
            .where(CallLog.needs_callback == True)  # noqa: E712
            .order_by(col(CallLog.started_at))
        ).all()
        window = f"{since.astimezone(tz):%d.%m. %H:%M} do {until.astimezone(tz):%d.%m. %H:%M}"
        lines = [
            f"Noćne govorne poruke od {window}",
            f"Pregled: {base}/review",
            "",
            f"Govornih poruka: {len(tickets)}; poziva za povratni poziv: {len(calls)}",
            "",
        ]
        for ticket in tickets:
            transcript = s.exec(
                select(TranscriptRow)
                .where(TranscriptRow.ticket_id == ticket.id)
                .order_by(col(TranscriptRow.id).desc())
            ).first()
            duration = s.exec(select(CallLog.duration_s).where(CallLog.ticket_id == ticket.id)).first()
            if transcript is None:
                text = "(još nije transkribovano)"
            elif not transcript.has_speech:
                text = "(bez govora)"
            else:
                flag = " [niska pouzdanost]" if transcript.low_confidence else ""
                text = f"{transcript.text}{flag}"
            lines += [
                f"{ticket.reference}  {ticket.created_at.astimezone(tz):%d.%m. %H:%M}"
                f"  {f'{duration:.0f} s' if duration else ''}  status: {ticket.status}",
                f"  {text}",
                f"  {base}/tickets/{ticket.reference}",
                "",
            ]
        if calls:
            lines.append("Pozvati:")
            # Numbers are partly hidden in mail; the full number is one click away in the UI.
            lines += [f"  {c.started_at.astimezone(tz):%d.%m. %H:%M}  {mask_phone(c.caller)}" for c in calls]
        day = until.astimezone(tz)
        return f"[Sistem48] Jutarnji pregled {day:%d.%m.%Y}: {len(tickets)} poruka", "\n".join(lines) + "\n"

"""The writers of a ticket's fields outside its lifecycle: location, transcript, photos, call-back
flags, notes and the timeline events every change leaves; TicketService (gateway/tickets.py) adds
the lifecycle on top. Routes never change these rows themselves."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import Session, select

from channels.base import Attachment
from gateway.calendar import WorkingCalendar
from gateway.config import Config
from gateway.outbox import Outbox
from gateway.photos import PHOTO_TYPES, gps_from_photo
from gateway.routing import Router
from gateway.search import search_text
from gateway.ticket_states import SYSTEM, Actor, TicketNotFound, Transcript, redact
from storage.models import AttachmentRow, Citizen, Message, Ticket, TicketEvent, TranscriptRow


class TicketRecords:
    """Shared state and the field writers of TicketService."""

    def __init__(
        self,
        config: Config,
        calendar: WorkingCalendar,
        router: Router,
        outbox: Outbox,
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.calendar = calendar
        self.router = router
        self.outbox = outbox
        self.clock = clock

    def load(self, session: Session, reference: str) -> Ticket:
        """The ticket with this reference, locked for a change in this transaction."""
        ticket = session.exec(select(Ticket).where(Ticket.reference == reference).with_for_update()).first()
        if ticket is None:
            raise TicketNotFound(reference)
        return ticket

    def get(self, session: Session, ticket_id: int) -> Ticket:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketNotFound(str(ticket_id))
        return ticket

    def refresh_work_order_text(self, session: Session, ticket: Ticket) -> None:
        """Recompute the utility's copy of the text: the reporter's known name, numbers, addresses out."""
        names: list[str] = []
        citizen = session.get(Citizen, ticket.citizen_id) if ticket.citizen_id is not None else None
        if citizen is not None and citizen.name:
            names = [w for w in re.split(r"[\s,.\"'<>()]+", citizen.name) if len(w) >= 3]
        ticket.search_text = search_text(
            ticket, citizen.name if citizen else None, self.config.gateway.default_region
        )
        ticket.work_order_subject = redact(ticket.subject, names) if ticket.subject is not None else None
        ticket.work_order_text = redact(ticket.description, names)

    def set_location(
        self,
        session: Session,
        ticket: Ticket,
        lat: float | None,
        lon: float | None,
        *,
        location_text: str | None = None,
    ) -> Ticket:
        """Where the problem is, from a photo's GPS or the wire (no event: the reporter sent it)."""
        if lat is not None and lon is not None:
            ticket.lat, ticket.lon = lat, lon
        if location_text is not None:
            ticket.location_text = location_text
        session.add(ticket)
        return ticket

    def attach_transcript(
        self, session: Session, ticket: Ticket, attachment_id: int, transcript: Transcript
    ) -> TranscriptRow:
        """A voicemail's transcript: kept as a row, the ticket's text when it has none yet, a category
        suggestion and an event saying what the transcriber made of it."""
        assert ticket.id is not None
        row = TranscriptRow(
            ticket_id=ticket.id,
            attachment_id=attachment_id,
            engine=transcript.engine,
            text=transcript.text,
            has_speech=transcript.has_speech,
            low_confidence=transcript.low_confidence,
            data=transcript.to_json(),
            created_at=self.clock(),
        )
        session.add(row)
        if transcript.text and not ticket.description.strip():
            ticket.description = transcript.text
            self.refresh_work_order_text(session, ticket)
        self.suggest_category(session, ticket, transcript.text)
        verdict = (
            "no speech"
            if not transcript.has_speech
            else ("low confidence" if transcript.low_confidence else "transcribed")
        )
        self.note(session, ticket, SYSTEM, f"voicemail {verdict} ({transcript.engine})", kind="transcript")
        session.flush()
        return row

    def add_work_photo(
        self,
        session: Session,
        ticket: Ticket,
        *,
        phase: str,
        filename: str,
        content_type: str,
        size: int,
        sha256: str,
    ) -> None:
        """A photo before or after the intervention, uploaded by the utility on its work-order page."""
        session.add(
            AttachmentRow(
                ticket_id=ticket.id,
                filename=filename[:200],
                content_type=content_type,
                size=size,
                sha256=sha256,
                kind="photo",
                phase=phase,
                created_at=self.clock(),
            )
        )

    def add_message_files(
        self,
        session: Session,
        ticket: Ticket | None,
        message: Message,
        stored: Sequence[tuple[Attachment, str]],
        *,
        phase: str = "before",
    ) -> list[AttachmentRow]:
        """The files of an inbound message (kept unlinked without a ticket): photos with their EXIF
        GPS, audio, other files; `phase="after"` for a utility's after-photos of its work order."""
        rows = []
        for att, sha in stored:
            kind = "file"
            gps = None
            if att.content_type.lower() in PHOTO_TYPES:
                kind = "photo"
                gps = gps_from_photo(att.data)
            elif att.content_type.lower().startswith("audio/") and phase == "before":
                kind = "audio"
            row = AttachmentRow(
                ticket_id=ticket.id if ticket else None,
                message_id=message.id,
                filename=att.filename,
                content_type=att.content_type,
                size=len(att.data),
                sha256=sha,
                kind=kind,
                phase=phase,
                lat=gps[0] if gps else None,
                lon=gps[1] if gps else None,
                created_at=self.clock(),
            )
            session.add(row)
            rows.append(row)
        session.flush()
        return rows

    def suggest_category(self, session: Session, ticket: Ticket, text: str) -> None:
        suggestion = self.router.suggest(text)
        if suggestion and suggestion != ticket.suggested_category:
            ticket.suggested_category = suggestion
            session.add(ticket)

    def set_location_from_text(
        self,
        session: Session,
        ticket: Ticket,
        location_text: str,
        lat: float | None,
        lon: float | None,
        *,
        source: str,
    ) -> bool:
        """A location found in what the citizen said or wrote; one already set (by the citizen's
        form or an operator) is never replaced. Returns whether it was set."""
        if ticket.location_text:
            return False
        ticket.location_text = location_text
        if lat is not None and lon is not None:
            ticket.lat, ticket.lon = lat, lon
        ticket.updated_at = self.clock()
        session.add(ticket)
        self._event(
            session, ticket, SYSTEM, "edit", None, None, f"location from the {source}: {location_text}"
        )
        return True

    def note(
        self,
        session: Session,
        ticket: Ticket,
        actor: Actor,
        text: str,
        *,
        public: bool = False,
        kind: str = "note",
    ) -> None:
        self._event(session, ticket, actor, kind, None, None, text, public=public)

    def mark_callback(self, session: Session, ticket: Ticket, actor: Actor, needed: bool) -> None:
        ticket.needs_callback = needed
        session.add(ticket)
        note = "call back requested" if needed else "called back"
        self._event(session, ticket, actor, "callback", None, None, note)

    def mark_called_back(
        self, session: Session, ticket: Ticket, actor: Actor, note: str | None = None
    ) -> None:
        """An operator returned the call: off the call-back list, in the timeline (the call log's
        side is gateway/wire_reports.py `mark_ticket_called_back`, which calls this)."""
        ticket.needs_callback = False
        session.add(ticket)
        said = "called back" + (f": {note}" if note else "")
        self._event(session, ticket, actor, "callback", None, None, said)

    def _event(
        self,
        session: Session,
        ticket: Ticket,
        actor: Actor,
        kind: str,
        from_status: str | None,
        to_status: str | None,
        note: str | None,
        *,
        public: bool = False,
    ) -> None:
        assert ticket.id is not None
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                at=self.clock(),
                actor=actor.label,
                kind=kind,
                from_status=from_status,
                to_status=to_status,
                note=note,
                public=public,
            )
        )

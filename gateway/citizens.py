"""Citizens and their identities (phone numbers, e-mail addresses): the one writer of those rows and
the one place that normalises an address as it came off the wire (E.164, lower-cased mail)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, select

from channels.base import ChannelKind
from channels.phone import normalise_phone
from storage.models import Citizen, CitizenIdentity, PiiAccess


def normalise_email(raw: str) -> str:
    return raw.strip().strip("<>").strip().lower()


def identity_of(channel: ChannelKind | str, sender: str, region: str) -> tuple[str, str] | None:
    """(kind, value) of a sender as the wire gave it: an e-mail address or an E.164 number; None
    for an anonymous caller or an alphanumeric SMS sender (nobody to answer)."""
    if channel == ChannelKind.EMAIL or "@" in sender:
        value = normalise_email(sender)
        return ("email", value) if value else None
    number = normalise_phone(sender, region)
    return ("phone", number) if number else None


def normalise_address(channel: ChannelKind | str, address: str, region: str) -> str:
    """The stored form of an address (a recipient of a delivery report, a caller); as given when it
    is no number or mail address."""
    identity = identity_of(channel, address, region)
    return identity[1] if identity else address


class Citizens:
    """Finds or creates the citizen behind an address and keeps their identities' flags."""

    def __init__(self, region: str, clock: Callable[[], datetime]) -> None:
        self.region = region
        self.clock = clock

    def find_or_create(
        self, s: Session, channel: ChannelKind, sender: str, name: str | None
    ) -> tuple[Citizen | None, CitizenIdentity | None]:
        """The sender's citizen; the identity too when both were just created (its only one)."""
        identity_key = identity_of(channel, sender, self.region)
        if identity_key is None:
            return None, None
        kind, value = identity_key
        identity = s.exec(
            select(CitizenIdentity).where(CitizenIdentity.kind == kind, CitizenIdentity.value == value)
        ).first()
        if identity is not None:
            citizen = s.get(Citizen, identity.citizen_id)
            if citizen is not None and name and not citizen.name:
                citizen.name = name
            return citizen, None
        citizen = Citizen(name=name, created_at=self.clock())
        s.add(citizen)
        s.flush()
        assert citizen.id is not None
        identity = CitizenIdentity(citizen_id=citizen.id, kind=kind, value=value, created_at=self.clock())
        s.add(identity)  # flushed with the ticket; a concurrent twin fails on the unique index there
        return citizen, identity

    def set_script(self, s: Session, citizen: Citizen, script: str) -> None:
        citizen.script = script
        s.add(citizen)

    def add_phone(self, s: Session, citizen_id: int, raw: str) -> None:
        """A second way to reach a known citizen (staff typed it in); ignored when unknown or taken."""
        phone = normalise_phone(raw, self.region)
        if phone is None:
            return
        exists = s.exec(
            select(CitizenIdentity).where(CitizenIdentity.kind == "phone", CitizenIdentity.value == phone)
        ).first()
        if exists is None:
            s.add(CitizenIdentity(citizen_id=citizen_id, kind="phone", value=phone))

    def phone_of(self, s: Session, citizen_id: int | None) -> CitizenIdentity | None:
        return s.exec(
            select(CitizenIdentity).where(
                CitizenIdentity.citizen_id == citizen_id, CitizenIdentity.kind == "phone"
            )
        ).first()

    def set_opted_out(self, s: Session, identity: CitizenIdentity, opted_out: bool) -> None:
        """STOP / START by SMS."""
        identity.opted_out = opted_out
        s.add(identity)

    def mark_undeliverable(self, s: Session, address: str, reason: str) -> None:
        """A genuine bounce of our own mail: automatic mail to this address stops."""
        identity = s.exec(
            select(CitizenIdentity).where(
                CitizenIdentity.kind == "email", CitizenIdentity.value == normalise_email(address)
            )
        ).first()
        if identity is not None:
            identity.undeliverable = True
            identity.undeliverable_reason = reason
            s.add(identity)


def record_pii_access(
    s: Session, actor: str, ticket_id: int | None, citizen_id: int | None, what: str
) -> None:
    """Every view of a citizen's PII by staff is audit-logged, in the viewing transaction."""
    s.add(PiiAccess(actor=actor, ticket_id=ticket_id, citizen_id=citizen_id, what=what))

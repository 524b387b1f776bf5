"""The ticket's vocabulary: statuses and the literal transition table, who acts (Actor), what a
change carries (Change), the errors the API maps to HTTP statuses, and the utility's redaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from gateway.text import cyr_to_lat, lat_to_cyr, mask_pii


class Status(StrEnum):
    RECEIVED = "received"  # registered on arrival; voicemail drafts; incomplete reports
    OPEN = "open"  # validated by an operator: the SLA clock runs
    ASSIGNED = "assigned"  # work order sent to a utility
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    WAITING = "waiting"  # clock paused, with a reason (waiting for the citizen, for weather …)
    FORWARDED = "forwarded"  # outside the municipality's competence, with where it went
    DUPLICATE = "duplicate"
    DISCARDED = "discarded"  # spam, empty voicemail, prank


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.OPEN, S.WAITING, S.FORWARDED, S.DUPLICATE, S.DISCARDED}),
    S.OPEN: frozenset({S.ASSIGNED, S.WAITING, S.RESOLVED, S.FORWARDED, S.DUPLICATE, S.DISCARDED}),
    S.ASSIGNED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.WAITING, S.OPEN, S.FORWARDED}),
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.WAITING, S.ASSIGNED}),
    S.WAITING: frozenset({S.RECEIVED, S.OPEN, S.ASSIGNED, S.IN_PROGRESS, S.DISCARDED, S.CLOSED}),
    S.RESOLVED: frozenset({S.CLOSED, S.OPEN}),  # OPEN = the citizen says "not fixed"
    S.FORWARDED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.DUPLICATE: frozenset(),
    S.DISCARDED: frozenset(),
}
CLOCK_RUNNING = frozenset({S.OPEN, S.ASSIGNED, S.IN_PROGRESS})
TERMINAL = frozenset({S.CLOSED, S.DUPLICATE, S.DISCARDED})
# Where a reply from the citizen may still thread in (a resolved ticket can be reopened).
THREADABLE = frozenset(set(Status) - TERMINAL - {S.FORWARDED})


def redact(text: str, names: list[str]) -> str:
    """mask_pii plus the reporter's own name in either script."""
    for name in names:
        for form in {name, cyr_to_lat(name), lat_to_cyr(name)}:
            text = re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", "[ime skriveno]", text, flags=re.IGNORECASE)
    return mask_pii(text)


class TicketError(Exception):
    """Base for errors the API maps to HTTP statuses."""


class TicketNotFound(TicketError):
    pass


class TransitionRefused(TicketError):
    """The transition is not in the table (HTTP 409)."""


class MissingDetail(TicketError):
    """The transition is allowed but needs something (a category, a note, …) (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str  # system | admin | operator | utility | citizen
    utility: str | None = None

    @property
    def label(self) -> str:
        return f"{self.role}:{self.name}"


SYSTEM = Actor("gateway", "system")


@dataclass(frozen=True, slots=True)
class Change:
    """What a transition needs besides the target status."""

    note: str | None = None
    category: str | None = None
    utility: str | None = None
    forwarded_to: str | None = None
    duplicate_of: str | None = None  # reference of the ticket this one duplicates
    reopen: bool = False


class Transcript(Protocol):
    """What a transcriber returns (voicemail.transcribe.Transcript); the core needs only this."""

    @property
    def engine(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def has_speech(self) -> bool: ...
    @property
    def low_confidence(self) -> bool: ...
    def to_json(self) -> dict[str, Any]: ...

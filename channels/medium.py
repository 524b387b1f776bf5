"""What a medium package hands the core when it sets itself up: each medium's `setup.py` returns its
channels, notifiers and spool decoders in this one shape, and `build_gateway` loops over the media."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from channels.base import Channel, ChannelKind, DeliveryReport, InboundContact, Notifier, RawInbound

# Parses spooled raw bytes (committed before the wire was answered) into a contact and its reports.
Decoder = Callable[[RawInbound], tuple[InboundContact, list[DeliveryReport]]]


@dataclass(frozen=True, slots=True)
class CoreLinks:
    """What the core lends a medium: its clock, the working-hours verdict for an instant
    ("business" | "after_hours" | "holiday") and the status of a ticket by its digits."""

    clock: Callable[[], datetime]
    hours: Callable[[datetime], str]
    status_lookup: Callable[[str], Awaitable[str | None]]


@dataclass(slots=True)
class MediumParts:
    channels: list[Channel] = field(default_factory=list)
    # One device or line (a modem, a SIP registration): the core leases it to one process at a time.
    exclusive: bool = False
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    decoders: dict[ChannelKind, Decoder] = field(default_factory=dict)

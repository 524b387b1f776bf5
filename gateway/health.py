"""Health of what is not a channel: outbound delivery per medium (the mail relay, the modem's sending
side, webhooks), as /healthz reports it next to the channels and the blob store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.base import ChannelState


@dataclass
class _Medium:
    state: ChannelState = ChannelState.UP
    detail: str = ""
    since: datetime | None = None
    permanent_in_a_row: int = 0
    last_sent: datetime | None = None


class DeliveryHealth:
    """Tracks the outcome of each delivery attempt per outbound medium.

    A temporary failure (relay 4xx, modem gone) degrades the medium at once. A permanent one is
    usually the recipient's fault (unknown mailbox, bad number), so only `permanent_streak` of them
    in a row — a relay answering 5xx to everything — count against the medium. Any success heals it.
    """

    def __init__(self, clock: Callable[[], datetime], *, permanent_streak: int = 3) -> None:
        self._clock = clock
        self._streak = permanent_streak
        self._media: dict[str, _Medium] = {}
        self._lock = threading.Lock()

    def sent(self, medium: str) -> None:
        with self._lock:
            m = self._media.setdefault(medium, _Medium())
            now = self._clock()
            if m.state is not ChannelState.UP:
                m.state, m.detail, m.since = ChannelState.UP, "", now
            m.permanent_in_a_row = 0
            m.last_sent = now

    def failed(self, medium: str, reason: str, *, permanent: bool) -> None:
        with self._lock:
            m = self._media.setdefault(medium, _Medium())
            m.permanent_in_a_row = m.permanent_in_a_row + 1 if permanent else 0
            if permanent and m.permanent_in_a_row < self._streak:
                return
            kind = "refusing" if permanent else "failing temporarily"
            if m.state is not ChannelState.DEGRADED:
                m.since = self._clock()
            m.state, m.detail = ChannelState.DEGRADED, f"{kind}: {reason[:200]}"

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                name: {
                    "state": m.state.value,
                    "detail": m.detail,
                    "since": m.since.isoformat() if m.since else None,
                    "last_sent": m.last_sent.isoformat() if m.last_sent else None,
                }
                for name, m in sorted(self._media.items())
            }

    def healthy(self) -> bool:
        with self._lock:
            return all(m.state is ChannelState.UP for m in self._media.values())

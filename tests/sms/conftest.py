"""Fixtures for the SMS medium: a real Gammu dummy modem in a temp dir and a recording inbox."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.base import (
    CallRecord,
    DeliveryReport,
    InboundContact,
    IngestResult,
)
from sms.settings import SmsSettings
from sms.simulator import ensure_dummy_dir


class InboxDown(Exception):
    """The core failing on purpose."""


@dataclass
class RecordingInbox:
    """Stands in for the core: keeps what it got, unique on (channel, external_id).

    With `journal`, every new contact is appended and fsync'd before ingest returns, so the
    record survives a SIGKILL of the process the way a committed database row would.
    """

    journal: Path | None = None
    fail_ingest: int = 0  # raise on the next N ingests
    fail_delivery: int = 0
    contacts: list[InboundContact] = field(default_factory=list)
    duplicates: list[InboundContact] = field(default_factory=list)
    deliveries: list[DeliveryReport] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}
        if self.journal is not None and self.journal.exists():
            for line in self.journal.read_text().splitlines():
                entry = json.loads(line)
                self._seen[(entry["channel"], entry["external_id"])] = len(self._seen) + 1

    async def ingest(self, contact: InboundContact) -> IngestResult:
        if self.fail_ingest:
            self.fail_ingest -= 1
            raise InboxDown("database is locked")
        key = (str(contact.channel), contact.external_id)
        if key in self._seen:
            self.duplicates.append(contact)
            return IngestResult(self._seen[key], None, created=False, duplicate=True)
        if self.journal is not None:
            entry = {"channel": key[0], "external_id": key[1], "sender": contact.sender,
                     "body": contact.body, "meta": dict(contact.meta)}  # fmt: skip
            with self.journal.open("a") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self._seen[key] = len(self._seen) + 1
        self.contacts.append(contact)
        return IngestResult(self._seen[key], f"S48-{self._seen[key]}", created=True, duplicate=False)

    async def record_delivery(self, report: DeliveryReport) -> None:
        if self.fail_delivery:
            self.fail_delivery -= 1
            raise InboxDown("database is locked")
        self.deliveries.append(report)

    async def record_call(self, call: CallRecord) -> None:
        self.calls.append(call)

    def bodies(self) -> list[str]:
        return [c.body for c in self.contacts]


class FakeClock:
    """The injected clock: moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def modem_dir(tmp_path: Path) -> Path:
    return ensure_dummy_dir(tmp_path / "modem")


@pytest.fixture
def settings(modem_dir: Path) -> SmsSettings:
    return SmsSettings(device=str(modem_dir), call_timeout_s=10, poll_interval_s=0.05, send_per_minute=600)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def inbox() -> RecordingInbox:
    return RecordingInbox()


def sms_sender(n: int) -> str:
    return f"+38164{n:07d}"

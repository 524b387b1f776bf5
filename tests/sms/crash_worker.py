"""A gateway process that SIGKILLs itself at a chosen point of the ingest/delete round.

Run as `python -m tests.sms.crash_worker MODEM_DIR JOURNAL POINT N`; POINT is `ingest` (dies in
the Nth ingest before the core committed) or `delete` (dies at the Nth delete, after the core
committed) or `none` (runs one clean round).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from channels.base import InboundContact, IngestResult
from sms.channel import SmsChannel
from sms.modem import Modem
from sms.settings import SmsSettings
from tests.sms.conftest import RecordingInbox


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class CrashingInbox(RecordingInbox):
    kill_at = 0

    async def ingest(self, contact: InboundContact) -> IngestResult:
        self.kill_at -= 1
        if self.kill_at == 0:
            die()
        return await super().ingest(contact)


class CrashingModem(Modem):
    kill_at = 0

    async def delete(self, locations: Iterable[int]) -> int:
        self.kill_at -= 1
        if self.kill_at == 0:
            die()
        return await super().delete(locations)


async def main(modem_dir: Path, journal: Path, point: str, n: int) -> None:
    settings = SmsSettings(device=str(modem_dir))
    modem = CrashingModem(settings)
    inbox = CrashingInbox(journal=journal)
    if point == "ingest":
        inbox.kill_at = n
    elif point == "delete":
        modem.kill_at = n
    channel = SmsChannel(settings, modem, background=False)
    await channel.start(inbox)
    try:
        print(await channel.poll_once(), len(inbox.contacts), len(inbox.duplicates))
    finally:
        await channel.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])))

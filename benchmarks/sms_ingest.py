"""SMS ingest throughput: injected SMS -> contacts via SmsChannel.poll_once, vs a bare gammu loop.

Both runs read and delete the same injected inbox (a copy each) on Gammu's dummy driver; the
difference per SMS is what our channel pipeline costs (reassembly, hashing, ingest, bookkeeping).

    .venv/bin/python benchmarks/sms_ingest.py [--count 1000] [--multipart 0.2]
        [--inbox core | package.module:factory]   # core = build_gateway(...).inbox on SQLite
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gammu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.base import (
    CallRecord,
    DeliveryReport,
    InboundContact,
    Inbox,
    IngestResult,
)
from sms.channel import SmsChannel
from sms.modem import Modem
from sms.settings import SmsSettings
from sms.simulator import ensure_dummy_dir, inbox_files, inject_incoming

TARGET_MS = 5.0
WORDS = [
    "ulica",
    "rasveta",
    "kvar",
    "voda",
    "kontejner",
    "rupa",
    "put",
    "park",
    "drvo",
    "buka",
    "Šabac",
    "Ђорђе",
    "Његошева",
]


class MemoryInbox:
    """The default inbox: unique on (channel, external_id), nothing else."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], int] = {}

    async def ingest(self, contact: InboundContact) -> IngestResult:
        key = (str(contact.channel), contact.external_id)
        if key in self.seen:
            return IngestResult(self.seen[key], None, created=False, duplicate=True)
        self.seen[key] = len(self.seen) + 1
        return IngestResult(self.seen[key], None, created=True, duplicate=False)

    async def record_delivery(self, report: DeliveryReport) -> None:
        pass

    async def record_call(self, call: CallRecord) -> None:
        pass


class TimedInbox:
    """Measures the time spent inside the inbox, to tell the channel's cost from the core's."""

    def __init__(self, inner: Inbox) -> None:
        self.inner = inner
        self.ingest_s = 0.0

    async def ingest(self, contact: InboundContact) -> IngestResult:
        began = time.perf_counter()
        try:
            return await self.inner.ingest(contact)
        finally:
            self.ingest_s += time.perf_counter() - began

    async def record_delivery(self, report: DeliveryReport) -> None:
        await self.inner.record_delivery(report)

    async def record_call(self, call: CallRecord) -> None:
        await self.inner.record_call(call)


def core_inbox(data_dir: Path) -> Inbox:
    from benchmarks.core import core_inbox as real_core

    return real_core(data_dir)


def load_inbox(spec: str | None, data_dir: Path) -> Inbox:
    """None: in memory; "core": the real core on SQLite; "pkg.module:factory": factory()."""
    if not spec:
        return MemoryInbox()
    if spec == "core":
        return core_inbox(data_dir)
    module, _, attr = spec.partition(":")
    factory: Any = getattr(importlib.import_module(module), attr)
    inbox: Inbox = factory()
    return inbox


def populate(modem_dir: Path, count: int, multipart: float, rng: random.Random) -> int:
    ensure_dummy_dir(modem_dir)
    parts = 0
    for i in range(count):
        words = rng.randint(25, 45) if rng.random() < multipart else rng.randint(3, 12)
        text = f"#{i} " + " ".join(rng.choice(WORDS) for _ in range(words))
        parts += inject_incoming(modem_dir, f"+38164{rng.randrange(10**7):07d}", text)
    return parts


def bare_gammu(modem_dir: Path) -> tuple[float, int]:
    """The floor: walk the inbox with GetNextSMS and DeleteSMS every location."""
    sm = gammu.StateMachine()
    sm.SetConfig(0, {"Model": "dummy", "Connection": "none", "Device": str(modem_dir)})
    sm.Init()
    began = time.perf_counter()
    locations: list[int] = []
    try:
        batch = sm.GetNextSMS(Folder=0, Start=True)
        while True:
            locations.extend(m["Location"] for m in batch)
            batch = sm.GetNextSMS(Folder=0, Location=batch[0]["Location"])
    except gammu.ERR_EMPTY:
        pass
    for location in locations:
        sm.DeleteSMS(Folder=0, Location=location)
    elapsed = time.perf_counter() - began
    sm.Terminate()
    return elapsed, len(locations)


async def channel_run(modem_dir: Path, inbox: Inbox) -> tuple[float, int]:
    settings = SmsSettings(device=str(modem_dir))
    channel = SmsChannel(settings, Modem(settings), background=False)
    await channel.start(inbox)
    try:
        began = time.perf_counter()
        ingested = await channel.poll_once()
        elapsed = time.perf_counter() - began
    finally:
        await channel.stop()
    return elapsed, ingested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--multipart", type=float, default=0.2)
    parser.add_argument(
        "--inbox",
        help='"core" (GatewayInbox on SQLite) or module:factory returning an Inbox; default: in memory',
    )
    parser.add_argument("--seed", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=3, help="best of N, alternating the two loops")
    args = parser.parse_args()

    bare_runs: list[float] = []
    chan_runs: list[tuple[float, float]] = []  # (poll_once, of which inbox.ingest)
    with tempfile.TemporaryDirectory(prefix="sms-bench-") as tmp:
        source = Path(tmp) / "source"
        parts = populate(source, args.count, args.multipart, random.Random(args.seed))
        for run in range(args.repeat):
            bare_dir, chan_dir = Path(tmp) / f"bare{run}", Path(tmp) / f"channel{run}"
            shutil.copytree(source, bare_dir)
            shutil.copytree(source, chan_dir)
            bare_s, bare_parts = bare_gammu(bare_dir)
            assert bare_parts == parts, (bare_parts, parts)
            bare_runs.append(bare_s)
            inbox = TimedInbox(load_inbox(args.inbox, Path(tmp) / f"core{run}"))
            chan_s, ingested = asyncio.run(channel_run(chan_dir, inbox))
            left = len(inbox_files(chan_dir))
            assert ingested == args.count and left == 0, (ingested, left)
            chan_runs.append((chan_s, inbox.ingest_s))

    bare_s = min(bare_runs)
    chan_s, ingest_s = min(chan_runs)
    # The gateway's pipeline per SMS: everything on top of the bare read/delete loop — the channel's
    # reassembly and bookkeeping plus, with --inbox core, the durable ingest (blobs, commit, ticket).
    # Ingests of one poll overlap (group commit), so their summed time is not subtracted.
    overhead_ms = (chan_s - bare_s) / args.count * 1000
    print(f"SMS: {args.count} ({parts} parts, {args.multipart:.0%} multipart), best of {args.repeat}")
    print(f"inbox                  : {args.inbox or 'in-memory (channel cost only)'}")
    print(f"bare gammu read+delete : {bare_s:7.3f} s  {args.count / bare_s:8.1f} SMS/s")
    print(f"SmsChannel.poll_once   : {chan_s:7.3f} s  {args.count / chan_s:8.1f} SMS/s")
    print(f"ratio channel/bare     : {chan_s / bare_s:7.2f}x")
    print(f"inbox.ingest (summed)  : {ingest_s:7.3f} s  (overlapping calls)")
    verdict = "OK" if overhead_ms <= TARGET_MS else "OVER TARGET"
    print(f"pipeline overhead      : {overhead_ms:7.3f} ms/SMS (target <= {TARGET_MS} ms) {verdict}")


if __name__ == "__main__":
    main()

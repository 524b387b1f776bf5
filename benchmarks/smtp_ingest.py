"""SMTP ingest throughput: bare aiosmtpd answering 250 vs MailChannel with a durable inbox.

Run: .venv/bin/python benchmarks/smtp_ingest.py [--inbox module:factory] [--quick]
The server runs in its own process (one core), the client in this one; both on 127.0.0.1.
`--inbox` names a callable `factory(data_dir: Path) -> Inbox` (or an awaitable of one), so the
real core can be measured once it exists; the default writes each raw mail to a file with
write + fsync + rename + directory fsync before returning, as the core's blob store does.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.smtp import SMTP

from channels.base import (
    CallRecord,
    DeliveryReport,
    InboundContact,
    IngestResult,
)
from mail.channel import MailChannel
from mail.settings import MailSettings

RCPT = "sistem48@sistem48.localhost"


class FsyncInbox:
    """Durable like the core: raw bytes fsync'd and renamed into place before ingest returns."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self.tmp = data_dir / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def _store(self, contact: InboundContact) -> None:
        assert contact.raw is not None
        name = uuid.uuid4().hex
        temp = self.tmp / name
        with open(temp, "wb") as handle:
            handle.write(contact.raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.dir / name)
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def ingest(self, contact: InboundContact) -> IngestResult:
        await asyncio.to_thread(self._store, contact)
        self.count += 1
        return IngestResult(ticket_id=self.count, reference=None, created=True, duplicate=False)

    async def record_delivery(self, report: DeliveryReport) -> None:
        return None

    async def record_call(self, call: CallRecord) -> None:
        return None


def default_factory(data_dir: Path) -> FsyncInbox:
    return FsyncInbox(data_dir)


class MemoryInbox(FsyncInbox):
    """No storage at all: isolates the channel's own cost (parse + thread hop)."""

    async def ingest(self, contact: InboundContact) -> IngestResult:
        self.count += 1
        return IngestResult(ticket_id=self.count, reference=None, created=True, duplicate=False)


def memory_factory(data_dir: Path) -> MemoryInbox:
    return MemoryInbox(data_dir)


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 OK"


async def _serve(kind: str, inbox_spec: str, port_queue: Any, stop_event: Any) -> None:
    loop = asyncio.get_running_loop()
    if kind == "bare":
        server = await loop.create_server(
            lambda: SMTP(_Sink(), hostname="bench.local", enable_SMTPUTF8=True),
            "127.0.0.1",
            0,
            backlog=1024,
        )
        port_queue.put(int(server.sockets[0].getsockname()[1]))
        await asyncio.to_thread(stop_event.wait)
        server.close()
        return
    module_name, _, attr = inbox_spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    with tempfile.TemporaryDirectory(prefix="s48-bench-") as data_dir:
        inbox = factory(Path(data_dir))
        if inspect.isawaitable(inbox):
            inbox = await inbox
        settings = MailSettings(
            listen_port=0,
            max_sessions_per_ip=1000,
            max_message_bytes=10_000_000,
            command_call_limit=1_000_000,
        )
        channel = MailChannel(settings)
        await channel.start(inbox)
        port_queue.put(channel.port)
        await asyncio.to_thread(stop_event.wait)
        await channel.stop()


def _server_process(kind: str, inbox_spec: str, port_queue: Any, stop_event: Any) -> None:
    asyncio.run(_serve(kind, inbox_spec, port_queue, stop_event))


def make_message(size: int, index: int) -> bytes:
    head = (
        f"From: Petar Petrovic <petar{index}@example.org>\r\nTo: {RCPT}\r\n"
        f"Subject: Prijava kvara {index}\r\nMessage-ID: <bench-{uuid.uuid4().hex}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Rupa na kolovozu u ulici Kralja Petra, kod broja 12, opasno za automobile.\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


async def _expect(reader: asyncio.StreamReader, code: bytes) -> None:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            if not line.startswith(code):
                raise RuntimeError(f"unexpected reply {line!r}")
            return


async def _session(port: int, messages: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _expect(reader, b"220")
    writer.write(b"EHLO client.bench\r\n")
    await _expect(reader, b"250")
    for message in messages:
        writer.write(f"MAIL FROM:<petar@example.org>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode())
        await _expect(reader, b"250")
        await _expect(reader, b"250")
        await _expect(reader, b"354")
        writer.write(message + b".\r\n")
        sent = time.perf_counter()
        await writer.drain()
        await _expect(reader, b"250")
        latencies.append(time.perf_counter() - sent)
    writer.write(b"QUIT\r\n")
    await writer.drain()
    writer.close()


async def _drive(port: int, sessions: int, total: int, size: int) -> tuple[float, float]:
    per_session = max(1, total // sessions)
    messages = [make_message(size, i) for i in range(per_session)]
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_session(port, messages, latencies) for _ in range(sessions)))
    elapsed = time.perf_counter() - started
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies)
    return len(latencies) / elapsed, p99


def measure(kind: str, inbox_spec: str, sessions: int, total: int, size: int) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    port_queue, stop_event = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_server_process, args=(kind, inbox_spec, port_queue, stop_event))
    process.start()
    try:
        port = port_queue.get(timeout=30)
        asyncio.run(_drive(port, sessions, max(sessions, total // 10), size))  # warm-up
        return asyncio.run(_drive(port, sessions, total, size))
    finally:
        stop_event.set()
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", default="benchmarks.core:core_inbox")
    parser.add_argument("--quick", action="store_true", help="fewer messages (smoke run)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    print(
        f"{'size':>7} {'sessions':>8} {'bare msg/s':>11} {'channel msg/s':>14} {'ratio':>6}"
        f" {'bare p99 ms':>12} {'channel p99 ms':>15}"
    )
    for size, total in ((2_000, 2_000), (200_000, 200)):
        for sessions in (1, 50):
            count = max(sessions, int(total * scale))
            bare_rate, bare_p99 = measure("bare", args.inbox, sessions, count, size)
            channel_rate, channel_p99 = measure("channel", args.inbox, sessions, count, size)
            print(
                f"{size // 1000:>5}KB {sessions:>8} {bare_rate:>11.0f} {channel_rate:>14.0f}"
                f" {channel_rate / bare_rate:>6.2f} {bare_p99 * 1000:>12.1f} {channel_p99 * 1000:>15.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

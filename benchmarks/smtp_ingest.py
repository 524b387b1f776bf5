"""SMTP ingest throughput: bare aiosmtpd answering 250 vs the gateway's durable pipeline.

Run: .venv/bin/python benchmarks/smtp_ingest.py [--inbox gateway|module:factory] [--quick] [--db URL]
The server runs in its own process, the client in this one; both on 127.0.0.1.
The default (`gateway`) is the real thing, as `sistem48 run --only mail` runs it: MailChannel, the
spool committed (SQLite FULL sync or PostgreSQL) before each 250, and the spool worker parsing mails into
tickets in the same process meanwhile. "drained" is when the last ticket existed, after the load.
`--inbox module:factory` names `factory(data_dir: Path) -> Inbox` instead (e.g. `FsyncInbox` below).
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


def _gateway_config(data_dir: Path, db_url: str | None) -> Any:
    from gateway.config import load_config, parse_config

    data = load_config(None).model_dump(mode="json")
    data["gateway"]["data_dir"] = str(data_dir)
    data["database"]["url"] = db_url or f"sqlite:///{data_dir}/bench.db"
    data["sms"]["enabled"] = data["sip"]["enabled"] = data["transcription"]["enabled"] = False
    data["http"]["enabled"] = False
    data["mail"].update(
        enabled=True,
        listen_port=0,
        max_sessions_per_ip=1000,
        max_message_bytes=10_000_000,
        command_call_limit=1_000_000,
    )
    return parse_config(data, "<bench>")


async def _serve_gateway(db_url: str | None, port_queue: Any, stop_event: Any) -> None:
    from gateway.app import build_gateway
    from storage.db import upgrade

    with tempfile.TemporaryDirectory(prefix="s48-bench-") as data_dir:
        config = _gateway_config(Path(data_dir), db_url)
        upgrade(config.database_url())
        gw = build_gateway(config, roles={"mail"})
        await gw.start()
        port_queue.put((gw.channels[0].port, config.database_url()))
        await asyncio.to_thread(stop_event.wait)
        await gw.stop()


async def _serve(kind: str, inbox_spec: str, port_queue: Any, stop_event: Any, db_url: str | None) -> None:
    loop = asyncio.get_running_loop()
    if kind == "channel" and inbox_spec == "gateway":
        await _serve_gateway(db_url, port_queue, stop_event)
        return
    if kind == "bare":
        server = await loop.create_server(
            lambda: SMTP(_Sink(), hostname="bench.local", enable_SMTPUTF8=True),
            "127.0.0.1",
            0,
            backlog=1024,
        )
        port_queue.put((int(server.sockets[0].getsockname()[1]), None))
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
        port_queue.put((channel.port, None))
        await asyncio.to_thread(stop_event.wait)
        await channel.stop()


def _server_process(kind: str, inbox_spec: str, port_queue: Any, stop_event: Any, db_url: str | None) -> None:
    asyncio.run(_serve(kind, inbox_spec, port_queue, stop_event, db_url))


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


def _pending_spool(db_url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM inbound_spool WHERE state IN ('queued', 'running')"
            return int(conn.execute(sa.text(query)).scalar_one())
    finally:
        engine.dispose()


def measure(
    kind: str, inbox_spec: str, sessions: int, total: int, size: int, db_url: str | None = None
) -> tuple[float, float, float | None]:
    """(accepted msg/s, p99 accept latency s, seconds after the load until every mail was a ticket)."""
    ctx = mp.get_context("spawn")
    port_queue, stop_event = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_server_process, args=(kind, inbox_spec, port_queue, stop_event, db_url))
    process.start()
    try:
        port, spool_db = port_queue.get(timeout=60)
        asyncio.run(_drive(port, sessions, max(sessions, total // 10), size))  # warm-up
        if spool_db:
            while _pending_spool(spool_db):
                time.sleep(0.05)
        rate, p99 = asyncio.run(_drive(port, sessions, total, size))
        drained = None
        if spool_db:
            load_end = time.perf_counter()
            while _pending_spool(spool_db):
                time.sleep(0.02)
            drained = time.perf_counter() - load_end
        return rate, p99, drained
    finally:
        stop_event.set()
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbox", default="gateway")
    parser.add_argument(
        "--db", default=None, help="database URL for the gateway (default: SQLite in a temp dir)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer messages (smoke run)")
    parser.add_argument("--only", default="", help="e.g. 2000x50: just that size and session count")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    print(
        f"{'size':>7} {'sessions':>8} {'bare msg/s':>11} {'gateway msg/s':>14} {'ratio':>6}"
        f" {'bare p99 ms':>12} {'gateway p99 ms':>15} {'drained s':>10}"
    )
    for size, total in ((2_000, 2_000), (200_000, 200)):
        for sessions in (1, 50):
            if args.only and args.only != f"{size}x{sessions}":
                continue
            count = max(sessions, int(total * scale))
            bare_rate, bare_p99, _ = measure("bare", args.inbox, sessions, count, size)
            rate, p99, drained = measure("channel", args.inbox, sessions, count, size, args.db)
            print(
                f"{size // 1000:>5}KB {sessions:>8} {bare_rate:>11.0f} {rate:>14.0f}"
                f" {rate / bare_rate:>6.2f} {bare_p99 * 1000:>12.1f} {p99 * 1000:>15.1f}"
                f" {'-' if drained is None else f'{drained:.1f}':>10}",
                flush=True,
            )


if __name__ == "__main__":
    main()

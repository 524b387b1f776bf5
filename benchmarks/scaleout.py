"""Scale-out: the SMTP ingest load against 1 and then 2 gateway processes (`sistem48 run --only mail`)
sharing one PostgreSQL; prints accepted msg/s, p99, drain time and the ratio 2 processes / 1.

Run: .venv/bin/python benchmarks/scaleout.py [--messages N] [--sessions N] [--size BYTES]
Each process has its own SMTP port (as two boxes behind one MX would); the client spreads its sessions
over them; both spool workers share the spool (SKIP LOCKED). Every mail must end up stored exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.smtp_ingest import _session, make_message

PG_ADMIN = os.environ.get("SISTEM48_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database() -> tuple[str, str]:
    name = f"s48_scaleout_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _start(work: Path, db_url: str, index: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    config = work / f"gateway{index}.toml"
    config.write_text(
        f"[gateway]\ndata_dir = '{work / 'var'}'\ninstance_name = 'bench{index}'\n"
        f"[database]\nurl = '{db_url}'\n[http]\nenabled = false\n"
        f"[mail]\nlisten_port = {port}\nmax_sessions_per_ip = 1000\nmax_message_bytes = 10000000\n"
        f"command_call_limit = 1000000\n[mail.relay]\ndeliver_to = 'directory'\n"
        f"directory = '{work / 'out'}'\n"
        "[sms]\nenabled = false\n[sip]\nenabled = false\n[transcription]\nenabled = false\n"
    )
    log = (work / f"gateway{index}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from gateway.cli import main; main()",
         "run", "--config", str(config), "--only", "mail"],
        stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gateway {index} did not start; see {work}/gateway{index}.log")


async def _drive(ports: list[int], sessions: int, total: int, size: int) -> tuple[float, float]:
    per_session = max(1, total // sessions)
    latencies: list[float] = []
    batches = [[make_message(size, i * per_session + n) for n in range(per_session)] for i in range(sessions)]
    started = time.perf_counter()
    await asyncio.gather(
        *(_session(ports[i % len(ports)], batch, latencies) for i, batch in enumerate(batches))
    )
    elapsed = time.perf_counter() - started
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies)
    return len(latencies) / elapsed, p99


def _pending(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM inbound_spool WHERE state IN ('queued', 'running')"
        return int(conn.execute(sa.text(query)).scalar_one())


def measure(processes: int, sessions: int, total: int, size: int) -> tuple[float, float, float, int, int]:
    """(accepted msg/s, p99 s, drain s, spooled, messages stored) for `processes` gateways."""
    name, db_url = _database()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(
            [sys.executable, "-c", f"from storage.db import upgrade; upgrade({db_url!r})"],
            check=True, cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="s48-scaleout-") as tmp:
            ports = []
            for index in range(processes):
                proc, port = _start(Path(tmp), db_url, index)
                procs.append(proc)
                ports.append(port)
            engine = sa.create_engine(db_url)
            asyncio.run(_drive(ports, sessions, max(sessions, total // 10), size))
            while _pending(engine):
                time.sleep(0.05)
            rate, p99 = asyncio.run(_drive(ports, sessions, total, size))
            load_end = time.perf_counter()
            while _pending(engine):
                time.sleep(0.02)
            drained = time.perf_counter() - load_end
            with engine.connect() as conn:
                spooled = int(conn.execute(sa.text("SELECT count(*) FROM inbound_spool")).scalar_one())
                stored = int(
                    conn.execute(sa.text("SELECT count(*) FROM message WHERE channel = 'email'")).scalar_one()
                )
            engine.dispose()
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=30)
            return rate, p99, drained, spooled, stored
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        _drop(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--size", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'processes':>9} {'msg/s':>7} {'p99 ms':>8} {'drained s':>10} {'spooled':>8} {'stored':>7}")
    rates = {}
    for processes in (1, 2):
        rate, p99, drained, spooled, stored = measure(processes, args.sessions, args.messages, args.size)
        rates[processes] = rate
        print(
            f"{processes:>9} {rate:>7.0f} {p99 * 1000:>8.1f} {drained:>10.1f} {spooled:>8} {stored:>7}",
            flush=True,
        )
        if stored != spooled:
            raise SystemExit(f"{spooled} mails spooled but {stored} stored")
    print(f"ratio 2 processes / 1 process: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()

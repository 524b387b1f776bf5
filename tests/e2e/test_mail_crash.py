"""SIGKILL under SMTP load: 24 concurrent sessions keep sending while the gateway process is killed
and restarted; every message a client saw 250 for is stored exactly once (clients retry on 4xx and
dropped connections, as MTAs do)."""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SESSIONS = 24
PER_SESSION = 40
TOTAL = SESSIONS * PER_SESSION
ADDRESS = "sistem48@sistem48.localhost"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    code = "from gateway.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "run", "--config", str(config), "--only", "mail"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=config.parent,
    )  # fmt: skip


def _wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the gateway did not come back")


def _message(session: int, n: int) -> tuple[str, bytes]:
    mid = f"crash-{session}-{n}@load.example"
    msg = EmailMessage()
    msg["From"] = f"citizen{session}@load.example"
    msg["To"] = ADDRESS
    msg["Subject"] = f"Prijava {session}/{n}"
    msg["Message-ID"] = f"<{mid}>"
    msg.set_content(f"Rupa na kolovozu broj {n}, ulica {session}. " * 20)
    return mid, msg.as_bytes()


def _client(port: int, session: int, accepted: list[str], stop: threading.Event) -> None:
    """Sends PER_SESSION messages over one connection, reconnecting and resending on any failure."""
    client: smtplib.SMTP | None = None
    for n in range(PER_SESSION):
        mid, raw = _message(session, n)
        while not stop.is_set():
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", port, timeout=20)
                client.sendmail(f"citizen{session}@load.example", [ADDRESS], raw)
                accepted.append(mid)  # 250 seen: from here on the gateway owns it
                break
            except (smtplib.SMTPException, OSError):
                client = None  # 4xx, or the process died: reconnect and send the same message again
                time.sleep(0.05)
    if client is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()


def test_every_message_acknowledged_with_250_survives_sigkill_exactly_once(
    tmp_path: Path, db_url: str
) -> None:
    port = _free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"[gateway]\ndata_dir = '{tmp_path / 'var'}'\n[database]\nurl = '{db_url}'\n"
        f"[http]\nenabled = false\n[mail]\nlisten_port = {port}\nmax_sessions_per_ip = 100\n"
        "[mail.relay]\ndeliver_to = 'directory'\n"
        f"directory = '{tmp_path / 'out'}'\n[sms]\nenabled = false\n[sip]\nenabled = false\n"
        "[transcription]\nenabled = false\n"
    )
    log = tmp_path / "gateway.log"
    proc = _start(config, log)
    _wait_listening(port)
    accepted: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_client, args=(port, i, accepted, stop)) for i in range(SESSIONS)]
    for t in clients:
        t.start()
    kills = 0
    accepted_at_kill: list[int] = []
    try:
        # Three crashes at a quarter, half and three quarters of the load: by progress, not by time,
        # so a fast machine cannot finish the load before the first kill.
        for share in (0.25, 0.5, 0.75):
            _wait_until(lambda share=share: len(accepted) >= share * TOTAL)
            accepted_at_kill.append(len(accepted))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = _start(config, log)
            _wait_listening(port)
        for t in clients:
            t.join(timeout=200)
        assert not any(t.is_alive() for t in clients), "clients did not finish"
        _wait_spool_settled(db_url)
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    assert kills == 3
    # The crashes really hit the load: sessions were still sending when the process died.
    assert accepted_at_kill[-1] < TOTAL, accepted_at_kill
    assert len(accepted) == SESSIONS * PER_SESSION
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        spool = dict(conn.execute(sa.text("SELECT state, count(*) FROM inbound_spool GROUP BY state")).all())
        rows = conn.execute(
            sa.text("SELECT external_id, count(*) FROM message WHERE channel = 'email' GROUP BY external_id")
        ).all()
    engine.dispose()
    stored = {ext: n for ext, n in rows}
    missing = [mid for mid in accepted if mid not in stored]
    assert missing == [], f"{len(missing)} acknowledged messages lost"
    assert all(n == 1 for n in stored.values()), "duplicates stored"
    assert len(stored) == SESSIONS * PER_SESSION
    # Every 250 was a committed spool row (retries after a lost 250 add rows, never messages).
    assert set(spool) == {"done"} and spool["done"] >= SESSIONS * PER_SESSION, spool


def _wait_until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the load made no progress")
        time.sleep(0.005)


def _wait_spool_settled(db_url: str, timeout: float = 60) -> None:
    """Mails spooled before a kill are parsed by the next process (orphans are taken at its start)."""
    engine = sa.create_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(
                    sa.text("SELECT count(*) FROM inbound_spool WHERE state IN ('queued', 'running')")
                ).scalar_one()
            if left == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"{left} spooled mails still unprocessed")
    finally:
        engine.dispose()

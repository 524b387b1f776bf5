"""Chaos run: one real gateway process under mixed load (SMTP sessions, SMS on the Gammu dummy modem,
sipp calls with speech) while faults hit it one after another; then every acknowledged contact is
looked up in the database. Writes the table of docs/reliability.md; exit 1 when a promise broke.

    .venv/bin/python scripts/chaos.py [--out docs/reliability.md] [--fault-s 8]

Needs root (or the postgres user) for a private PostgreSQL cluster and a small tmpfs for the blobs;
`scripts/test.sh` runs it after pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.policy
import email.utils
import json
import os
import platform
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from rigs.sipp import (  # noqa: E402
    SCENARIOS,
    Speech,
    free_udp_ports,
    make_speech,
    make_tone_wav,
    run_sipp,
)
from sms.simulator import ensure_dummy_dir, inbox_files, inject_incoming, list_sent  # noqa: E402

ADDRESS = "sistem48@sistem48.localhost"
BLOB_DISK = "256m"  # the tmpfs that holds the blobs; "disk full" fills it
RECOVERY_LIMIT_S = 60.0  # a fault's channel must be healthy again this long after the fault ends

UNPROCESSED = {
    "spool": "SELECT count(*) FROM inbound_spool WHERE state IN ('queued', 'running')",
    "jobs": "SELECT count(*) FROM job WHERE state IN ('queued', 'running')",
    # Due, or being handed over now: a row a killed process left in `sending` must not stay there.
    "outbox": (
        "SELECT count(*) FROM outbox"
        " WHERE state = 'sending' OR (state = 'queued' AND next_attempt_at <= now())"
    ),
}
Q_MAIL = (
    "SELECT external_id, count(*) FROM message WHERE channel = 'email' AND direction = 'in'"
    " GROUP BY external_id"
)
Q_SMS = "SELECT body FROM message WHERE channel = 'sms' AND direction = 'in'"
Q_VOICE = (
    "SELECT ci.value, m.ticket_id FROM message m JOIN citizen_identity ci"
    " ON ci.citizen_id = m.citizen_id AND ci.kind = 'phone' WHERE m.channel = 'voice' AND m.direction = 'in'"
)
Q_JOBS = "SELECT state, count(*) FROM job WHERE kind = 'transcribe' GROUP BY state"
Q_JOBLESS = (
    "SELECT count(*) FROM ticket t WHERE t.channel = 'voice' AND NOT EXISTS (SELECT 1 FROM job j"
    " WHERE j.kind = 'transcribe' AND (CAST(j.payload AS jsonb)->>'ticket_id')::int = t.id)"
)
Q_OUTBOX = "SELECT channel || ':' || state, count(*) FROM outbox GROUP BY 1"
Q_SENT_MAIL = "SELECT message_id_header FROM outbox WHERE channel = 'email' AND state = 'sent'"


def log(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- peers ------------------------------------------------------------------------------------------
class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb), so it can be stopped and started mid-load."""

    def __init__(self, root: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            raise SystemExit("chaos: PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin = found[-1].parent
        self.root = root
        self.data = root / "data"
        self.port = free_tcp_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:  # initdb refuses root; the Debian package's postgres user runs it
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def init(self) -> None:
        self.root.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


class Relay:
    """The municipal relay, a real aiosmtpd server; it can be told to answer 4xx or 5xx."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[str] = []  # Message-IDs of the mails it took
        self.refused = 0
        self.port = free_tcp_port()
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="relay.chaos"
        )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode != "ok":
            self.refused += 1
            return "451 4.3.0 chaos: relay busy" if self.mode == "4xx" else "554 5.7.1 chaos: relay refuses"
        found = re.search(rb"^Message-ID:\s*(<[^>]+>)", envelope.original_content or b"", re.M | re.I)
        self.received.append(found.group(1).decode() if found else "?")
        return "250 2.0.0 OK"


class Registrar:
    """The PBX the hotline registers with: sipp answering every REGISTER with 200 OK."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_udp_ports(1)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / "reg_uas.xml"), "-i", "127.0.0.1", "-p", str(self.port),
             "-nostdin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.folder,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


# -- the gateway process ----------------------------------------------------------------------------
@dataclass
class Ports:
    http: int = field(default_factory=free_tcp_port)
    smtp: int = field(default_factory=free_tcp_port)
    sip: int = field(default_factory=lambda: free_udp_ports(1))
    rtp_low: int = field(default_factory=lambda: free_udp_ports(40))


def write_config(root: Path, db_url: str, ports: Ports, relay: Relay, registrar: Registrar) -> Path:
    greeting = root / "greeting.wav"
    make_tone_wav(greeting, 0.4, 660)
    sip_state = root / "var" / "sip"
    text = f"""
[gateway]
data_dir = "{root / "var"}"
[database]
url = "{db_url}"
[http]
port = {ports.http}
[workers]
outbox_interval_s = 0.5
outbox_max_attempts = 30
[mail]
listen_port = {ports.smtp}
max_sessions_per_ip = 100
max_acks_per_sender_per_hour = 1000
[mail.relay]
deliver_to = "smtp"
host = "127.0.0.1"
port = {relay.port}
timeout_s = 5
[sms]
device = "{root / "modem"}"
create_dummy_dir = false
poll_interval_s = 0.5
send_per_minute = 6000
health_interval_s = 1
reconnect_backoff_min_s = 0.5
reconnect_backoff_max_s = 2
[sip]
mode = "register"
server = "127.0.0.1"
server_port = {registrar.port}
register_expires_s = 10
bind_port = {ports.sip}
rtp_port_low = {ports.rtp_low}
rtp_port_high = {ports.rtp_low + 39}
state_dir = "{sip_state}"
greeting_after_hours = "{greeting}"
greeting_holiday = "{greeting}"
greeting_in_hours = "{greeting}"
greeting_mailbox_full = "{greeting}"
in_hours = "record"
dtmf_menu = false
min_message_s = 1.0
silence_stop_s = 30
rtp_timeout_s = 4
ingest_timeout_s = 5
quarantine_retry_s = 2
[transcription]
enabled = true
threads = 2
"""
    path = root / "config.toml"
    path.write_text(text)
    return path


class Gateway:
    def __init__(self, config: Path, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(
            os.environ,
            SISTEM48_SECRET="chaos-secret-0123456789abcdef",  # noqa: S106  a throwaway run's key
            SISTEM48_SIP_PASSWORD="not-asked-by-this-registrar",  # noqa: S106
            PYTHONUNBUFFERED="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; main()", "run",
             "--config", str(self.config)],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT, cwd=self.config.parent, env=env,
        )  # fmt: skip

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class Health:
    """Polls /healthz four times a second; the samples tell when a fault showed and when it healed."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.samples: list[tuple[float, int | None, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def get(self) -> tuple[int | None, dict[str, Any]]:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as r:  # noqa: S310  our own http URL
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            return None, {}

    def _poll(self) -> None:
        while not self._stop.is_set():
            code, body = self.get()
            self.samples.append((time.monotonic(), code, body))
            self._stop.wait(0.25)

    def shown_after(self, since: float, test: Callable[[int | None, dict[str, Any]], bool]) -> float | None:
        """Seconds from `since` to the first sample that passes `test`, or None."""
        for t, code, body in list(self.samples):
            if t >= since and test(code, body):
                return round(t - since, 1)
        return None

    def wait(self, test: Callable[[int | None, dict[str, Any]], bool], timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, body = self.get()
            if test(code, body):
                return time.monotonic()
            time.sleep(0.1)
        return None


# -- load -------------------------------------------------------------------------------------------
class Load:
    """Citizens on three media; each contact is recorded with the phase in which it was acknowledged."""

    def __init__(self, root: Path, ports: Ports, speech: Speech) -> None:
        self.root = root
        self.ports = ports
        self.speech = speech
        self.phase = "steady"
        self.stop = threading.Event()
        self.mail_acked: dict[str, str] = {}  # Message-ID (no brackets) → phase
        self.mail_refusals: Counter[tuple[str, str]] = Counter()  # (phase, reply code)
        self.sms_sent: dict[str, str] = {}  # token → phase
        self.calls_ok: dict[str, str] = {}  # caller (E.164) → phase
        self.calls_failed: Counter[str] = Counter()
        self.modem_dir = root / "modem"
        self.modem_lock = threading.Lock()  # the "unplug" renames the modem directory
        self.modem_away = False
        self._threads: list[threading.Thread] = []

    def start(self, smtp_sessions: int = 4) -> None:
        for session in range(smtp_sessions):
            self._threads.append(threading.Thread(target=self._smtp, args=(session,), daemon=True))
        self._threads.append(threading.Thread(target=self._sms, daemon=True))
        self._threads.append(threading.Thread(target=lambda: asyncio.run(self._calls()), daemon=True))
        for t in self._threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=90)

    def _mail(self, session: int, n: int) -> tuple[str, bytes]:
        mid = f"chaos-{session}-{n}@load.example"
        msg = EmailMessage()
        msg["From"] = f"gradjanin{session}x{n}@load.example"
        msg["To"] = ADDRESS
        msg["Subject"] = f"Rupa na kolovozu {session}/{n}"
        msg["Message-ID"] = f"<{mid}>"
        msg["Date"] = email.utils.formatdate(localtime=False)
        msg.set_content(f"Velika rupa na kolovozu u ulici broj {n}. " * 10)
        if n % 6 == 5:  # a photo too big to sit in the row: it goes to the blob store
            msg.add_attachment(os.urandom(70 * 1024), maintype="image", subtype="jpeg", filename="rupa.jpg")
        return mid, msg.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as MTAs send

    def _smtp(self, session: int) -> None:
        client: smtplib.SMTP | None = None
        n = 0
        while not self.stop.is_set():
            mid, raw = self._mail(session, n)
            while not self.stop.is_set():
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", self.ports.smtp, timeout=20)
                    client.sendmail(f"gradjanin{session}x{n}@load.example", [ADDRESS], raw)
                    self.mail_acked[mid] = self.phase
                    break
                except smtplib.SMTPResponseException as exc:
                    self.mail_refusals[(self.phase, str(exc.smtp_code))] += 1
                    client = None if exc.smtp_code == 421 else client
                    if exc.smtp_code >= 500:  # permanent: an MTA bounces it, never acknowledged
                        break
                    time.sleep(0.2)
                except (smtplib.SMTPException, OSError):
                    self.mail_refusals[(self.phase, "connection")] += 1
                    client = None  # the process died: reconnect and send the same message again
                    time.sleep(0.2)
            n += 1
            time.sleep(0.25)
        if client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()

    def _sms(self) -> None:
        n = 0
        while not self.stop.is_set():
            token = f"chaos-sms-{n:05d}"
            with self.modem_lock:
                # While unplugged the SMS waits in the network: it reaches the SIM when the modem is back.
                target = self.modem_dir.with_name("modem-away") if self.modem_away else self.modem_dir
                inject_incoming(target, f"+38160{n:07d}", f"Ne radi ulicno svetlo, prijava {token}")
            self.sms_sent[token] = self.phase
            n += 1
            self.stop.wait(0.3)

    async def _calls(self) -> None:
        n = 0
        folder = self.root / "sipp"
        folder.mkdir(exist_ok=True)
        while not self.stop.is_set():
            caller = f"0641{n:06d}"
            phase = self.phase
            # Each call a little longer: identical recordings would be one blob (content-addressed),
            # and a full blob disk would never be felt by the calls.
            result = await run_sipp(
                "uac_talk_bye.xml", folder, target_port=self.ports.sip, speech=self.speech, caller=caller,
                greet_ms=900, talk_ms=2500 + 20 * (n % 50), timeout_s=20,
            )  # fmt: skip
            if result.ok:
                self.calls_ok[f"+381{caller[1:]}"] = phase
            else:
                self.calls_failed[phase] += 1
            n += 1
            await asyncio.sleep(0.5)

    def unplug_modem(self) -> None:
        with self.modem_lock:
            self.modem_dir.rename(self.modem_dir.with_name("modem-away"))
            self.modem_away = True

    def plug_modem(self) -> None:
        with self.modem_lock:
            self.modem_dir.with_name("modem-away").rename(self.modem_dir)
            self.modem_away = False


# -- faults -----------------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    fault: str
    started: float = 0.0
    fault_end: float = 0.0
    detected_s: float | None = None
    recovered_s: float | None = None
    notes: list[str] = field(default_factory=list)
    expect_detection: bool = True


def healthy(code: int | None, body: dict[str, Any]) -> bool:
    return code == 200


def component(path: str, bad: Callable[[Any], bool]) -> Callable[[int | None, dict[str, Any]], bool]:
    def test(code: int | None, body: dict[str, Any]) -> bool:
        value: Any = body
        for key in path.split("."):
            value = value.get(key, {}) if isinstance(value, dict) else {}
        return bool(body) and bad(value)

    return test


def not_up(value: Any) -> bool:
    return isinstance(value, dict) and value.get("state") not in (None, "up")


class Chaos:
    def __init__(self, root: Path, fault_s: float) -> None:
        self.root = root
        self.fault_s = fault_s
        self.pg = PrivatePostgres(root / "pg")
        self.relay = Relay()
        self.registrar = Registrar(root)
        self.ports = Ports()
        self.phases: list[Phase] = []
        self.small_disk = False
        self.started = datetime.now(UTC)

    def run(self) -> dict[str, Any]:
        log(f"private PostgreSQL on port {self.pg.port}")
        self.pg.init()
        self.relay.controller.start()
        self.registrar.start()
        blobs = self.root / "var" / "blobs"
        blobs.mkdir(parents=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={BLOB_DISK}", "tmpfs", str(blobs)], capture_output=True
        )
        self.small_disk = mounted.returncode == 0
        if not self.small_disk:  # not root, or a container without CAP_SYS_ADMIN
            log(f"no tmpfs for the blobs ({mounted.stderr.decode().strip()}): the disk-full fault is skipped")
        ensure_dummy_dir(self.root / "modem")
        speech = make_speech(self.root / "speech", "Ulična rasveta u ulici Kralja Petra ne radi.")
        config = write_config(self.root, self.pg.url, self.ports, self.relay, self.registrar)
        self.gateway = Gateway(config, self.root / "gateway.log")
        self.health = Health(self.ports.http)
        self.load = Load(self.root, self.ports, speech)
        try:
            self.gateway.start()
            if self.health.wait(healthy, 120) is None:
                raise RuntimeError(f"the gateway did not become healthy; see {self.gateway.log_path}")
            self.health.start()
            self.load.start()
            self._steady()
            self._sigkill()
            self._postgres_restart()
            self._relay("4xx")
            self._relay("5xx")
            self._modem_unplugged()
            self._pbx_gone()
            if self.small_disk:
                self._disk_full()
            self.load.phase = "drain"
            self.load.finish()
            drained = self._drain()
            self.health.stop()
            return self._verify(drained)
        finally:
            self.load.stop.set()
            self.gateway.stop()
            self.relay.controller.stop()
            self.registrar.stop()
            with contextlib.suppress(Exception):
                self.pg.stop("immediate")
            if self.small_disk:
                subprocess.run(["umount", "-l", str(blobs)], check=False)

    def _phase(self, name: str, fault: str) -> Phase:
        phase = Phase(name, fault, started=time.monotonic())
        self.phases.append(phase)
        self.load.phase = name
        log(f"phase: {name}")
        return phase

    def _healed(self, phase: Phase, test: Callable[[int | None, dict[str, Any]], bool] = healthy) -> None:
        phase.fault_end = phase.fault_end or time.monotonic()
        at = self.health.wait(test, RECOVERY_LIMIT_S)
        phase.recovered_s = None if at is None else round(at - phase.fault_end, 1)

    def _steady(self) -> None:
        phase = self._phase("steady load", "none (baseline)")
        phase.expect_detection = False
        time.sleep(self.fault_s)
        phase.fault_end = time.monotonic()
        phase.recovered_s = 0.0

    def _sigkill(self) -> None:
        phase = self._phase(
            "SIGKILL ×3", "gateway process killed with SIGKILL three times, restarted at once"
        )
        recoveries = []
        for _ in range(3):
            time.sleep(self.fault_s / 2)
            killed = time.monotonic()
            self.gateway.kill()
            phase.detected_s = 0.0
            self.gateway.start()
            at = self.health.wait(healthy, 120)
            recoveries.append(None if at is None else round(at - killed, 1))
        phase.fault_end = time.monotonic()
        phase.recovered_s = max((r for r in recoveries if r is not None), default=None)
        if None in recoveries:
            phase.recovered_s = None
        phase.notes.append(f"kill → healthy: {', '.join(f'{r} s' for r in recoveries)} (incl. process start)")
        time.sleep(self.fault_s / 2)

    def _postgres_restart(self) -> None:
        phase = self._phase(
            "PostgreSQL restart", f"database stopped (fast shutdown) for {self.fault_s:.0f} s"
        )
        time.sleep(2)
        down = time.monotonic()
        self.pg.stop("fast")
        most_on_modem = most_quarantined = 0
        while time.monotonic() - down < self.fault_s:
            most_on_modem = max(most_on_modem, len(inbox_files(self.root / "modem")))
            most_quarantined = max(most_quarantined, self._quarantined_calls())
            time.sleep(0.2)
        self.pg.start()
        phase.fault_end = time.monotonic()
        phase.detected_s = self.health.shown_after(down, component("database", lambda v: v != "up"))
        self._healed(phase)
        if self.gateway.proc is not None and self.gateway.proc.poll() is not None:
            phase.notes.append("the gateway process died")
        phase.notes.append(f"SMS waiting on the modem during the outage: up to {most_on_modem}")
        phase.notes.append(f"calls kept in the SIP quarantine folder: up to {most_quarantined}")
        time.sleep(2)

    def _relay(self, kind: str) -> None:
        reply = "451 4.3.0" if kind == "4xx" else "554 5.7.1"
        phase = self._phase(
            f"relay {kind}", f"the mail relay answers {reply} to every mail for {self.fault_s:.0f} s"
        )
        start = time.monotonic()
        refused_before = self.relay.refused
        self.relay.mode = kind
        time.sleep(self.fault_s)
        # A fault no mail met shows nothing: the outbox backs the relay off after a refusal (and may
        # still be backing off after the PostgreSQL restart), and only 3 permanent refusals in a row
        # count against the relay. So the relay stays faulty (up to 3× longer) until /healthz has
        # had a chance to show it; "never" below still means it was not shown in that time.
        shown = component("outbound.email", not_up)
        until = time.monotonic() + 3 * self.fault_s
        while self.health.shown_after(start, shown) is None and time.monotonic() < until:
            time.sleep(0.2)
        self.relay.mode = "ok"
        phase.fault_end = time.monotonic()
        phase.detected_s = self.health.shown_after(start, shown)
        self._healed(phase)
        phase.notes.append(f"relay refused {self.relay.refused - refused_before} mails")

    def _modem_unplugged(self) -> None:
        phase = self._phase(
            "modem unplugged", f"the modem (Gammu dummy device) gone for {self.fault_s:.0f} s"
        )
        start = time.monotonic()
        self.load.unplug_modem()
        time.sleep(self.fault_s)
        waiting = len(inbox_files(self.root / "modem-away"))
        self.load.plug_modem()
        phase.fault_end = time.monotonic()
        phase.detected_s = self.health.shown_after(start, component("channels.sms", not_up))
        self._healed(phase)
        phase.notes.append(f"SMS that arrived for the unplugged modem: {waiting}")

    def _pbx_gone(self) -> None:
        hold = max(self.fault_s, 10.0)  # registrations are refreshed every 5 s (expiry 10 s)
        phase = self._phase("PBX gone", f"the registrar (sipp) stopped for {hold:.0f} s")
        start = time.monotonic()
        self.registrar.stop()
        time.sleep(hold)
        self.registrar.start()
        phase.fault_end = time.monotonic()
        phase.detected_s = self.health.shown_after(start, component("channels.sip", not_up))
        self._healed(phase)

    def _disk_full(self) -> None:
        phase = self._phase("blob disk full", f"the blob filesystem full for {self.fault_s:.0f} s")
        blobs = self.root / "var" / "blobs"
        start = time.monotonic()
        filler = blobs / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as fh:
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
        most_quarantined = 0
        while time.monotonic() - start < self.fault_s:
            most_quarantined = max(most_quarantined, self._quarantined_calls())
            time.sleep(0.2)
        filler.unlink()
        phase.fault_end = time.monotonic()
        phase.detected_s = self.health.shown_after(start, component("storage.blobs", not_up))
        self._healed(phase)
        phase.notes.append(f"calls kept in the SIP quarantine folder: up to {most_quarantined}")

    def _quarantined_calls(self) -> int:
        """Recordings the SIP line keeps on disk because the core did not take them (yet)."""
        folder = self.root / "var" / "sip" / "quarantine"
        return len(list(folder.glob("*.json"))) if folder.exists() else 0

    def _drain(self) -> dict[str, Any]:
        """Wait until everything acknowledged is processed: spool, modem, quarantine, jobs, outbox."""
        engine = sa.create_engine(self.pg.url)
        # Stuck work fails the run, slow work does not: transcription on a busy 2-core machine can
        # outlast 180 s, so the wait goes on while the backlog still shrinks (at most 600 s).
        start = time.monotonic()
        deadline = start + 180
        left: dict[str, Any] = {}
        smallest: int | None = None
        try:
            while time.monotonic() < deadline:
                with engine.connect() as c:
                    left = {name: c.execute(sa.text(sql)).scalar_one() for name, sql in UNPROCESSED.items()}
                left["modem"] = len(inbox_files(self.root / "modem"))
                left["sip_quarantine"] = self._quarantined_calls()
                backlog = sum(left.values())
                if not backlog:
                    break
                if smallest is None or backlog < smallest:
                    smallest = backlog
                    deadline = min(max(deadline, time.monotonic() + 60), start + 600)
                time.sleep(0.5)
        finally:
            engine.dispose()
        return left

    def _verify(self, left: dict[str, Any]) -> dict[str, Any]:
        engine = sa.create_engine(self.pg.url)
        with engine.connect() as c:
            mail_rows: Counter[str] = Counter(dict(c.execute(sa.text(Q_MAIL)).tuples().all()))
            sms_bodies = c.execute(sa.text(Q_SMS)).scalars().all()
            voice = c.execute(sa.text(Q_VOICE)).tuples().all()
            voice_tickets = {t for _, t in voice}
            jobs: dict[str, int] = dict(c.execute(sa.text(Q_JOBS)).tuples().all())
            jobless = c.execute(sa.text(Q_JOBLESS)).scalar_one()
            transcripts = c.execute(sa.text("SELECT count(DISTINCT ticket_id) FROM transcript")).scalar_one()
            outbox: dict[str, int] = dict(c.execute(sa.text(Q_OUTBOX)).tuples().all())
            sent_mids = Counter(c.execute(sa.text(Q_SENT_MAIL)).scalars().all())
        engine.dispose()
        sms_rows = Counter(m.group(0) for body in sms_bodies if (m := re.search(r"chaos-sms-\d{5}", body)))
        voice_rows = Counter(v for v, _ in voice)
        relay_counts = Counter(self.relay.received)
        modem_sent = Counter((s.recipient, s.text) for s in list_sent(self.root / "modem"))

        per_phase: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        problems: list[str] = []
        for label, acked, stored in (
            ("mail", self.load.mail_acked, mail_rows),
            ("sms", self.load.sms_sent, sms_rows),
            ("call", self.load.calls_ok, voice_rows),
        ):
            for key, phase in acked.items():
                row = per_phase[phase]
                row[f"{label}_acked"] += 1
                n = stored.get(key, 0)
                row[f"{label}_stored"] += 1 if n >= 1 else 0
                row[f"{label}_dups"] += max(0, n - 1)
                if n != 1:
                    problems.append(f"{label} {key} acknowledged in '{phase}' stored {n} times")
        for (phase, code), n in self.load.mail_refusals.items():
            per_phase[phase][f"smtp_{code}"] += n
        for phase, n in self.load.calls_failed.items():
            per_phase[phase]["calls_failed"] += n

        outbound_dups = sum(n - 1 for n in relay_counts.values() if n > 1)
        sms_out_dups = sum(n - 1 for n in modem_sent.values() if n > 1)
        sent_missing = sum(1 for mid in sent_mids if mid and relay_counts.get(mid, 0) == 0)
        if outbound_dups + sms_out_dups > 3:  # one in-flight message per SIGKILL at most
            problems.append(f"outbound duplicates: {outbound_dups} mail, {sms_out_dups} SMS")
        if sent_missing:
            problems.append(f"{sent_missing} mails marked sent never reached the relay")
        if jobless or jobs.get("failed"):
            problems.append(f"transcription: {jobless} voice tickets without a job, jobs {jobs}")
        if any(left.values()):
            problems.append(f"not drained (no progress for 60 s, or 600 s in all): {left}")
        for step in self.phases:
            if step.expect_detection and step.detected_s is None:
                problems.append(f"{step.name}: /healthz never showed the fault")
            if step.recovered_s is None:
                problems.append(f"{step.name}: not healthy within {RECOVERY_LIMIT_S:.0f} s after the fault")
        return {
            "phases": self.phases,
            "per_phase": {k: dict(v) for k, v in per_phase.items()},
            "totals": {
                "mail": (len(self.load.mail_acked), sum(mail_rows.values())),
                "sms": (len(self.load.sms_sent), sum(sms_rows.values())),
                "calls": (len(self.load.calls_ok), len(voice_rows)),
                "voice_tickets": len(voice_tickets),
                "transcribed": transcripts,
                "jobs": jobs,
                "outbox": outbox,
                "relay_received": len(self.relay.received),
                "outbound_dups": outbound_dups,
                "sms_out_dups": sms_out_dups,
                "left": left,
            },
            "problems": problems,
            "skipped": [] if self.small_disk else ["blob disk full (no tmpfs could be mounted: needs root)"],
        }


# -- report -----------------------------------------------------------------------------------------
def render(result: dict[str, Any], fault_s: float, took_s: float) -> str:
    def cell(row: dict[str, Any], medium: str) -> str:
        acked = row.get(f"{medium}_acked", 0)
        return f"{acked} / {row.get(f'{medium}_stored', 0)}" if acked else "–"

    lines = [
        "# Reliability: faults under load",
        "",
        "Generated by `scripts/chaos.py` (run by `scripts/test.sh`, the README's test command, and",
        "`make chaos`); every number below is from its last run. Do not edit by hand.",
        "",
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'this machine'}"
        f" ({os.cpu_count()} cores), {took_s:.0f} s in all, faults held {fault_s:.0f} s.",
        "",
        "**Load held through every phase:** 4 SMTP sessions (a mail every ~0.25 s each, every sixth with a",
        "70 KB photo), one SMS every 0.3 s into the Gammu dummy modem, sipp calls with espeak-ng speech",
        "back to back (after-hours voicemail, transcribed by Vosk), acknowledgements out through a real",
        "aiosmtpd relay and the modem. One gateway process (`sistem48 run`, all roles) on a private",
        "PostgreSQL cluster; blobs on a 256 MB tmpfs.",
        "",
        "Acknowledged = the sender saw `250` (mail), the SMS reached the SIM (SMS), sipp's call ended with",
        "`200 OK` to its BYE (calls). Stored = present in the database after the run; every one must be",
        "there exactly once.",
        "",
        "| fault | mail acked / stored | SMS acked / stored | calls acked / stored | duplicates "
        "| SMTP refusals | shown on /healthz after | healthy again after the fault | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in result["phases"]:
        row = result["per_phase"].get(phase.name, {})
        dups = sum(row.get(f"{m}_dups", 0) for m in ("mail", "sms", "call"))
        refusals = (
            ", ".join(
                f"{k.removeprefix('smtp_')}×{v}" for k, v in sorted(row.items()) if k.startswith("smtp_")
            )
            or "–"
        )
        detected = (
            "–"
            if not phase.expect_detection
            else (f"{phase.detected_s} s" if phase.detected_s is not None else "**never**")
        )
        recovered = f"{phase.recovered_s} s" if phase.recovered_s is not None else "**not within 60 s**"
        notes = "; ".join(phase.notes) or ""
        failed_calls = row.get("calls_failed", 0)
        if failed_calls:
            notes = f"{notes}; {failed_calls} calls not completed (caller saw the failure)".lstrip("; ")
        lines.append(
            f"| {phase.name}: {phase.fault} | {cell(row, 'mail')} | {cell(row, 'sms')} | {cell(row, 'call')} "
            f"| {dups} | {refusals} | {detected} | {recovered} | {notes} |"
        )
    t = result["totals"]
    lines += [
        "",
        "## Totals",
        "",
        f"- Mail: {t['mail'][0]} acknowledged, {t['mail'][1]} stored. SMS: {t['sms'][0]} delivered to the"
        f" SIM, {t['sms'][1]} stored. Calls: {t['calls'][0]} completed, {t['calls'][1]} voicemails stored.",
        f"- Transcription: {t['voice_tickets']} voice tickets, {t['transcribed']} transcribed; jobs by state"
        f" {t['jobs']} (none may be lost or failed).",
        f"- Outbox by channel and state: {t['outbox']}. The relay took {t['relay_received']} mails;"
        f" duplicates at the relay {t['outbound_dups']}, SMS sent twice {t['sms_out_dups']} (a SIGKILL"
        " between handing a message over and recording it can repeat that one message; it keeps its"
        " Message-ID).",
        "- A SIGKILL leaves what its sender had claimed in `sending`; the restarted process queues it"
        " again at once. The message being handed over at the kill may have reached the relay or the"
        " modem already: it can go out twice (with its Message-ID), never zero times.",
        "- 5xx from the relay is a permanent refusal: those mails are `failed` in the outbox, visible to"
        " staff, not retried (SMTP semantics); 4xx is retried with backoff.",
        f"- Left unprocessed at the end: {t['left']}.",
        *(f"- **Skipped:** {what}." for what in result["skipped"]),
        "",
        "## Verdict",
        "",
    ]
    problems = result["problems"]
    lines += (
        [f"- **{p}**" for p in problems]
        if problems
        else ["Every promise held: nothing lost, nothing stored twice, every fault shown and healed."]
    )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--fault-s", type=float, default=8.0, help="how long each fault is held")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, database)")
    args = parser.parse_args()
    for tool in ("sipp", "espeak-ng", "sox", "runuser"):
        if shutil.which(tool) is None:
            print(f"chaos: {tool} is missing (scripts/bootstrap.sh test installs it)", file=sys.stderr)
            return 2
    root = Path(tempfile.mkdtemp(prefix="sistem48-chaos-"))
    root.chmod(0o755)  # the postgres user must reach its data directory
    started = time.monotonic()
    try:
        result = Chaos(root, args.fault_s).run()
    finally:
        if not args.keep:
            subprocess.run(["umount", "-l", str(root / "var" / "blobs")], check=False, capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
    report = render(result, args.fault_s, time.monotonic() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

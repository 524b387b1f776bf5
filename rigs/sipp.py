"""SIP rig shared by the tests, scripts/chaos.py and benchmarks/sip_calls.py: free ports, speech made
with espeak-ng + sox, sipp scenario rendering and runs, a recording Inbox and channel settings.

Not a test module and not shipped (pyproject lists the product packages), so scripts need not import tests.
"""

from __future__ import annotations

import asyncio
import audioop
import random
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from channels.base import CallRecord, DeliveryReport, InboundContact, IngestResult
from voicemail.settings import SipSettings

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
SCENARIOS = Path(__file__).with_name("sipp_scenarios")
FIXED_NOW = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
CODECS = {
    "PCMU": {"pt": 0, "ext": "ul", "offer": "0 101", "rtpmap": "a=rtpmap:0 PCMU/8000"},
    "PCMA": {"pt": 8, "ext": "al", "offer": "8 101", "rtpmap": "a=rtpmap:8 PCMA/8000"},
}
_EVENT_MAP = "a=rtpmap:101 telephone-event/8000\r\n      a=fmtp:101 0-15"
_PORT_LOCK = threading.Lock()
_USED: set[int] = set()


# -- ports ---------------------------------------------------------------------------------------
def free_udp_ports(count: int = 1) -> int:
    """First of `count` consecutive UDP ports on 127.0.0.1 that are free now (and not handed out
    to another test in this process)."""
    with _PORT_LOCK:
        for _ in range(2000):
            base = random.randrange(21000, 59000, 2)
            block = range(base, base + count)
            if any(p in _USED for p in block):
                continue
            socks = []
            try:
                for p in block:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
            except OSError:
                continue
            finally:
                for s in socks:
                    s.close()
            _USED.update(block)
            return base
    raise RuntimeError("no free UDP port block")


# -- audio assets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Speech:
    ul: Path
    al: Path
    pcm_ul: bytes  # what a bit-exact recording of the PCMU stream must decode to
    pcm_al: bytes

    def file(self, codec: str) -> Path:
        return self.ul if codec == "PCMU" else self.al

    def pcm(self, codec: str) -> bytes:
        return self.pcm_ul if codec == "PCMU" else self.pcm_al


def make_speech(folder: Path, text: str = "Ulična rasveta u ulici Kralja Petra ne radi.") -> Speech:
    folder.mkdir(parents=True, exist_ok=True)
    wav22 = folder / "speech22k.wav"
    subprocess.run(["espeak-ng", "-v", "sr", "-s", "170", "-w", str(wav22), text], check=True)
    out = {}
    for ext in ("ul", "al"):
        raw = folder / f"speech.{ext}"
        subprocess.run(["sox", str(wav22), "-r", "8000", "-c", "1", "-t", ext, str(raw)], check=True)
        data = raw.read_bytes()
        raw.write_bytes(data[: len(data) - len(data) % 160])  # whole 20 ms packets only
        out[ext] = raw
    pcm_ul = audioop.ulaw2lin(out["ul"].read_bytes(), 2)
    pcm_al = audioop.alaw2lin(out["al"].read_bytes(), 2)
    return Speech(out["ul"], out["al"], pcm_ul, pcm_al)


def make_tone_wav(path: Path, seconds: float, hz: float, rate: int = 16000) -> bytes:
    """A greeting in a format the channel must convert (16 kHz); returns it as 8 kHz PCM16."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            str(rate),
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(hz),
            "vol",
            "0.5",
        ],
        check=True,
    )
    from voicemail.audio import read_wav

    return read_wav(path)


# -- sipp ----------------------------------------------------------------------------------------
def render(name: str, folder: Path, **values: object) -> Path:
    text = (SCENARIOS / name).read_text()
    text = re.sub(r"\{\{> ([\w.]+)\}\}", lambda m: (SCENARIOS / m.group(1)).read_text(), text)
    text = re.sub(r"\{\{(\w+)\}\}", lambda m: str(values[m.group(1)]), text)
    out = folder / f"{name.removesuffix('.xml')}-{random.randrange(1 << 30)}.xml"
    out.write_text(text)
    return out


@dataclass
class SippResult:
    returncode: int
    output: str
    messages: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


async def run_sipp(
    scenario: str,
    folder: Path,
    *,
    target_port: int,
    service: str = "48",
    caller: str = "0641234567",
    codec: str = "PCMU",
    speech: Speech | None = None,
    rx_port: int | None = None,
    greet_ms: int = 1500,
    talk_ms: int = 3500,
    bye_timeout_ms: int = 15000,
    timeout_s: float = 40,
    extra: dict[str, object] | None = None,
    args: tuple[str, ...] = (),
) -> SippResult:
    """Places one call with sipp (a real UAC with real RTP) at 127.0.0.1:target_port."""
    info = CODECS[codec]
    values: dict[str, object] = {
        "caller": caller,
        "offer": info["offer"],
        "rtpmaps": f"{info['rtpmap']}\r\n      {_EVENT_MAP}",
        "rx_port": rx_port if rx_port is not None else free_udp_ports(2),
        "audio": speech.file(codec) if speech else "",
        "pt": info["pt"],
        "greet_ms": greet_ms,
        "talk_ms": talk_ms,
        "bye_timeout_ms": bye_timeout_ms,
        "pre_digits": "",
        "reference_digits": "",
        "code": 0,
    }
    values.update(extra or {})
    path = render(scenario, folder, **values)
    sip_port = free_udp_ports(1)
    media = free_udp_ports(8)
    msg_log = folder / f"{path.stem}-msgs.log"
    cmd = [
        SIPP,
        f"127.0.0.1:{target_port}",
        "-sf",
        str(path),
        "-s",
        service,
        "-i",
        "127.0.0.1",
        "-p",
        str(sip_port),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(media),
        "-m",
        "1",
        "-nostdin",
        "-timeout",
        f"{int(timeout_s)}s",
        "-timeout_error",
        "-default_behaviors",
        "all,-abortunexp",
        "-trace_msg",
        "-message_file",
        str(msg_log),
        *args,
    ]
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
    messages = msg_log.read_text(errors="replace") if msg_log.exists() else ""
    return SippResult(proc.returncode or 0, out.decode(errors="replace"), messages)


# -- the core, as far as the channel can see it --------------------------------------------------
@dataclass
class RecordingInbox:
    """Implements the three Inbox methods and keeps what it got; can fail on demand."""

    fail_ingest: bool = False
    contacts: list[InboundContact] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    reports: list[DeliveryReport] = field(default_factory=list)
    ingest_attempts: int = 0

    async def ingest(self, contact: InboundContact) -> IngestResult:
        self.ingest_attempts += 1
        if self.fail_ingest:
            raise RuntimeError("database is down (injected)")
        self.contacts.append(contact)
        return IngestResult(ticket_id=len(self.contacts), reference=None, created=True, duplicate=False)

    async def record_delivery(self, report: DeliveryReport) -> None:
        self.reports.append(report)

    async def record_call(self, call: CallRecord) -> None:
        self.calls.append(call)

    async def wait_calls(self, count: int, timeout_s: float = 20) -> list[CallRecord]:
        deadline = time.monotonic() + timeout_s
        while len(self.calls) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self.calls


# -- settings ------------------------------------------------------------------------------------
def settings_for(tmp: Path, **overrides: object) -> SipSettings:
    greeting = tmp / "greeting16k.wav"
    tmp.mkdir(parents=True, exist_ok=True)
    if not greeting.exists():
        make_tone_wav(greeting, 0.4, 660)
    base: dict[str, object] = {
        "bind_port": free_udp_ports(1),
        "rtp_port_low": (low := free_udp_ports(8)),
        "rtp_port_high": low + 7,
        "server_port": 5060,
        "greeting_after_hours": greeting,
        "greeting_holiday": greeting,
        "greeting_in_hours": greeting,
        "greeting_mailbox_full": greeting,
        "dtmf_menu": False,
        "min_message_s": 1.0,
        "silence_stop_s": 30,
        "rtp_timeout_s": 6,
        "max_message_s": 60,
        "state_dir": tmp / "state",
    }
    base.update(overrides)
    return SipSettings.model_validate(base)


def fixed_clock() -> datetime:
    return FIXED_NOW

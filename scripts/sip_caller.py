"""A minimal SIP caller in the standard library: INVITE with a G.711 offer, ACK, stream RTP, BYE.

Enough to place the demo call at the hotline in trunk mode without sipp, espeak-ng or sox: the speech
ships as scripts/demo_speech.ul (8 kHz mu-law, made once with espeak-ng's Serbian voice).
"""

from __future__ import annotations

import random
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass

PACKET = 160  # 20 ms of 8 kHz G.711


@dataclass
class CallResult:
    ok: bool
    detail: str


def _branch() -> str:
    return f"z9hG4bK{random.getrandbits(48):012x}"


class _Dialog:
    def __init__(self, target: tuple[str, int], caller: str, service: str) -> None:
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.target, self.caller, self.service = target, caller, service
        self.local = self.sip.getsockname()
        self.call_id = f"{random.getrandbits(64):016x}@127.0.0.1"
        self.from_tag = f"{random.getrandbits(32):08x}"
        self.to_header = f"<sip:{service}@{target[0]}:{target[1]}>"
        self.uri = f"sip:{service}@{target[0]}:{target[1]}"

    def request(self, method: str, cseq: int, body: str = "") -> bytes:
        host, port = self.local
        lines = [
            f"{method} {self.uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {host}:{port};branch={_branch()};rport",
            f'From: "Demo" <sip:{self.caller}@{host}:{port}>;tag={self.from_tag}',
            f"To: {self.to_header}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.caller}@{host}:{port}>",
            "Max-Forwards: 70",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def sdp(self) -> str:
        port = self.rtp.getsockname()[1]
        return (
            f"v=0\r\no=demo 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        )

    def transact(self, data: bytes, method: str, timeout_s: float) -> str | None:
        """Send (retransmitting every 0.5 s as RFC 3261 17.1.1 over UDP) until a final response."""
        deadline = time.monotonic() + timeout_s
        self.sip.settimeout(0.5)
        self.sip.sendto(data, self.target)
        while time.monotonic() < deadline:
            try:
                reply = self.sip.recv(65535).decode(errors="replace")
            except TimeoutError:
                self.sip.sendto(data, self.target)
                continue
            if not reply.startswith("SIP/2.0 "):
                self.answer(reply)
                continue
            status = int(reply.split(" ", 2)[1])
            if status >= 200 and f" {method}" in _header(reply, "CSeq"):
                return reply
        return None

    def answer(self, request: str) -> None:
        """200 OK to a request from the gateway (its BYE when it ends the call itself)."""
        keep = [line for line in request.split("\r\n")
                if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")]  # fmt: skip
        self.sip.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode(),
                        self.target)  # fmt: skip


def _header(message: str, name: str) -> str:
    found = re.search(rf"^{name}\s*:\s*(.*)$", message, re.IGNORECASE | re.MULTILINE)
    return found.group(1).strip() if found else ""


def place_call(
    port: int, audio: bytes, *, caller: str = "0641234567", service: str = "48", wait_s: float = 22.0,
    host: str = "127.0.0.1",
) -> CallResult:  # fmt: skip
    """Call the hotline at host:port, wait `wait_s` (greeting, menu, beep), say `audio`, hang up."""
    dialog = _Dialog((host, port), caller, service)
    ok = dialog.transact(dialog.request("INVITE", 1, dialog.sdp()), "INVITE", 15)
    if ok is None or not ok.startswith("SIP/2.0 200"):
        return CallResult(False, (ok or "no answer").split("\r\n")[0])
    dialog.to_header = _header(ok, "To")
    contact = re.search(r"<(sip:[^>]+)>", _header(ok, "Contact"))
    dialog.uri = contact.group(1) if contact else dialog.uri
    media = re.search(r"^m=audio (\d+)", ok, re.MULTILINE)
    addr = re.search(r"^c=IN IP4 (\S+)", ok, re.MULTILINE)
    rtp_target = (addr.group(1) if addr else host, int(media.group(1)) if media else 0)
    dialog.sip.sendto(dialog.request("ACK", 1), dialog.target)

    stop = threading.Event()

    def drain() -> None:  # the gateway's greeting and beep: heard by nobody here
        dialog.rtp.settimeout(0.2)
        while not stop.is_set():
            try:
                dialog.rtp.recv(2048)
            except OSError:
                continue

    threading.Thread(target=drain, daemon=True).start()
    try:
        time.sleep(wait_s)
        ssrc, seq, stamp = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
        start = time.monotonic()
        silence = b"\xff" * PACKET * 75  # 1.5 s of mu-law silence after the words
        payload = audio[: len(audio) - len(audio) % PACKET] + silence
        for n, offset in enumerate(range(0, len(payload), PACKET)):
            header = struct.pack("!BBHII", 0x80, (0x80 if n == 0 else 0) | 0, (seq + n) & 0xFFFF,
                                 (stamp + n * PACKET) & 0xFFFFFFFF, ssrc)  # fmt: skip
            dialog.rtp.sendto(header + payload[offset : offset + PACKET], rtp_target)
            time.sleep(max(0.0, start + (n + 1) * 0.02 - time.monotonic()))
        bye = dialog.transact(dialog.request("BYE", 2), "BYE", 10)
    finally:
        stop.set()
    if bye is None:
        return CallResult(False, "no answer to BYE")
    return CallResult(bye.startswith("SIP/2.0 200"), bye.split("\r\n")[0])

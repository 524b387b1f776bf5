"""SIP and media facts the hotline needs without pyVoIP: what an INVITE offers, refusals, send
pacing, header normalisation, stateless replies, per-source INVITE rate limits, peer addresses.
"""

from __future__ import annotations

import collections
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from voicemail.audio import FRAME_SAMPLES, Codec

FRAME_S = FRAME_SAMPLES / 8000


class LineState(StrEnum):
    UP = "up"  # trunk bound, or registered
    REGISTERING = "registering"
    FAILED = "failed"  # pyVoIP gave up registering and closed its socket
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class InviteInfo:
    """What the gateway needs to know about an INVITE to decide whether to take the call."""

    call_id: str
    source: tuple[str, int]
    caller: str  # user part of From
    called: str  # user part of To
    codecs: tuple[Codec, ...]  # audio codecs of the offer we can speak, in offer order


@dataclass(frozen=True, slots=True)
class Refusal:
    code: int
    reason: str

    @property
    def status_line(self) -> str:
        return f"{self.code} {self.reason}"


FORBIDDEN = Refusal(403, "Forbidden")
BUSY_HERE = Refusal(486, "Busy Here")
NOT_ACCEPTABLE = Refusal(488, "Not Acceptable Here")
REQUEST_TERMINATED = Refusal(487, "Request Terminated")


@dataclass(slots=True)
class SendStats:
    """Pacing of the frames we played (silence excluded): for the benchmark and health."""

    frames: int = 0
    max_interval_s: float = 0.0
    sum_dev_s: float = 0.0  # sum of |interval - 20 ms|
    _last: float | None = field(default=None, repr=False)

    def sent(self, now: float) -> None:
        if self._last is not None:
            interval = now - self._last
            self.max_interval_s = max(self.max_interval_s, interval)
            self.sum_dev_s += abs(interval - FRAME_S)
            self.frames += 1
        self._last = now

    def pause(self) -> None:
        self._last = None

    @property
    def mean_jitter_s(self) -> float:
        return self.sum_dev_s / self.frames if self.frames else 0.0


# RFC 3261 §7.3.3 compact forms, and the case pyVoIP's exact-match header parser expects.
_COMPACT = {
    "i": "Call-ID", "f": "From", "t": "To", "v": "Via", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
    "o": "Event", "u": "Allow-Events", "x": "Session-Expires", "r": "Refer-To",
}  # fmt: skip
_CANONICAL = {
    name.lower(): name
    for name in (
        *_COMPACT.values(), "CSeq", "Allow", "Expires", "Max-Forwards", "WWW-Authenticate",
        "Authorization", "Record-Route", "Route", "User-Agent", "Accept",
    )
}  # fmt: skip


def normalize_headers(raw: bytes) -> bytes:
    """Rewrite a SIP message's header section into the one spelling pyVoIP 1.6.8 can parse.

    Its parser splits every header on ": " and drops the whole message on an empty value (e.g.
    baresip's `Supported:`), on `Name:value` without a space, and on compact or lower-case
    names (`i:`, `call-id:`), all of which RFC 3261 §7.3.1 allows.
    """
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    out = [lines[0]]
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        value = value.strip()
        if not colon or not value:
            continue
        key = name.strip().decode("latin-1")
        canonical = _COMPACT.get(key) if len(key) == 1 else _CANONICAL.get(key.lower(), key)
        out.append((canonical or key).encode("latin-1") + b": " + value)
    return b"\r\n".join(out) + sep + body


MANDATORY_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")
MAX_DATAGRAM = 8192  # larger datagrams are truncated by the kernel, then fail to parse
OPTIONS_HEADERS = [b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS", b"Accept: application/sdp"]


def stateless_reply(raw: bytes, status: bytes, extra: list[bytes]) -> bytes:
    """A stateless response to the request `raw` (its dialog headers copied, a To tag added)."""
    keep = (b"Via:", b"From:", b"To:", b"Call-ID:", b"CSeq:")
    lines = raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    headers = [line for line in lines if line.startswith(keep)]
    headers = [
        line + b";tag=" + uuid.uuid4().hex[:10].encode()
        if line.startswith(b"To:") and b";tag=" not in line
        else line
        for line in headers
    ]
    headers += [*extra, b"Content-Length: 0"]
    return b"SIP/2.0 " + status + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n"


def retry_after(gate: TokenBuckets) -> bytes:
    return b"Retry-After: %d" % max(1, math.ceil(1 / gate.rate_per_s))


class TokenBuckets:
    """Token buckets by key (a source address): `burst` at once, then `rate_per_s` sustained.

    Bounded in keys (least recently used forgotten), so a flood of forged sources cannot grow it.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_keys: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: collections.OrderedDict[str | None, tuple[float, float]] = collections.OrderedDict()

    def take(self, key: str | None) -> bool:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
            admitted = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if admitted else tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return admitted


def user_part(header: Any) -> str:
    if isinstance(header, dict):
        return str(header.get("number") or "")
    return ""


def invite_info(request: Any) -> InviteInfo:
    codecs: list[Codec] = []
    for media in request.body.get("m", []) if request.body.get("c") else []:
        if media.get("type") != "audio":
            continue
        for pt in media.get("methods", []):
            name = str(media.get("attributes", {}).get(pt, {}).get("rtpmap", {}).get("name", ""))
            if pt == "0" or name.upper() == "PCMU":
                codecs.append("PCMU")
            elif pt == "8" or name.upper() == "PCMA":
                codecs.append("PCMA")
    source = getattr(request, "source", ("", 0))
    return InviteInfo(
        call_id=str(request.headers["Call-ID"]),
        source=(str(source[0]), int(source[1])),
        caller=user_part(request.headers.get("From")),
        called=user_part(request.headers.get("To")),
        codecs=tuple(dict.fromkeys(codecs)),
    )


def resolve_peer(peer: str) -> list[tuple[str, int | None]]:
    """("host" or "host:port") -> its IPv4 addresses, as datagram sources will show them; a name
    that does not resolve is kept as written (it then matches nothing)."""
    host, sep, port_text = peer.rpartition(":")
    if not (sep and port_text.isdigit()):
        host, port_text = peer, ""
    port = int(port_text) if port_text else None
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return [(host, port)]
    return [(address, port) for address in dict.fromkeys(str(info[4][0]) for info in infos)]


def _split_uris(value: str) -> list[str]:
    """Split a header value on the commas between name-addrs, not those inside <...>."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(value):
        depth += (char == "<") - (char == ">")
        if char == "," and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def record_routes(raw: bytes) -> list[str]:
    """Every Record-Route entry of a request, in the order received (RFC 3261 §12.1.1: the
    UAS copies them into its 2xx and uses them, in this order, as its route set)."""
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
    routes: list[str] = []
    for line in head.split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "record-route":
            routes += _split_uris(value.strip())
    return routes


def route_destination(route: str) -> tuple[str, int]:
    """Where a loose-routing proxy's `<sip:host[:port];lr>` entry is reached (UDP, port 5060 by
    default); a name is resolved as a datagram destination would be."""
    uri = route.strip().lstrip("<").partition(">")[0]
    hostport = uri.partition(":")[2].rpartition("@")[2].partition(";")[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        host, port = hostport, "5060"
    return host.strip("[]"), int(port)


def add_headers(message: str, name: str, values: list[str]) -> str:
    """Insert `name: value` lines right after the Call-ID line (order of `values` kept)."""
    if not values:
        return message
    lines = message.split("\r\n")
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("Call-ID:")), 1)
    return "\r\n".join([*lines[:at], *(f"{name}: {v}" for v in values), *lines[at:]])


def own_via(message: str, host: str, port: int) -> str:
    """Replace a request's copied Via stack with our single Via and a fresh branch (RFC 3261
    §8.1.1.7); pyVoIP's BYE copies the INVITE's Via stack, which proxies answer back along."""
    lines = [line for line in message.split("\r\n") if not line.startswith("Via:")]
    via = f"Via: SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{uuid.uuid4().hex[:16]}"
    return "\r\n".join([lines[0], via, *lines[1:]])


def rebrand(data: bytes, agent: str) -> bytes:
    """Our own product token instead of pyVoIP's `User-Agent: pyVoIP x.y` and SDP `o=`/`s=` lines
    (a scanner's fingerprint); responses carry it as `Server:` (RFC 3261 §20.35)."""
    if b"pyVoIP" not in data:
        return data
    head, sep, body = data.partition(b"\r\n\r\n")
    field_name = b"Server" if head.startswith(b"SIP/2.0 ") else b"User-Agent"
    lines = [
        field_name + b": " + agent.encode() if line.startswith(b"User-Agent: pyVoIP") else line
        for line in head.split(b"\r\n")
    ]
    if body:
        body = b"\r\n".join(
            b"s=-" if line.startswith(b"s=pyVoIP") else line.replace(b"o=pyVoIP ", b"o=- ", 1)
            for line in body.split(b"\r\n")
        )
        lines = [b"Content-Length: %d" % len(body) if x.startswith(b"Content-Length:") else x for x in lines]
    return b"\r\n".join(lines) + sep + body


def min_expires(response: bytes) -> int | None:
    """The Min-Expires of a 423 Interval Too Brief answer to a REGISTER, else None."""
    if not response.startswith(b"SIP/2.0 423"):
        return None
    for line in response.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"min-expires" and value.strip().isdigit():
            return int(value.strip())
    return None


T1_S, T2_S = 0.5, 4.0  # RFC 3261 §17.1.1.1 defaults


class Retransmissions:
    """UDP retransmission of our 2xx to an INVITE until its ACK (RFC 3261 §13.3.1.4, timers G/H)
    and of our BYE until its answer (§17.1.2.2, timers E/F): at T1, doubling, capped at T2,
    for at most 64*T1; then `gave_up(key)`."""

    def __init__(self, gave_up: Callable[[str], None], *, t1_s: float = T1_S, t2_s: float = T2_S) -> None:
        self._gave_up = gave_up
        self._t1, self._t2 = t1_s, t2_s
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Event] = {}

    def start(self, key: str, resend: Callable[[], object]) -> None:
        done = threading.Event()
        with self._lock:
            previous = self._pending.pop(key, None)
            self._pending[key] = done
        if previous is not None:
            previous.set()
        threading.Thread(
            target=self._run, args=(key, resend, done), name=f"SIP retransmit {key}", daemon=True
        ).start()

    def stop(self, key: str) -> bool:
        with self._lock:
            done = self._pending.pop(key, None)
        if done is not None:
            done.set()
        return done is not None

    def _run(self, key: str, resend: Callable[[], object], done: threading.Event) -> None:
        interval, deadline = self._t1, time.monotonic() + 64 * self._t1
        while not done.wait(min(interval, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                if self.stop(key):
                    self._gave_up(key)
                return
            try:
                resend()
            except OSError:
                return
            interval = min(interval * 2, self._t2)

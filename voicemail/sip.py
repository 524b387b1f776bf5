"""The one module that imports pyVoIP 1.6.8: hardening subclasses and a small facade.

The rest of the package sees `SipEndpoint`, `CallLeg`, `InviteInfo` and `Refusal` only.
Fixed here (bugs measured in shared/recipes/sip.md §1 and §4): RTP parser crashes on
short datagrams and odd events, PCMA sent u-law encoded, sleep-drift in RTP pacing, CANCEL
ignored, no-codec offers answered, `deny()` raising, REGISTER blocking `start()`, a random
`+sip.instance` and restart-colliding Call-IDs, responses and BYE sent to the registrar
instead of the call's peer, no source filtering, no OPTIONS reply, 200 to BYE for unknown
calls, re-INVITE re-binding RTP ports, RTP ports reused under live calls, compact or empty
headers dropping INVITEs, one odd datagram ending the receive thread, no INVITE rate limit.
Left (needs a fork of pyVoIP): no SIP retransmission timers (a lost 200 OK is not resent), BYE
copies the INVITE's Via stack, no digest `qop`, no 407 proxy auth, UDP/IPv4/G.711 only, no NAT
handling, no INVITE without SDP (refused with 488 here).
"""

from __future__ import annotations

import collections
import logging
import math
import random
import re
import select
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from channels.base import ChannelAuthFailed
from voicemail.audio import FRAME_SAMPLES, G711_SILENCE, Codec, encode_g711
from voicemail.recorder import Recorder

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    # pyVoIP.VoIP must be imported before pyVoIP.SIP (circular import in 1.6.8): keep this order.
    from pyVoIP import RTP  # noqa: I001
    from pyVoIP.VoIP import (
        CallState,
        InvalidStateError,
        NoPortsAvailableError,
        PhoneStatus,
        VoIPCall,
        VoIPPhone,
    )
    from pyVoIP.SIP import InvalidAccountInfoError, SIPClient, SIPMessage, SIPMessageType
    from pyVoIP.util import acquired_lock_and_unblocked_socket
    import pyVoIP.SIP
    import pyVoIP.VoIP.VoIP

log = logging.getLogger(__name__)


class LineState(StrEnum):
    UP = "up"  # trunk bound, or registered
    REGISTERING = "registering"
    FAILED = "failed"  # pyVoIP gave up registering and closed its socket
    STOPPED = "stopped"


_library_log = logging.getLogger("pyVoIP")


def _library_debug(message: object, short: object = None) -> None:
    # pyVoIP prints some of its diagnostics to stdout, SIP messages among them; keep them in the
    # logging tree at DEBUG, where message contents are allowed.
    _library_log.debug("%s", message)


for _module in (RTP, pyVoIP.SIP, pyVoIP.VoIP.VoIP):
    _module.debug = _library_debug  # type: ignore[attr-defined]

_CALL_ID = re.compile(rb"^Call-ID:[ \t]*([^\r\n]+)", re.IGNORECASE | re.MULTILINE)
_FRAME_S = FRAME_SAMPLES / 8000


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
            self.sum_dev_s += abs(interval - _FRAME_S)
            self.frames += 1
        self._last = now

    def pause(self) -> None:
        self._last = None

    @property
    def mean_jitter_s(self) -> float:
        return self.sum_dev_s / self.frames if self.frames else 0.0


class _TapRTPClient(RTP.RTPClient):
    """RTP leg that hands raw G.711 payloads to a Recorder and sends pre-encoded G.711."""

    def __init__(self, *args: Any, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder
        self.codec: Codec | None = None
        pref = getattr(self, "preference", None)  # unset when the offer had no G.711 at all
        if pref == RTP.PayloadType.PCMU:
            self.codec = "PCMU"
        elif pref == RTP.PayloadType.PCMA:
            self.codec = "PCMA"
        self._out: collections.deque[bytes] = collections.deque()
        self._last_event_ts: int | None = None
        self.send_stats = SendStats()

    # -- receive ------------------------------------------------------------------------------
    def parse_packet(self, packet: bytes) -> None:
        # Anything but RTPParseError escaping here ends pyVoIP's receiver thread for the rest of
        # the call (0-3 byte datagrams, event codes > 15): the recording would silently stop.
        try:
            if len(packet) < 12:
                raise RTP.RTPParseError(f"short RTP datagram ({len(packet)} bytes)")
            super().parse_packet(packet)
        except RTP.RTPParseError:
            raise
        except Exception as exc:
            raise RTP.RTPParseError(f"malformed RTP: {exc!r}") from exc

    def parse_pcmu(self, packet: Any) -> None:
        # pyVoIP's own 8-bit buffer is never read (8-bit, drops silence) and would grow all call.
        self.recorder.feed(packet.timestamp, "PCMU", packet.payload)

    def parse_pcma(self, packet: Any) -> None:
        self.recorder.feed(packet.timestamp, "PCMA", packet.payload)

    def parse_telephone_event(self, packet: Any) -> None:
        payload: bytes = packet.payload
        self.recorder.note_activity()
        if len(payload) < 4 or payload[0] > 15:
            return  # flash-hook, fax tones, truncated events: not a keypad digit
        # RFC 4733 §2.5: every packet of one event carries its start timestamp; keying on it
        # (not only on the marker bit) keeps a digit whose first packet was lost.
        if packet.timestamp == self._last_event_ts:
            return
        self._last_event_ts = packet.timestamp
        if self.dtmf is not None:
            self.dtmf("0123456789*#ABCD"[payload[0]])

    # -- send ---------------------------------------------------------------------------------
    def play(self, pcm16: bytes) -> float:
        if self.codec is None:
            return 0.0
        encoded = encode_g711(self.codec, pcm16)
        pad = bytes([G711_SILENCE[self.codec]]) * (-len(encoded) % FRAME_SAMPLES)
        encoded += pad
        frames = [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]
        self._out.extend(frames)
        return len(frames) * _FRAME_S

    def pending_frames(self) -> int:
        return len(self._out)

    def flush(self) -> None:
        self._out.clear()

    def trans(self) -> None:
        # Replaces pyVoIP's sleep-after-send loop: frames are already G.711 of the negotiated
        # codec (stock 1.6.8 encodes PCMA with the u-law encoder) and paced on a monotonic
        # schedule, so scheduling delays do not accumulate into a slow, choppy greeting.
        if self.codec is None:
            return
        silent = bytes([G711_SILENCE[self.codec]]) * FRAME_SAMPLES
        pt = int(self.preference)
        next_at = time.monotonic()
        while self.NSD:
            try:
                frame = self._out.popleft()
                playing = True
            except IndexError:
                frame, playing = silent, False
            header = bytes([0x80, pt & 0x7F])
            header += (self.outSequence & 0xFFFF).to_bytes(2, "big")
            header += (self.outTimestamp & 0xFFFFFFFF).to_bytes(4, "big")
            header += (self.outSSRC & 0xFFFFFFFF).to_bytes(4, "big")
            try:
                self.sout.sendto(header + frame, (self.outIP, self.outPort))
            except OSError:
                if not self.NSD:
                    return
            now = time.monotonic()
            if playing:
                self.send_stats.sent(now)
            else:
                self.send_stats.pause()
            self.outSequence = (self.outSequence + 1) & 0xFFFF
            self.outTimestamp = (self.outTimestamp + FRAME_SAMPLES) & 0xFFFFFFFF
            next_at += _FRAME_S
            delay = next_at - now
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.2:
                next_at = now  # after a long stall, restart the schedule instead of bursting


class _TapCall(VoIPCall):
    def create_rtp_clients(
        self, codecs: dict[int, Any], ip: str, port: int, request: Any, baseport: int
    ) -> None:
        recorder = cast("_HardenedPhone", self.phone).make_recorder()
        for i in range(len(request.body["c"])):
            self.RTPClients.append(
                _TapRTPClient(
                    codecs,
                    ip,
                    port,
                    request.body["c"][i]["address"],
                    baseport + i,
                    self.sendmode,
                    dtmf=self.dtmf_callback,
                    recorder=recorder,
                )
            )


class _Router:
    """Stands in for pyVoIP's send socket: pyVoIP addresses every response and BYE to
    (server, port); we send whatever belongs to a call to where that call's INVITE came from."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._routes: collections.OrderedDict[str, tuple[str, int]] = collections.OrderedDict()

    def learn(self, call_id: str, source: tuple[str, int]) -> None:
        with self._lock:
            self._routes[call_id] = source
            self._routes.move_to_end(call_id)
            while len(self._routes) > 4096:
                self._routes.popitem(last=False)

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        match = _CALL_ID.search(data)
        if match is not None:
            with self._lock:
                address = self._routes.get(match.group(1).decode(errors="replace"), address)
        return self._sock.sendto(data, address)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _RepliesOnly:
    """The SIP socket as pyVoIP's REGISTER code sees it. That code holds the receive lock and takes the
    next datagram from the socket calls also arrive on as the registrar's answer; with the PBX slow or
    gone, a caller's INVITE was taken for it (lost, and read as "credentials refused"). Here requests
    go to the normal handler and only responses reach the waiting transaction."""

    def __init__(
        self,
        sock: socket.socket,
        handle: Callable[[bytes, tuple[str, int]], None],
        wait_s: Callable[[], float],
    ) -> None:
        self._sock = sock
        self._handle = handle
        self._wait_s = wait_s  # the client's register_timeout, which deregister() shortens

    def recv(self, size: int) -> bytes:
        deadline = time.monotonic() + self._wait_s()
        while True:
            raw, source = self._sock.recvfrom(max(size, _MAX_DATAGRAM))
            if raw.startswith(b"SIP/2.0 "):
                return raw
            try:
                self._handle(raw, source)
            except Exception:
                log.exception("SIP datagram from %s not handled", source[0])
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._sock], [], [], remaining)[0]:
                raise TimeoutError("no answer from the SIP server")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _HardenedSIPClient(SIPClient):
    def __init__(self, *args: Any, registering: bool, invite_gate: TokenBuckets, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._registering = registering
        self.invite_gate = invite_gate
        self.dropped_invites = 0
        self.credentials_refused = False
        self.registered = False

    def start(self) -> None:
        # Stock start() REGISTERs synchronously (30 s per try when the registrar is gone);
        # binding stays synchronous so a taken port fails start(), registering goes to a thread.
        if self.NSD:
            raise RuntimeError("SIP client already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.myIP, self.myPort))
        # pyVoIP only knows a socket; the stand-in passes everything else through.
        self.s = cast(socket.socket, _RepliesOnly(sock, self._handle_datagram, lambda: self.register_timeout))
        self.NSD = True
        self.router = _Router(self.s)
        self.out = cast(socket.socket, self.router)
        if self._registering:
            threading.Thread(target=self.register, name="SIP Register", daemon=True).start()
        receiver = threading.Thread(target=self.recv_loop, name="SIP Receive", daemon=True)
        receiver.start()

    def recv(self) -> None:
        raw, source = self.s.recvfrom(_MAX_DATAGRAM)  # BlockingIOError goes back to recv_loop
        try:
            self._handle_datagram(raw, source)
        except Exception:
            # One odd datagram must never end the only SIP receive thread.
            log.exception("SIP datagram from %s not handled", source[0])

    def _handle_datagram(self, raw: bytes, source: tuple[str, int]) -> None:
        if not raw.strip(b"\r\n\x00"):
            return  # keep-alives (RFC 5626 CRLF, pyVoIP's NUL probes)
        phone = cast("_HardenedPhone", self.phone)
        allowed = phone.accepts_source(source)
        is_invite = raw.startswith(b"INVITE ")
        if not allowed and not (is_invite and self.invite_gate.take(None)):
            # Only the trunk peer or registrar has business here (scanners probe with OPTIONS
            # and REGISTER). An INVITE from elsewhere gets its 403 from the channel's screen, but
            # all such sources share one rate budget (forged addresses cost nothing), checked
            # before any parsing.
            self.dropped_invites += int(is_invite)
            return
        raw = normalize_headers(raw)
        if is_invite and allowed and not self._admit_invite(raw, source):
            return
        if raw.startswith(b"OPTIONS "):
            # 1.6.8 cannot parse OPTIONS at all, so a PBX's qualify marks us unreachable.
            self.s.sendto(_reply(raw, b"200 OK", _OPTIONS_HEADERS), source)
            return
        try:
            message = SIPMessage(raw)
        except Exception as exc:
            log.debug("unparsable SIP datagram from %s: %r", source[0], exc)
            return
        missing = [name for name in _MANDATORY if name not in message.headers]
        if missing:
            # RFC 3261 §8.1.1: without these there is no dialog to answer in; pyVoIP assumes them.
            log.debug("SIP message from %s without %s dropped", source[0], ", ".join(missing))
            return
        message.source = source  # type: ignore[attr-defined]
        if message.type == SIPMessageType.MESSAGE:
            call_id = message.headers.get("Call-ID")
            if call_id and message.method in ("INVITE", "CANCEL", "BYE", "ACK"):
                known = call_id in phone.calls
                if known or (message.method == "INVITE" and allowed):
                    self.router.learn(call_id, source)
        try:
            self.parse_message(message)
        except Exception:
            log.exception("SIP message handling failed")

    def _admit_invite(self, raw: bytes, source: tuple[str, int]) -> bool:
        """Take a peer's token for an INVITE that would start a call; over its limit the peer
        gets 503 with Retry-After, so a PBX backs off or fails over."""
        match = _CALL_ID.search(raw)
        if match is not None and match.group(1).strip().decode(errors="replace") in self.phone.calls:
            return True  # a retransmission or re-INVITE of a call we already have
        if self.invite_gate.take(source[0]):
            return True
        self.dropped_invites += 1
        retry = _retry_after(self.invite_gate)
        self.s.sendto(_reply(raw, b"503 Service Unavailable", [retry]), source)
        return False

    # Overrides SIPClient.__register (name-mangled) to tell refused credentials from a timeout.
    def _SIPClient__register(self) -> bool:
        self.registered = False
        try:
            self.registered = bool(super()._SIPClient__register())  # type: ignore[misc]
        except InvalidAccountInfoError:
            self.credentials_refused = True
            raise
        self.credentials_refused = False
        return self.registered

    def gen_call_id(self) -> str:
        # Stock Call-IDs hash a counter that restarts at 1 with the process, so a restarted
        # gateway re-REGISTERs with its previous Call-ID and CSeq 1, which a registrar rejects
        # as out of order (RFC 3261 §10.3 step 7).
        return f"{uuid.uuid4().hex}@{self.myIP}:{self.myPort}"

    def recv_loop(self) -> None:
        # Stock loop dies with EBADF when stop() closes the socket under it, and with any OSError
        # of a reply's sendto (e.g. to a forged source port 0).
        while self.NSD:
            try:
                with acquired_lock_and_unblocked_socket(self.recvLock, self.s):
                    self.recv()
            except BlockingIOError:
                time.sleep(0.01)
            except OSError as exc:
                if not self.NSD or self.s.fileno() < 0:
                    return
                log.warning("SIP socket error: %r", exc)
                time.sleep(0.01)

    def parse_message(self, message: SIPMessage) -> None:
        if message.type == SIPMessageType.MESSAGE and message.method == "CANCEL":
            # Stock 1.6.8 runs the callback (our 487) before it 200s the CANCEL, so the caller
            # sees them out of order; RFC 3261 §9.2 wants the CANCEL's 200 first.
            known = message.headers["Call-ID"] in self.phone.calls
            reply = self.gen_ok(message)
            if not known:
                reply = reply.replace("200 OK", "481 Call/Transaction Does Not Exist", 1)
            source = getattr(message, "source", None) or (self.server, self.port)
            self.s.sendto(reply.encode("utf8"), source)
            if known and self.callCallback is not None:
                self.callCallback(message)
            return
        if (
            message.type == SIPMessageType.MESSAGE
            and message.method == "BYE"
            and message.headers["Call-ID"] not in self.phone.calls
        ):
            reply = self.gen_ok(message).replace("200 OK", "481 Call/Transaction Does Not Exist")
            self.s.sendto(reply.encode("utf8"), getattr(message, "source", None) or (self.server, self.port))
            return
        super().parse_message(message)

    def deregister(self) -> bool:
        # Stock deregistration waits for the receive lock, which a pending REGISTER retry holds
        # for up to register_timeout (30 s), then another 30 s for the reply: nothing to undo
        # unless we are registered, and a short wait when we are.
        if not self.registered:
            return False
        self.register_timeout = 2
        try:
            return bool(super().deregister())
        except Exception as exc:
            log.warning("SIP deregistration failed: %r", exc)
            return False


class _HardenedPhone(VoIPPhone):
    def __init__(self, endpoint: SipEndpoint, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.sip = _HardenedSIPClient(
            self.server,
            self.port,
            self.username,
            self.password,
            phone=self,
            myIP=self.myIP,
            myPort=kwargs["sipPort"],
            callCallback=self.callback,
            fatalCallback=self.fatal,
            registering=endpoint.registering,
            invite_gate=endpoint.invite_gate,
        )

    def request_port(self, blocking: bool = True) -> int:
        # Stock bookkeeping never records an incoming call's port; once the range is used up it
        # "releases" every port, including those of live calls, and a new call may pick one of
        # them and fail to bind. Choose among ports no live call has open.
        in_use = {client.inPort for call in list(self.calls.values()) for client in call.RTPClients}
        free = [p for p in range(self.rtpPortLow, self.rtpPortHigh + 1) if p not in in_use]
        if not free:
            raise NoPortsAvailableError("every RTP port of the range is in use")
        return random.choice(free)

    def make_recorder(self) -> Recorder:
        return self.endpoint.recorder_factory()

    def accepts_source(self, source: tuple[str, int]) -> bool:
        return self.endpoint.accepts_source(source)

    def callback(self, request: Any) -> None:
        if request.type != SIPMessageType.MESSAGE:
            super().callback(request)
            return
        source = getattr(request, "source", None)
        call = self.calls.get(request.headers.get("Call-ID"))
        if (
            request.method in ("CANCEL", "BYE")
            and call is not None
            and source is not None
            and source[0] != getattr(call.request, "source", source)[0]
        ):
            return  # only the peer that placed the call may end it
        if request.method == "CANCEL":
            if call is not None and call.state == CallState.RINGING:
                # 1.6.8 only 200s the CANCEL and answers the INVITE anyway a second later.
                call.state = CallState.ENDED
                self.calls.pop(call.call_id, None)
                self.respond(call.request, REQUEST_TERMINATED)
            return
        if request.method == "INVITE":
            if call is None:
                self._screen_invite(request)
            elif call.state == CallState.ANSWERED:
                self._refresh_session(call, request)
            return  # an INVITE retransmission while ringing: 180 was sent already
        super().callback(request)

    def _refresh_session(self, call: Any, request: Any) -> None:
        # A re-INVITE (session timer, hold, media move) makes stock renegotiate() start the RTP
        # clients again, which fails to bind their port: answer with the running session instead.
        media = {client.inPort: client.assoc for client in call.RTPClients}
        answer = self.sip.gen_answer(request, call.session_id, media, call.sendmode)
        self.sip.out.sendto(answer.encode("utf8"), (self.server, self.port))
        connections = request.body.get("c") or []
        audio = [m for m in request.body.get("m", []) if m.get("type") == "audio"]
        if connections and audio:
            for i, client in enumerate(call.RTPClients[: len(connections)]):
                client.outIP = connections[i]["address"]
                client.outPort = audio[0]["port"] + i

    def _screen_invite(self, request: Any) -> None:
        info = _invite_info(request)
        refusal = self.endpoint.screen(info)
        if refusal is None and not info.codecs:
            refusal = NOT_ACCEPTABLE  # stock 1.6.8 answers with an empty m= line, then crashes
        if refusal is not None:
            self.respond(request, refusal)
            self.endpoint.refused(info, refusal)
            return
        try:
            self._callback_MSG_Invite(request)
        except Exception:
            log.exception("INVITE handling failed")
            self.endpoint.released(info.call_id)
            return
        call = self.calls.get(info.call_id)
        if call is not None:
            self.endpoint.legs[info.call_id] = CallLeg(call, info)

    def respond(self, request: Any, refusal: Refusal) -> None:
        message = self.sip.gen_busy(request).replace("486 Busy Here", refusal.status_line, 1)
        # A refused INVITE's source is never learnt by the router: answer it where it came from.
        destination = getattr(request, "source", None) or (self.server, self.port)
        self.sip.s.sendto(message.encode("utf8"), destination)

    def _create_Call(self, request: Any, sess_id: int) -> None:
        call_id = request.headers["Call-ID"]
        self.calls[call_id] = _TapCall(
            self, CallState.RINGING, request, sess_id, self.myIP, sendmode=self.recvmode
        )


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


_MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")
_MAX_DATAGRAM = 8192  # larger datagrams are truncated by the kernel, then fail to parse
_OPTIONS_HEADERS = [b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS", b"Accept: application/sdp"]


def _reply(raw: bytes, status: bytes, extra: list[bytes]) -> bytes:
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


def _retry_after(gate: TokenBuckets) -> bytes:
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


def _user_part(header: Any) -> str:
    if isinstance(header, dict):
        return str(header.get("number") or "")
    return ""


def _invite_info(request: Any) -> InviteInfo:
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
        caller=_user_part(request.headers.get("From")),
        called=_user_part(request.headers.get("To")),
        codecs=tuple(dict.fromkeys(codecs)),
    )


class CallLeg:
    """One answered-or-ringing call as the channel drives it, without pyVoIP types."""

    def __init__(self, call: Any, info: InviteInfo) -> None:
        self._call = call
        self.info = info
        self._hung_up_locally = False

    @property
    def call_id(self) -> str:
        return self.info.call_id

    @property
    def _rtp(self) -> _TapRTPClient:
        client: _TapRTPClient = self._call.RTPClients[0]
        return client

    @property
    def recorder(self) -> Recorder:
        return self._rtp.recorder

    @property
    def codec(self) -> Codec | None:
        return self._rtp.codec if self._call.RTPClients else None

    @property
    def send_stats(self) -> SendStats:
        return self._rtp.send_stats

    @property
    def ringing(self) -> bool:
        return bool(self._call.state == CallState.RINGING)

    @property
    def up(self) -> bool:
        return bool(self._call.state == CallState.ANSWERED)

    @property
    def remote_hung_up(self) -> bool:
        return self._call.state == CallState.ENDED and not self._hung_up_locally

    def answer(self) -> bool:
        """Answer if still ringing (a CANCEL may have won the race); False when it had ended."""
        try:
            self._call.answer()
        except InvalidStateError:
            return False
        return True

    def refuse(self, refusal: Refusal) -> None:
        """What stock deny() should do: reject a ringing call without touching RTP sockets that
        were never opened (1.6.8's deny() raises AttributeError there, #243)."""
        if self._call.state != CallState.RINGING:
            return
        self._call.state = CallState.ENDED
        phone = cast(_HardenedPhone, self._call.phone)
        phone.calls.pop(self.call_id, None)
        phone.respond(self._call.request, refusal)

    def play(self, pcm16: bytes) -> float:
        return self._rtp.play(pcm16)

    def playing(self) -> bool:
        return self._rtp.pending_frames() > 0

    def stop_playing(self) -> None:
        self._rtp.flush()

    def digit(self) -> str:
        return str(self._call.get_dtmf())

    def hangup(self) -> None:
        self._hung_up_locally = True
        if self._call.state == CallState.ANSWERED:
            try:
                self._call.hangup()
            except (InvalidStateError, OSError) as exc:
                log.debug("hangup of %s failed: %r", self.call_id, exc)


class SipEndpoint:
    """A pyVoIP phone bound to one SIP port, either registered to a PBX or serving a trunk.

    Hooks run on pyVoIP's threads: `screen` (SIP receive thread) decides whether an INVITE may
    ring; `on_call` (a per-call thread, 1 s after the INVITE) drives the call; `refused` reports
    what `screen` or codec negotiation turned away.
    """

    def __init__(
        self,
        *,
        bind_host: str,
        bind_port: int,
        rtp_port_low: int,
        rtp_port_high: int,
        server: str,
        server_port: int,
        username: str,
        password: str,
        registering: bool,
        register_expires_s: int,
        instance_uuid: str,
        trunk_peers: list[str],
        invite_rate_per_s: float,
        invite_burst: int,
        screen: Callable[[InviteInfo], Refusal | None],
        on_call: Callable[[CallLeg], None],
        refused: Callable[[InviteInfo, Refusal], None],
        released: Callable[[str], None],
        recorder_factory: Callable[[], Recorder],
    ) -> None:
        self.registering = registering
        self.where = f"{server}:{server_port}"
        self.screen = screen
        self.refused = refused
        self.released = released
        self.recorder_factory = recorder_factory
        self._on_call = on_call
        self._peers = [(address, port) for p in trunk_peers for address, port in _resolve_peer(p)]
        self._server_hosts = {address for address, _ in _resolve_peer(server)}
        self.invite_gate = TokenBuckets(invite_rate_per_s, invite_burst)
        self.legs: dict[str, CallLeg] = {}  # ringing calls, until their call thread takes them
        self._phone = _HardenedPhone(
            self,
            server=server,
            port=server_port,
            username=username,
            password=password,
            myIP=bind_host,
            callCallback=self._dispatch,
            sipPort=bind_port,
            rtpPortLow=rtp_port_low,
            rtpPortHigh=rtp_port_high,
        )
        self._phone.sip.default_expires = register_expires_s
        # A random +sip.instance per start makes an RFC 5626 registrar keep the crashed
        # process's binding too and fork every INVITE to both.
        self._phone.sip.urnUUID = instance_uuid.upper()

    def accepts_source(self, source: tuple[str, int]) -> bool:
        if self.registering and source[0] in self._server_hosts:
            return True  # calls arrive through the registrar/proxy we registered with
        return any(host == source[0] and port in (None, source[1]) for host, port in self._peers)

    def _dispatch(self, call: Any) -> None:
        leg = self.legs.pop(str(call.call_id), None)
        if leg is None:
            leg = CallLeg(call, _invite_info(call.request))
        self._on_call(leg)

    def start(self) -> None:
        self._phone.start()

    def stop(self) -> None:
        self._phone.stop()

    @property
    def dropped_invites(self) -> int:
        """INVITEs turned away by the rate limit since start (503 to peers, silence to others)."""
        return cast(_HardenedSIPClient, self._phone.sip).dropped_invites

    def state(self) -> LineState:
        """Where the line stands; ChannelAuthFailed when the registrar refused the credentials."""
        status = self._phone.get_status()
        sip = cast(_HardenedSIPClient, self._phone.sip)
        if self.registering and sip.credentials_refused and status != PhoneStatus.REGISTERED:
            raise ChannelAuthFailed(f"{self.where} refused the credentials")
        if status == PhoneStatus.FAILED:
            return LineState.FAILED
        if status in (PhoneStatus.INACTIVE, PhoneStatus.DEREGISTERING):
            return LineState.STOPPED
        if not self.registering or status == PhoneStatus.REGISTERED:
            return LineState.UP
        return LineState.REGISTERING


def _resolve_peer(peer: str) -> list[tuple[str, int | None]]:
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

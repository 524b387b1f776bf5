"""pyVoIP's SIP client and phone, hardened: replies to the call's peer, route sets, retransmissions,
source filtering and INVITE rate limits, header normalisation, CANCEL/OPTIONS/unknown-BYE handling,
registration state. One of the three modules (voicemail.sip*) that import pyVoIP 1.6.8."""

from __future__ import annotations

import collections
import logging
import random
import select
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any, Protocol, cast

from voicemail.recorder import Recorder
from voicemail.sipwire import (
    MANDATORY_HEADERS,
    MAX_DATAGRAM,
    NOT_ACCEPTABLE,
    OPTIONS_HEADERS,
    REQUEST_TERMINATED,
    InviteInfo,
    Refusal,
    Retransmissions,
    TokenBuckets,
    add_headers,
    invite_info,
    min_expires,
    normalize_headers,
    own_via,
    rebrand,
    record_routes,
    retry_after,
    route_destination,
    stateless_reply,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    # pyVoIP.VoIP must be imported before pyVoIP.SIP (circular import in 1.6.8): keep this order.
    from pyVoIP.SIP import InvalidAccountInfoError, SIPClient, SIPMessage, SIPMessageType
    from pyVoIP.util import acquired_lock_and_unblocked_socket
    from pyVoIP.VoIP import (
        CallState,
        NoPortsAvailableError,
        VoIPPhone,
    )

from voicemail.sip_rtp import _CALL_ID, _TapCall

log = logging.getLogger("voicemail.sip")
AUTH_RETRY_S = 60


class EndpointHooks(Protocol):
    """What the phone asks of the endpoint that owns it (voicemail.sip.SipEndpoint)."""

    registering: bool
    user_agent: str
    keepalive_s: float
    invite_gate: TokenBuckets
    legs: dict[str, Any]
    screen: Callable[[InviteInfo], Refusal | None]
    refused: Callable[[InviteInfo, Refusal], None]
    released: Callable[[str], None]
    recorder_factory: Callable[[], Recorder]

    def accepts_source(self, source: tuple[str, int]) -> bool: ...

    def new_leg(self, call: Any, info: InviteInfo) -> Any: ...


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
        return self._sock.sendto(rebrand(data, self._agent), address)

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
        agent: str,
    ) -> None:
        self._sock = sock
        self._handle = handle
        self._wait_s = wait_s  # the client's register_timeout, which deregister() shortens
        self._agent = agent
        self.last_response = b""

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        return self._sock.sendto(rebrand(data, self._agent), address)

    def recv(self, size: int) -> bytes:
        deadline = time.monotonic() + self._wait_s()
        while True:
            raw, source = self._sock.recvfrom(max(size, MAX_DATAGRAM))
            if raw.startswith(b"SIP/2.0 "):
                self.last_response = raw
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
    def __init__(
        self, *args: Any, registering: bool, invite_gate: TokenBuckets, user_agent: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user_agent = user_agent
        self.retransmissions = Retransmissions(self._unanswered)
        self.keepalive_s = 0.0
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
        self._replies = _RepliesOnly(
            sock, self._handle_datagram, lambda: self.register_timeout, self.user_agent
        )
        self.s = cast(socket.socket, self._replies)
        self.NSD = True
        self.router = _Router(self.s)
        self.out = cast(socket.socket, self.router)
        if self._registering:
            threading.Thread(target=self.register, name="SIP Register", daemon=True).start()
            if self.keepalive_s > 0:
                threading.Thread(target=self._keep_alive, name="SIP keep-alive", daemon=True).start()
        receiver = threading.Thread(target=self.recv_loop, name="SIP Receive", daemon=True)
        receiver.start()

    def _keep_alive(self) -> None:
        # RFC 5626 §4.4.1 double-CRLF ping: keeps a NAT's UDP binding toward the registrar open
        # between REGISTER refreshes, so calls still reach us.
        while self.NSD:
            time.sleep(self.keepalive_s)
            try:
                self.s.sendto(b"\r\n\r\n", (self.server, self.port))
            except OSError:
                return

    def recv(self) -> None:
        raw, source = self.s.recvfrom(MAX_DATAGRAM)  # BlockingIOError goes back to recv_loop
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
            self.s.sendto(stateless_reply(raw, b"200 OK", OPTIONS_HEADERS), source)
            return
        try:
            message = SIPMessage(raw)
        except Exception as exc:
            log.debug("unparsable SIP datagram from %s: %r", source[0], exc)
            return
        missing = [name for name in MANDATORY_HEADERS if name not in message.headers]
        if missing:
            # RFC 3261 §8.1.1: without these there is no dialog to answer in; pyVoIP assumes them.
            log.debug("SIP message from %s without %s dropped", source[0], ", ".join(missing))
            return
        message.source = source  # type: ignore[attr-defined]
        self._acknowledged(message)
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

    def _acknowledged(self, message: SIPMessage) -> None:
        call_id = str(message.headers["Call-ID"])
        if message.type == SIPMessageType.MESSAGE and message.method in ("ACK", "BYE", "CANCEL"):
            self.retransmissions.stop(f"2xx {call_id}")
        elif message.type == SIPMessageType.RESPONSE and message.headers["CSeq"].get("method") == "BYE":
            self.retransmissions.stop(f"bye {call_id}")

    def _admit_invite(self, raw: bytes, source: tuple[str, int]) -> bool:
        """Take a peer's token for an INVITE that would start a call; over its limit the peer
        gets 503 with Retry-After, so a PBX backs off or fails over."""
        match = _CALL_ID.search(raw)
        if match is not None and match.group(1).strip().decode(errors="replace") in self.phone.calls:
            return True  # a retransmission or re-INVITE of a call we already have
        if self.invite_gate.take(source[0]):
            return True
        self.dropped_invites += 1
        retry = retry_after(self.invite_gate)
        self.s.sendto(stateless_reply(raw, b"503 Service Unavailable", [retry]), source)
        return False

    # Overrides SIPClient.__register (name-mangled) to tell refused credentials from a timeout.
    def _SIPClient__register(self) -> bool:
        self.registered = False
        for attempt in range(2):
            try:
                self.registered = bool(super()._SIPClient__register())  # type: ignore[misc]
                break
            except InvalidAccountInfoError:
                # Stock code reads any final answer but 200 as "bad password", 423 too.
                minimum = min_expires(self._replies.last_response)
                if attempt == 0 and minimum is not None:
                    log.info("registrar wants Expires >= %d s (423)", minimum)
                    self.default_expires = minimum  # RFC 3261 §10.2.8: retry with Min-Expires
                    continue
                self.credentials_refused = True
                raise
        self.credentials_refused = False
        return self.registered

    def _SIPClient__start_register_timer(self, delay: int | None = None) -> None:
        # After refused credentials stock code retries at once, three times, then stops the line
        # for good; ask again every AUTH_RETRY_S instead (the PBX's account may be fixed meanwhile).
        if self.credentials_refused:
            self.registerFailures = 0
            delay = AUTH_RETRY_S
        super()._SIPClient__start_register_timer(delay)  # type: ignore[misc]

    def gen_answer(self, request: SIPMessage, sess_id: str, ms: Any, sendtype: Any) -> str:
        # Stock 200 OK drops Record-Route, so the caller's ACK and BYE bypass the proxies that
        # asked to stay in the dialog (RFC 3261 §12.1.1 wants them copied, in order).
        answer = add_headers(
            str(super().gen_answer(request, sess_id, ms, sendtype)),
            "Record-Route",
            record_routes(request.raw),
        )
        data, call_id = answer.encode("utf8"), str(request.headers["Call-ID"])
        self.retransmissions.start(f"2xx {call_id}", lambda: self.out.sendto(data, (self.server, self.port)))
        return answer

    def bye(self, request: SIPMessage) -> None:
        # Our BYE follows the route set the INVITE's Record-Route gave us (RFC 3261 §12.2.1.1,
        # loose routing): Route headers in the order received, sent to the first proxy.
        routes = record_routes(request.raw)
        message = own_via(str(self.gen_bye(request)), self.myIP, self.myPort)
        data = add_headers(message, "Route", routes).encode("utf8")
        send: Callable[[], int] = (
            (lambda: self.s.sendto(data, route_destination(routes[0])))
            if routes
            else (lambda: self.out.sendto(data, (self.server, self.port)))
        )
        self.retransmissions.stop(f"2xx {request.headers['Call-ID']}")
        send()
        self.retransmissions.start(f"bye {request.headers['Call-ID']}", send)

    def _unanswered(self, key: str) -> None:
        kind, _, call_id = key.partition(" ")
        log.warning(
            "no %s for our %s of call %s in 32 s", "ACK" if kind == "2xx" else "answer", kind, call_id
        )
        call = self.phone.calls.get(call_id)
        if kind == "2xx" and call is not None and call.state == CallState.ANSWERED:
            call.hangup()  # RFC 3261 §13.3.1.4: a 2xx never acknowledged ends the dialog with BYE

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
    def __init__(self, endpoint: EndpointHooks, **kwargs: Any) -> None:
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
            user_agent=endpoint.user_agent,
        )
        self.sip.keepalive_s = endpoint.keepalive_s

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
        offered = request.body.get("a", {}).get("transmit_type")  # RFC 3264 §6.1: mirror a hold
        mirror = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
        direction = call.sendmode if offered is None else type(offered)(mirror.get(offered.value, "sendrecv"))
        answer = self.sip.gen_answer(request, call.session_id, media, direction)
        self.sip.out.sendto(answer.encode("utf8"), (self.server, self.port))
        connections = request.body.get("c") or []
        audio = [m for m in request.body.get("m", []) if m.get("type") == "audio"]
        if connections and audio:
            for i, client in enumerate(call.RTPClients[: len(connections)]):
                client.outIP = connections[i]["address"]
                client.outPort = audio[0]["port"] + i

    def _screen_invite(self, request: Any) -> None:
        info = invite_info(request)
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
            self.endpoint.legs[info.call_id] = self.endpoint.new_leg(call, info)

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

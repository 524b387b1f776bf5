"""The SIP line the channel drives: SipEndpoint (one pyVoIP phone) and CallLeg (one call). With
voicemail.sip_rtp and voicemail.sip_transport, the only modules that import pyVoIP 1.6.8.
"""

# Fixed in these modules (bugs measured in the project's SIP recipe, §1 and §4): RTP parser
# crashes on short datagrams and odd events, PCMA sent u-law encoded, sleep-drift in RTP pacing,
# CANCEL ignored, no-codec offers answered, `deny()` raising, REGISTER blocking `start()`, a random
# `+sip.instance` and restart-colliding Call-IDs, responses and BYE sent to the registrar instead
# of the call's peer, no source filtering, no OPTIONS reply, 200 to BYE for unknown calls,
# re-INVITE re-binding RTP ports, RTP ports reused under live calls, compact or empty headers
# dropping INVITEs, one odd datagram ending the receive thread, no INVITE rate limit, Record-Route
# dropped from the 200 OK and BYE sent without the route set, BYE copying the INVITE's Via stack,
# no 200 OK/BYE retransmission, 423 read as a bad password, refused credentials retried at once
# then the line stopped, RTP taken from anyone, a hold answered sendrecv, pyVoIP's name and version
# in User-Agent and SDP.
# Left (needs a fork of pyVoIP): no digest `qop`, no 407 proxy auth, UDP/IPv4/G.711 only, no NAT
# handling beyond same-host RTP latching, no INVITE without SDP (refused with 488 here).

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any, cast

from channels.base import ChannelAuthFailed
from voicemail.audio import Codec
from voicemail.recorder import Recorder
from voicemail.sipwire import (
    InviteInfo,
    LineState,
    Refusal,
    SendStats,
    TokenBuckets,
    invite_info,
    resolve_peer,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    # pyVoIP.VoIP must be imported before pyVoIP.SIP (circular import in 1.6.8): keep this order.
    from pyVoIP.VoIP import (
        CallState,
        InvalidStateError,
        PhoneStatus,
    )

from voicemail.sip_rtp import _TapRTPClient
from voicemail.sip_transport import _HardenedPhone, _HardenedSIPClient

log = logging.getLogger(__name__)


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
        user_agent: str = "Sistem48",
        keepalive_s: float = 0,
    ) -> None:
        self.registering = registering
        self.user_agent = user_agent
        self.keepalive_s = keepalive_s
        self.where = f"{server}:{server_port}"
        self.screen = screen
        self.refused = refused
        self.released = released
        self.recorder_factory = recorder_factory
        self._on_call = on_call
        self._peers = [(address, port) for p in trunk_peers for address, port in resolve_peer(p)]
        self._server_hosts = {address for address, _ in resolve_peer(server)}
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

    def new_leg(self, call: Any, info: InviteInfo) -> CallLeg:
        return CallLeg(call, info)

    def _dispatch(self, call: Any) -> None:
        leg = self.legs.pop(str(call.call_id), None)
        if leg is None:
            leg = CallLeg(call, invite_info(call.request))
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

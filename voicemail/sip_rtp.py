"""pyVoIP's RTP leg, hardened: raw G.711 payloads to a Recorder (bit-exact, 16-bit), greetings sent
pre-encoded in the caller's codec on a monotonic 20 ms schedule, odd datagrams and events survived.
One of the three modules (voicemail.sip*) that import pyVoIP 1.6.8.
"""

from __future__ import annotations

import collections
import logging
import re
import time
import warnings
from typing import Any

from voicemail.audio import FRAME_SAMPLES, G711_SILENCE, Codec, encode_g711
from voicemail.recorder import Recorder
from voicemail.sipwire import (
    FRAME_S,
    SendStats,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    # pyVoIP.VoIP must be imported before pyVoIP.SIP (circular import in 1.6.8): keep this order.
    from pyVoIP import RTP  # noqa: I001
    from pyVoIP.VoIP import (
        VoIPCall,
    )
    import pyVoIP.SIP
    import pyVoIP.VoIP.VoIP


LATCH_QUIET_S = 0.5
log = logging.getLogger("voicemail.sip")

_library_log = logging.getLogger("pyVoIP")


def _library_debug(message: object, short: object = None) -> None:
    # pyVoIP prints some of its diagnostics to stdout, SIP messages among them; keep them in the
    # logging tree at DEBUG, where message contents are allowed.
    _library_log.debug("%s", message)


for _module in (RTP, pyVoIP.SIP, pyVoIP.VoIP.VoIP):
    _module.debug = _library_debug  # type: ignore[attr-defined]

_CALL_ID = re.compile(rb"^Call-ID:[ \t]*([^\r\n]+)", re.IGNORECASE | re.MULTILINE)


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
        self.foreign_packets = 0  # RTP datagrams from anyone but the caller, dropped
        self._latched: tuple[str, int] | None = None
        self._sdp_heard_at = self._latched_heard_at = -LATCH_QUIET_S

    # -- receive ------------------------------------------------------------------------------
    def recv(self) -> None:
        # Stock recv() takes RTP from anyone who finds the port. Only the caller's stream may
        # reach the recording: the address and port its SDP named (re-INVITEs update them), or,
        # for a phone whose port a NAT rewrote (or that streams from a second port), one other
        # source on the SDP's host, latched only while every accepted source is quiet, and
        # dropped as soon as the SDP port speaks (RTP latching, same host only).
        while self.NSD:
            try:
                packet, source = self.sin.recvfrom(8192)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            except OSError:
                continue
            if not self.from_caller(source):
                self.foreign_packets += 1
                continue
            try:
                self.parse_packet(packet)
            except RTP.RTPParseError as exc:
                _library_debug(str(exc))

    def from_caller(self, source: tuple[str, int], now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        expected = (str(self.outIP), int(self.outPort))
        if source == expected:
            self._sdp_heard_at, self._latched = now, None  # the SDP's port is authoritative
            return True
        if source == self._latched:
            self._latched_heard_at = now
            return True
        quiet = now - max(self._sdp_heard_at, self._latched_heard_at) >= LATCH_QUIET_S
        if source[0] == expected[0] and quiet:
            self._latched, self._latched_heard_at = source, now
            return True
        return False

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
        return len(frames) * FRAME_S

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
            next_at += FRAME_S
            delay = next_at - now
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.2:
                next_at = now  # after a long stall, restart the schedule instead of bursting


class _TapCall(VoIPCall):
    def create_rtp_clients(
        self, codecs: dict[int, Any], ip: str, port: int, request: Any, baseport: int
    ) -> None:
        phone: Any = self.phone  # voicemail.sip_transport._HardenedPhone
        recorder: Recorder = phone.make_recorder()
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

"""RTP only from the caller: a forged stream with the caller's own timestamps, sent from another
host and from another port of the caller's host, never reaches the recording."""

from __future__ import annotations

import io
import re
import socket
import time
import uuid
import wave
from pathlib import Path

import pytest

from tests.voicemail.sip_harness import RecordingInbox, Speech, make_speech, rtp_packet, settings_for
from tests.voicemail.test_sip_hostile import PEER, STRANGER, running, udp_socket

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return make_speech(tmp_path_factory.mktemp("speech"))


def invite(port: int, sip: socket.socket, rtp_port: int, call_id: str) -> bytes:
    me = sip.getsockname()[1]
    body = (
        f"v=0\r\no=x 1 1 IN IP4 {PEER}\r\ns=-\r\nc=IN IP4 {PEER}\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    return (
        f"INVITE sip:48@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {PEER}:{me};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
        f"From: <sip:0641234567@{PEER}>;tag=c1\r\nTo: <sip:48@127.0.0.1>\r\nCall-ID: {call_id}\r\n"
        f"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:0641234567@{PEER}:{me}>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def bye(port: int, sip: socket.socket, call_id: str, to_tag: str) -> bytes:
    me = sip.getsockname()[1]
    return (
        f"BYE sip:48@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {PEER}:{me};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
        f"From: <sip:0641234567@{PEER}>;tag=c1\r\nTo: <sip:48@127.0.0.1>;tag={to_tag}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def answer_of(sip: socket.socket, timeout_s: float = 5) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sip.settimeout(max(0.1, deadline - time.monotonic()))
        message = sip.recv(65535).decode(errors="replace")
        if message.startswith("SIP/2.0 200 OK"):
            return message
    raise AssertionError("the call was not answered")


def test_forged_rtp_from_elsewhere_never_reaches_the_recording(tmp_path: Path, speech: Speech) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    payloads = [speech.ul.read_bytes()[i : i + 160] for i in range(0, len(speech.ul.read_bytes()), 160)]
    call_id = uuid.uuid4().hex
    with (
        running(settings, inbox),
        udp_socket(PEER) as sip,
        udp_socket(PEER) as media,
        udp_socket(PEER) as neighbour,
        udp_socket(STRANGER) as stranger,
    ):
        sip.sendto(
            invite(settings.bind_port, sip, media.getsockname()[1], call_id), (PEER, settings.bind_port)
        )
        ok = answer_of(sip)
        our_port = int(re.search(r"^m=audio (\d+) ", ok, re.M).group(1))  # type: ignore[union-attr]
        to_tag = re.search(r"^To: .*;tag=([^;\r]+)", ok, re.M).group(1)  # type: ignore[union-attr]
        for forger in (neighbour, stranger):  # before the caller's first packet, too
            forger.sendto(rtp_packet(0, b"\x00" * 160, seq=1, ts=1000), (PEER, our_port))
        for i, payload in enumerate(payloads):
            media.sendto(rtp_packet(0, payload, seq=i + 1, ts=1000 + 160 * i), (PEER, our_port))
            for forger in (neighbour, stranger):  # same timestamps, louder: would replace the caller's
                forger.sendto(rtp_packet(0, b"\x00" * 160, seq=i + 1, ts=1000 + 160 * i), (PEER, our_port))
            time.sleep(0.02)
        sip.sendto(bye(settings.bind_port, sip, call_id, to_tag), (PEER, settings.bind_port))
        deadline = time.monotonic() + 10
        while not inbox.contacts and time.monotonic() < deadline:
            time.sleep(0.05)
    (contact,) = inbox.contacts
    with wave.open(io.BytesIO(contact.attachments[0].data)) as w:
        assert w.readframes(w.getnframes()) == speech.pcm("PCMU")  # bit-exact: the caller's only

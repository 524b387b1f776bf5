"""RFC 3261 timers over UDP: our 200 OK is resent until the caller's ACK arrives (a lost ACK does
not lose the call), our BYE is resent until answered; hold/unhold re-INVITEs keep the call going."""

from __future__ import annotations

import io
import re
import socket
import time
import uuid
import wave
from pathlib import Path

import pytest

from channels.base import CallOutcome
from tests.voicemail.sip_harness import RecordingInbox, Speech, make_speech, rtp_packet, settings_for
from tests.voicemail.test_sip_hostile import PEER, running, udp_socket
from tests.voicemail.test_sip_rtp_source import answer_of, bye, invite
from voicemail.sipwire import Retransmissions

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return make_speech(tmp_path_factory.mktemp("speech"))


def arrivals(sock: socket.socket, first_line: str, seconds: float) -> list[float]:
    """When (s from now) datagrams starting with `first_line` arrive during `seconds`."""
    start, got = time.monotonic(), []
    while (left := start + seconds - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65535).decode(errors="replace")
        except TimeoutError:
            break
        if data.startswith(first_line):
            got.append(round(time.monotonic() - start, 2))
    return got


def ack(port: int, sip: socket.socket, call_id: str, to_tag: str) -> bytes:
    me = sip.getsockname()[1]
    return (
        f"ACK sip:48@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {PEER}:{me};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
        f"From: <sip:0641234567@{PEER}>;tag=c1\r\nTo: <sip:48@127.0.0.1>;tag={to_tag}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_200_ok_is_resent_until_the_late_ack_and_our_bye_until_it_is_answered(
    tmp_path: Path, speech: Speech
) -> None:
    settings = settings_for(tmp_path, max_message_s=5.0)
    inbox = RecordingInbox()
    call_id = uuid.uuid4().hex
    payloads = [speech.ul.read_bytes()[i : i + 160] for i in range(0, len(speech.ul.read_bytes()), 160)]
    with running(settings, inbox), udp_socket(PEER) as sip, udp_socket(PEER) as media:
        sip.sendto(
            invite(settings.bind_port, sip, media.getsockname()[1], call_id), (PEER, settings.bind_port)
        )
        ok = answer_of(sip)
        our_port = int(re.search(r"^m=audio (\d+) ", ok, re.M).group(1))  # type: ignore[union-attr]
        to_tag = re.search(r"^To: .*;tag=([^;\r]+)", ok, re.M).group(1)  # type: ignore[union-attr]
        resent = arrivals(sip, "SIP/2.0 200 OK", 2.0)  # the first ACKs are "lost"
        sip.sendto(ack(settings.bind_port, sip, call_id, to_tag), (PEER, settings.bind_port))
        time.sleep(0.05)
        after_ack = arrivals(sip, "SIP/2.0 200 OK", 1.2)
        for i, payload in enumerate(payloads):  # the call still records; we hang up at 5 s
            media.sendto(rtp_packet(0, payload, seq=i + 1, ts=160 * i), (PEER, our_port))
            time.sleep(0.02)
        byes = arrivals(sip, "BYE ", 4.0)  # the caller's 200 to our BYE is "lost"
        sip.settimeout(0.1)
        last_bye = ""
        while True:
            try:
                last_bye = sip.recv(65535).decode(errors="replace") or last_bye
            except TimeoutError:
                break
        assert byes, "no BYE from the hotline"
    # retransmissions at T1 = 0.5 s, then 1 s later (timer G doubles)
    assert len(resent) == 2 and resent[0] == pytest.approx(0.5, abs=0.2), resent
    assert after_ack == []
    assert len(byes) >= 3, byes  # first BYE, then at 0.5 and 1.5 s after it (timer E)
    assert [c.outcome for c in inbox.calls] == [CallOutcome.VOICEMAIL]


def test_retransmissions_double_up_to_t2_and_give_up_after_64_t1() -> None:
    sent: list[float] = []
    gave_up: list[str] = []
    timers = Retransmissions(gave_up.append, t1_s=0.05, t2_s=0.2)
    start = time.monotonic()
    timers.start("2xx call-1", lambda: sent.append(time.monotonic() - start))
    time.sleep(64 * 0.05 + 0.4)
    gaps = [round(b - a, 2) for a, b in zip([0.0, *sent], sent, strict=False)]
    assert gave_up == ["2xx call-1"]  # timer H: the dialog is ended by the caller of this hook
    assert gaps[:3] == pytest.approx([0.05, 0.1, 0.2], abs=0.04)
    assert max(gaps) == pytest.approx(0.2, abs=0.05)  # capped at T2
    assert not timers.stop("2xx call-1")  # nothing left pending


def reinvite(port: int, sip: socket.socket, rtp_port: int, call_id: str, cseq: int, direction: str) -> bytes:
    head, _, body = invite(port, sip, rtp_port, call_id).decode().partition("\r\n\r\n")
    body += f"a={direction}\r\n"
    head = re.sub(
        r"Content-Length: \d+", f"Content-Length: {len(body)}", head.replace("CSeq: 1 ", f"CSeq: {cseq} ")
    )
    return f"{head}\r\n\r\n{body}".encode()


def test_hold_and_unhold_reinvites_are_answered_in_the_mirrored_direction_and_the_call_goes_on(
    tmp_path: Path, speech: Speech
) -> None:
    settings = settings_for(tmp_path)
    inbox = RecordingInbox()
    call_id = uuid.uuid4().hex
    payloads = [speech.ul.read_bytes()[i : i + 160] for i in range(0, len(speech.ul.read_bytes()), 160)]
    half = len(payloads) // 2
    with running(settings, inbox), udp_socket(PEER) as sip, udp_socket(PEER) as media:
        rtp_port = media.getsockname()[1]
        sip.sendto(invite(settings.bind_port, sip, rtp_port, call_id), (PEER, settings.bind_port))
        ok = answer_of(sip)
        our_port = int(re.search(r"^m=audio (\d+) ", ok, re.M).group(1))  # type: ignore[union-attr]
        to_tag = re.search(r"^To: .*;tag=([^;\r]+)", ok, re.M).group(1)  # type: ignore[union-attr]
        sip.sendto(ack(settings.bind_port, sip, call_id, to_tag), (PEER, settings.bind_port))
        for i, payload in enumerate(payloads[:half]):
            media.sendto(rtp_packet(0, payload, seq=i + 1, ts=160 * i), (PEER, our_port))
            time.sleep(0.02)
        answers = []
        for cseq, direction in ((2, "sendonly"), (3, "sendrecv")):
            sip.sendto(
                reinvite(settings.bind_port, sip, rtp_port, call_id, cseq, direction),
                (PEER, settings.bind_port),
            )
            answers.append(answer_of(sip))
            sip.sendto(ack(settings.bind_port, sip, call_id, to_tag), (PEER, settings.bind_port))
        for i, payload in enumerate(payloads[half:], start=half):
            media.sendto(rtp_packet(0, payload, seq=i + 1, ts=160 * i), (PEER, our_port))
            time.sleep(0.02)
        sip.sendto(bye(settings.bind_port, sip, call_id, to_tag), (PEER, settings.bind_port))
        deadline = time.monotonic() + 10
        while not inbox.contacts and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\r$", a, re.M) for a in answers] == [
        ["recvonly"],
        ["sendrecv"],
    ]
    (contact,) = inbox.contacts
    with wave.open(io.BytesIO(contact.attachments[0].data)) as w:
        assert w.readframes(w.getnframes()) == speech.pcm("PCMU")  # nothing lost around the hold

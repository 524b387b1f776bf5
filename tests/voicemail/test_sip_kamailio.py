"""The hotline behind a real registrar and proxy (Kamailio, digest auth, Record-Route) called by a
real phone (baresip): answered, recorded bit-exactly, the BYE of either side follows the route set;
a CANCEL relayed while ringing ends the call with 487."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import socket
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest

from channels.base import CallOutcome, ChannelState
from tests.voicemail.kamailio_rig import (
    SIP_PASSWORD,
    SIP_USER,
    baresip_call,
    kamailio,
    write_source_wav,
)
from tests.voicemail.sip_harness import RecordingInbox, Speech, fixed_clock, make_speech, settings_for
from tests.voicemail.test_sip_register import after_hours, wait_state
from voicemail.channel import VoicemailChannel
from voicemail.settings import SipSettings

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return make_speech(tmp_path_factory.mktemp("speech"))


def recorded_pcm(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def call_through_proxy(
    tmp_path: Path, speech: Speech, codec: str, lead_s: float, tail_s: float, **overrides: object
) -> tuple[RecordingInbox, str, str, SipSettings]:
    """Register the hotline at a fresh Kamailio (or, in trunk mode, let Kamailio send it the calls
    as a trunk peer), let baresip call its AOR through it, return what happened."""
    settings = settings_for(tmp_path, username=SIP_USER, register_expires_s=60, **overrides)
    trunk = settings.mode == "trunk"
    proxy = kamailio(tmp_path / "kamailio", trunk_to=settings.bind_port if trunk else None)
    settings = settings.model_copy(update={"server_port": proxy.port})
    source = tmp_path / "caller.wav"
    write_source_wav(source, speech.pcm(codec), lead_s=lead_s, tail_s=tail_s)
    inbox = RecordingInbox()
    outputs: list[str] = []

    async def scenario() -> None:
        await proxy.start()
        channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
        try:
            await channel.start(inbox)
            await wait_state(channel, ChannelState.UP, 10)
            assert channel.status().state == ChannelState.UP, channel.status()
            seconds = lead_s + len(speech.pcm(codec)) / 16000 + tail_s + 4
            target = f"sip:{SIP_USER}@127.0.0.1:{proxy.port}"
            outputs.append(await baresip_call(tmp_path / "baresip", target, source, codec, seconds))
            await inbox.wait_calls(1, timeout_s=10)
        finally:
            await channel.stop()
            await proxy.stop()

    asyncio.run(scenario())
    return inbox, outputs[0], proxy.log, settings


def test_baresip_call_through_kamailio_is_recorded_bit_exactly_and_its_bye_follows_the_route_set(
    tmp_path: Path, speech: Speech, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", SIP_PASSWORD)
    inbox, phone_log, proxy_log, _ = call_through_proxy(
        tmp_path, speech, "PCMU", lead_s=1.5, tail_s=0.5, mode="register"
    )
    assert [c.outcome for c in inbox.calls] == [CallOutcome.VOICEMAIL], phone_log
    (contact,) = inbox.contacts
    recorded = recorded_pcm(contact.attachments[0].data)
    sent = np.frombuffer(speech.pcm("PCMU"), dtype="<i2")
    # baresip encodes the 16-bit file itself; samples that are G.711 values survive the round
    # trip, so what the proxy carried decodes to exactly what the file held (digital silence
    # around it decodes to 0).
    assert np.array_equal(np.trim_zeros(recorded), np.trim_zeros(sent))
    assert "S48 REGISTER" in proxy_log
    assert re.search(r"S48 ROUTED ACK from 127\.0\.0\.1", proxy_log), proxy_log
    # the phone's BYE came to the proxy as an in-dialog loose-routed request
    assert len(re.findall(r"S48 ROUTED BYE from 127\.0\.0\.1", proxy_log)) == 1, proxy_log


def test_hotline_bye_through_kamailio_carries_the_route_set(
    tmp_path: Path, speech: Speech, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", SIP_PASSWORD)
    inbox, phone_log, proxy_log, settings = call_through_proxy(
        tmp_path, speech, "PCMA", lead_s=1.0, tail_s=4.0, max_message_s=2.0, mode="register"
    )
    assert [c.outcome for c in inbox.calls] == [CallOutcome.VOICEMAIL], phone_log
    # our BYE reached the proxy from our SIP port with Route headers, and was relayed to the phone
    routed = re.findall(r"S48 ROUTED BYE from 127\.0\.0\.1:(\d+)", proxy_log)
    assert routed == [str(settings.bind_port)], proxy_log
    assert "terminated" in phone_log.lower() or "closed" in phone_log.lower(), phone_log


def test_trunk_mode_behind_kamailio_records_bit_exactly_and_bye_follows_the_route_set(
    tmp_path: Path, speech: Speech
) -> None:
    inbox, phone_log, proxy_log, _ = call_through_proxy(
        tmp_path, speech, "PCMA", lead_s=1.5, tail_s=0.5, mode="trunk", trunk_peers=["127.0.0.1"]
    )
    assert [c.outcome for c in inbox.calls] == [CallOutcome.VOICEMAIL], phone_log
    (contact,) = inbox.contacts
    recorded = recorded_pcm(contact.attachments[0].data)
    sent = np.frombuffer(speech.pcm("PCMA"), dtype="<i2")
    # A-law has no zero code: baresip's digital silence arrives as +-8, the speech itself exact
    start = int(np.flatnonzero(np.abs(recorded) > 8)[0])
    first = int(np.flatnonzero(np.abs(sent) > 8)[0])
    assert np.array_equal(recorded[start : start + len(sent) - first], sent[first:])
    assert "S48 REGISTER" not in proxy_log
    assert len(re.findall(r"S48 ROUTED BYE from 127\.0\.0\.1", proxy_log)) == 1, proxy_log


def test_cancel_through_kamailio_while_ringing_ends_with_487_and_no_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", SIP_PASSWORD)
    proxy = kamailio(tmp_path / "kamailio")
    settings = settings_for(tmp_path, mode="register", server_port=proxy.port, username=SIP_USER)
    inbox = RecordingInbox()
    got: list[str] = []

    def caller() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            me, branch, call_id = sock.getsockname()[1], f"z9hG4bK{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
            body = (
                "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                "m=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
            )
            common = (
                f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch={branch}\r\nFrom: <sip:caller@127.0.0.1>;tag=c1\r\n"
                f"To: <sip:{SIP_USER}@127.0.0.1>\r\nCall-ID: {call_id}\r\nMax-Forwards: 70\r\n"
            )
            uri = f"sip:{SIP_USER}@127.0.0.1:{proxy.port}"
            sock.sendto(
                (
                    f"INVITE {uri} SIP/2.0\r\n{common}CSeq: 1 INVITE\r\n"
                    f"Contact: <sip:caller@127.0.0.1:{me}>\r\nContent-Type: application/sdp\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n{body}"
                ).encode(),
                ("127.0.0.1", proxy.port),
            )
            sock.settimeout(3)
            while not (line := sock.recv(65535).split(b"\r\n", 1)[0].decode()).startswith("SIP/2.0 180"):
                got.append(line)
            got.append(line)
            sock.sendto(
                f"CANCEL {uri} SIP/2.0\r\n{common}CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n".encode(),
                ("127.0.0.1", proxy.port),
            )
            with contextlib.suppress(TimeoutError):
                sock.settimeout(2.5)  # past the moment the call would have been answered
                while True:
                    got.append(sock.recv(65535).split(b"\r\n", 1)[0].decode())

    async def scenario() -> None:
        await proxy.start()
        channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
        try:
            await channel.start(inbox)
            await wait_state(channel, ChannelState.UP, 10)
            await asyncio.to_thread(caller)
            await inbox.wait_calls(1, timeout_s=3)
        finally:
            await channel.stop()
            await proxy.stop()

    asyncio.run(scenario())
    assert "SIP/2.0 487 Request Terminated" in got, got
    # the proxy's own 200 to the CANCEL, and no 200 OK to the INVITE even after the answer delay
    assert [line for line in got if line.startswith("SIP/2.0 200")] == ["SIP/2.0 200 canceling"], got
    assert inbox.contacts == []

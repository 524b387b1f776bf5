"""Register mode against Debian's Kamailio with digest auth: refresh before expiry, a registrar
restart, a wrong password (clear health, no retry storm), 423 Interval Too Brief; CRLF keep-alives."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from pathlib import Path

import pytest

from channels.base import ChannelState
from tests.voicemail.kamailio_rig import SIP_PASSWORD, SIP_USER, Kamailio, kamailio
from tests.voicemail.sip_harness import RecordingInbox, fixed_clock, settings_for
from tests.voicemail.test_sip_register import after_hours, wait_state
from voicemail.channel import VoicemailChannel
from voicemail.sipwire import stateless_reply

pytestmark = pytest.mark.timeout(90)


def options_through(proxy: Kamailio, wait_s: float = 2.0) -> str:
    """Send OPTIONS for the hotline's AOR to the proxy; the first line of the answer it relays."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        me = sock.getsockname()[1]
        sock.sendto(
            (
                f"OPTIONS sip:{SIP_USER}@127.0.0.1:{proxy.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{uuid.uuid4().hex[:12]}\r\n"
                f"From: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:{SIP_USER}@127.0.0.1>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", proxy.port),
        )
        sock.settimeout(wait_s)
        try:
            return sock.recv(65535).split(b"\r\n", 1)[0].decode()
        except TimeoutError:
            return "no answer"


def registers(log: str) -> list[int]:
    return [int(e) for e in re.findall(r"S48 REGISTER \S+ expires=(\d+)", log)]


def test_registration_is_refreshed_before_expiry_and_survives_a_registrar_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", SIP_PASSWORD)
    proxy = kamailio(tmp_path / "kamailio")
    settings = settings_for(
        tmp_path, mode="register", server_port=proxy.port, username=SIP_USER, register_expires_s=10
    )
    seen: dict[str, object] = {}

    async def scenario() -> None:
        await proxy.start()
        channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
        try:
            await channel.start(RecordingInbox())
            await wait_state(channel, ChannelState.UP, 10)
            seen["up"] = channel.status().state
            seen["reached"] = await asyncio.to_thread(options_through, proxy)
            await asyncio.sleep(6)  # refresh due at expires - 5 s
            seen["refreshes"] = registers(proxy.log)
            await proxy.stop()  # loses every binding (no database)
            before = len(proxy.log)
            await proxy.start()
            seen["lost"] = await asyncio.to_thread(options_through, proxy, 1.0)
            deadline = time.monotonic() + 8
            while not registers(proxy.log[before:]) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            seen["after_restart"] = registers(proxy.log[before:])
            seen["reached_again"] = await asyncio.to_thread(options_through, proxy)
            seen["state"] = channel.status().state
        finally:
            await channel.stop()
            await proxy.stop()

    asyncio.run(scenario())
    assert seen["up"] == ChannelState.UP
    assert seen["reached"] == "SIP/2.0 200 OK"  # the proxy relayed OPTIONS to our binding; we answered
    assert seen["refreshes"] == [10, 10]  # registered, then refreshed before the 10 s ran out
    assert seen["lost"] == "SIP/2.0 404 Not Found"  # the restarted registrar knew nobody
    assert seen["after_restart"] == [10]
    assert seen["reached_again"] == "SIP/2.0 200 OK"
    assert seen["state"] == ChannelState.UP


def test_wrong_password_is_a_clear_health_state_without_a_retry_storm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", "not-the-password")
    proxy = kamailio(tmp_path / "kamailio")
    settings = settings_for(tmp_path, mode="register", server_port=proxy.port, username=SIP_USER)
    seen: dict[str, object] = {}

    async def scenario() -> None:
        await proxy.start()
        channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
        try:
            await channel.start(RecordingInbox())
            await wait_state(channel, ChannelState.MISCONFIGURED, 10)
            await asyncio.sleep(4)
            status = channel.status()
            seen["state"], seen["detail"] = status.state, status.detail
            seen["tries"] = len(re.findall(r"S48 TRY REGISTER", proxy.log))
        finally:
            await channel.stop()
            await proxy.stop()

    asyncio.run(scenario())
    assert seen["state"] == ChannelState.MISCONFIGURED
    assert "refused the credentials" in str(seen["detail"])
    assert seen["tries"] == 2  # the challenge and one answer to it; the next try is a minute away


def test_interval_too_brief_is_answered_by_registering_for_min_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", SIP_PASSWORD)
    proxy = kamailio(tmp_path / "kamailio", min_expires=120)
    settings = settings_for(
        tmp_path, mode="register", server_port=proxy.port, username=SIP_USER, register_expires_s=30
    )
    seen: dict[str, object] = {}

    async def scenario() -> None:
        await proxy.start()
        channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
        try:
            await channel.start(RecordingInbox())
            await wait_state(channel, ChannelState.UP, 10)
            seen["state"] = channel.status().state
            seen["reached"] = await asyncio.to_thread(options_through, proxy)
        finally:
            await channel.stop()
            await proxy.stop()

    asyncio.run(scenario())
    assert seen["state"] == ChannelState.UP
    assert seen["reached"] == "SIP/2.0 200 OK"
    assert registers(proxy.log)[:2] == [30, 120]  # 30 s was refused with 423, then Min-Expires was used


def test_crlf_keepalives_reach_the_registrar_between_refreshes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", SIP_PASSWORD)
    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.1", 0))
    settings = settings_for(
        tmp_path,
        mode="register",
        server_port=registrar.getsockname()[1],
        register_expires_s=600,
        keepalive_s=0.3,
    )
    pings: list[float] = []

    def serve(seconds: float) -> None:  # a registrar that takes any REGISTER and counts pings
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            registrar.settimeout(left)
            try:
                raw, source = registrar.recvfrom(65535)
            except TimeoutError:
                return
            if raw == b"\r\n\r\n":
                pings.append(time.monotonic())
            elif raw.startswith(b"REGISTER "):
                contact = re.search(rb"^Contact: [^\r]*", raw, re.M)
                extra = [contact.group(0) + b";expires=600"] if contact else []
                registrar.sendto(stateless_reply(raw, b"200 OK", extra), source)

    async def scenario() -> ChannelState:
        channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
        server = asyncio.create_task(asyncio.to_thread(serve, 2.5))
        try:
            await channel.start(RecordingInbox())
            await wait_state(channel, ChannelState.UP, 3)
            await server
            return channel.status().state
        finally:
            await channel.stop()
            registrar.close()

    assert asyncio.run(scenario()) == ChannelState.UP
    assert len(pings) >= 5, pings  # every 0.3 s for about 2.5 s

"""Register mode against a sipp registrar: registration, a stable +sip.instance across restarts,
deregistration at stop, and a start() that does not fail when the registrar is gone."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from channels.base import ChannelMisconfigured, ChannelState
from tests.voicemail.sip_harness import (
    SCENARIOS,
    SIPP,
    RecordingInbox,
    fixed_clock,
    free_udp_ports,
    settings_for,
)
from voicemail.channel import VoicemailChannel
from voicemail.settings import HoursKind

pytestmark = pytest.mark.timeout(90)


def after_hours(_now: object) -> HoursKind:
    return HoursKind.AFTER_HOURS


async def wait_state(channel: VoicemailChannel, state: ChannelState, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while channel.status().state != state and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def test_register_mode_registers_with_an_instance_id_that_survives_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", "not-used-by-this-registrar")
    registrar_port = free_udp_ports(1)
    settings = settings_for(tmp_path, mode="register", server_port=registrar_port, register_expires_s=600)
    log = tmp_path / "registrar-msgs.log"
    states: list[ChannelState] = []

    async def scenario() -> None:
        registrar = await asyncio.create_subprocess_exec(
            SIPP, "-sf", str(SCENARIOS / "reg_uas.xml"), "-i", "127.0.0.1",
            "-p", str(registrar_port), "-m", "4", "-nostdin", "-timeout", "40s",
            "-trace_msg", "-message_file", str(log),
            cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await asyncio.sleep(0.5)
            for _ in range(2):  # a restart must present the same instance to the registrar
                channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
                await channel.start(RecordingInbox())
                await wait_state(channel, ChannelState.UP, 10)
                states.append(channel.status().state)
                await channel.stop()
            await asyncio.wait_for(registrar.wait(), 15)
        finally:
            if registrar.returncode is None:
                registrar.terminate()
                await registrar.wait()

    asyncio.run(scenario())
    assert states == [ChannelState.UP, ChannelState.UP]
    text = log.read_text(errors="replace")
    registers = [m for m in re.split(r"\n(?=-{10,})", text) if "REGISTER sip:" in m]
    expires = [re.search(r"^Expires: *(\d+)", m, re.M) for m in registers]
    assert [int(e.group(1)) for e in expires if e] == [600, 0, 600, 0]
    instances = set(re.findall(r'\+sip\.instance="<urn:uuid:([0-9A-F-]+)>"', text))
    persisted = (settings.state_dir / "instance-uuid").read_text().strip().upper()
    assert instances == {persisted}


def test_start_returns_without_raising_when_the_registrar_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", "secret")
    settings = settings_for(tmp_path, mode="register", server_port=free_udp_ports(1))
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)

    async def scenario() -> tuple[float, ChannelState, str]:
        started = time.monotonic()
        await channel.start(RecordingInbox())
        took = time.monotonic() - started
        status = channel.status()
        await channel.stop()
        return took, status.state, status.detail

    took, state, detail = asyncio.run(scenario())
    assert took < 3  # stock pyVoIP blocks 30 s in start() here
    assert state == ChannelState.DEGRADED
    assert detail.startswith("registering with 127.0.0.1:")
    assert channel.status().state == ChannelState.STOPPED


def test_register_mode_without_the_password_variable_is_misconfigured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SISTEM48_SIP_PASSWORD", raising=False)
    settings = settings_for(tmp_path, mode="register")
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    with pytest.raises(ChannelMisconfigured, match="SISTEM48_SIP_PASSWORD"):
        asyncio.run(channel.start(RecordingInbox()))
    assert channel.status().state == ChannelState.MISCONFIGURED


@pytest.mark.parametrize(
    ("password", "state"),
    [("s3cret", ChannelState.UP), ("wrong", ChannelState.MISCONFIGURED)],
)
def test_digest_challenge_is_answered_with_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str, state: ChannelState
) -> None:
    monkeypatch.setenv("HOTLINE_SIP_SECRET", password)
    registrar_port = free_udp_ports(1)
    settings = settings_for(
        tmp_path, mode="register", server_port=registrar_port, password_env="HOTLINE_SIP_SECRET"
    )
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)

    async def scenario() -> tuple[ChannelState, str]:
        registrar = await asyncio.create_subprocess_exec(
            SIPP, "-sf", str(SCENARIOS / "reg_uas_auth.xml"), "-i", "127.0.0.1",
            "-p", str(registrar_port), "-m", "1", "-nostdin", "-timeout", "20s",
            "-key", "password", "s3cret",
            cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await asyncio.sleep(0.5)
            await channel.start(RecordingInbox())
            deadline = time.monotonic() + 10
            while channel.status().state == ChannelState.DEGRADED:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            status = channel.status()
            await channel.stop()
            return status.state, status.detail
        finally:
            if registrar.returncode is None:
                registrar.terminate()
                await registrar.wait()

    got, detail = asyncio.run(scenario())
    assert got == state
    if state == ChannelState.MISCONFIGURED:
        assert detail == f"127.0.0.1:{registrar_port} refused the credentials"
    assert password not in detail


def test_a_call_arriving_while_a_register_waits_for_the_pbx_is_answered_not_taken_for_its_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyVoIP reads the registrar's answer from the socket calls arrive on; with the PBX gone, the
    # REGISTER waits 30 s and used to take a caller's INVITE for that answer ("credentials refused").
    from tests.voicemail.sip_harness import make_speech, run_sipp

    monkeypatch.setenv("SISTEM48_SIP_PASSWORD", "secret")
    speech = make_speech(tmp_path / "speech")
    settings = settings_for(tmp_path, mode="register", server_port=free_udp_ports(1))  # nobody there
    channel = VoicemailChannel(settings, hours=after_hours, clock=fixed_clock)
    inbox = RecordingInbox()

    async def scenario() -> tuple[bool, str, ChannelState, str]:
        await channel.start(inbox)
        try:
            await asyncio.sleep(0.3)  # the first REGISTER is out and waiting
            result = await run_sipp(
                "uac_talk_bye.xml", tmp_path, target_port=settings.bind_port, speech=speech
            )
            await inbox.wait_calls(1)
            status = channel.status()
            return result.ok, result.output, status.state, status.detail
        finally:
            await channel.stop()

    ok, output, state, detail = asyncio.run(scenario())
    assert ok, output
    assert len(inbox.contacts) == 1 and inbox.calls[0].outcome.value == "voicemail"
    assert state == ChannelState.DEGRADED and detail.startswith("registering with"), detail

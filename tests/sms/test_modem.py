"""The modem owner: watchdog abort, reconnect with backoff, misconfiguration, the dummy unplugged."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from channels.base import ChannelMisconfigured, ChannelState, ChannelUnavailable
from sms.channel import SmsChannel
from sms.modem import Modem
from sms.settings import SmsSettings
from sms.simulator import ensure_dummy_dir, inject_incoming
from tests.sms.conftest import FakeClock, RecordingInbox
from tests.sms.fake_at_modem import FakeModem

T = TypeVar("T")


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


# Init on the fake modem takes ~4 s (gammu probes it), twice, plus one 9 s watchdog abort.
@pytest.mark.slow
def test_an_unplugged_modem_is_aborted_dropped_and_reconnected_with_backoff(
    tmp_path: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    # A stable name over the changing pty, like /dev/serial/by-id/... over ttyUSBn.
    device = tmp_path / "ttyModem"
    first = FakeModem()
    first.start()
    device.symlink_to(first.name)
    settings = SmsSettings(
        model="at", connection="at", device=str(device), call_timeout_s=9,
        reconnect_backoff_min_s=5, reconnect_backoff_max_s=20,
    )  # fmt: skip

    replugged: list[FakeModem] = []

    async def scenario() -> None:
        modem = Modem(settings, clock=clock)
        channel = SmsChannel(settings, modem, clock=clock, background=False)
        await channel.start(inbox)
        try:
            assert channel.status().metrics["signal_percent"] == 63
            assert modem.connected

            first.unplug()  # gammu's next call would hang ~20 s: the watchdog aborts it
            began = time.monotonic()
            with pytest.raises(ChannelUnavailable, match="ERR_ABORTED"):
                await channel.check_health()
            assert 8.5 < time.monotonic() - began < 20  # not gammu's own ~20 s timeout + Terminate
            assert channel.status().state == ChannelState.DOWN
            assert channel.status().metrics["link_failures"] == 1

            began = time.monotonic()  # inside the backoff: the device is not touched
            with pytest.raises(ChannelUnavailable, match="next reconnect"):
                await channel.check_health()
            assert time.monotonic() - began < 1

            clock.advance(5)
            with pytest.raises(ChannelUnavailable, match="ERR_DEVICENOTEXIST"):
                await channel.check_health()
            assert modem.retry_at == clock.now + timedelta(seconds=10)

            second = FakeModem()  # plugged back in
            second.start()
            replugged.append(second)
            device.unlink()
            device.symlink_to(second.name)
            clock.advance(10)
            health = await channel.check_health()
            assert health.signal_percent == 63
            assert modem.connected
            assert channel.status().state != ChannelState.DOWN
            assert "AT+CSQ" in second.seen
        finally:
            await channel.stop()
            for fake in replugged:
                fake.unplug()

    run(scenario)


def test_a_removed_dummy_directory_is_a_modem_gone_and_its_return_is_picked_up(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    settings = settings.model_copy(update={"create_dummy_dir": False})

    async def scenario() -> None:
        modem = Modem(settings, clock=clock)
        channel = SmsChannel(settings, modem, clock=clock, background=False)
        await channel.start(inbox)
        try:
            shutil.rmtree(modem_dir)
            with pytest.raises(ChannelUnavailable, match="ERR_DEVICENOTEXIST"):
                await channel.poll_once()
            assert channel.status().state == ChannelState.DOWN
            ensure_dummy_dir(modem_dir)
            inject_incoming(modem_dir, "+381641234567", "Opet radi")
            with pytest.raises(ChannelUnavailable, match="next reconnect"):
                await channel.poll_once()
            clock.advance(settings.reconnect_backoff_min_s)
            assert await channel.poll_once() == 1
            assert channel.status().state == ChannelState.UP
        finally:
            await channel.stop()

    run(scenario)
    assert inbox.bodies() == ["Opet radi"]


def test_a_missing_dummy_directory_is_misconfigured_when_not_created(tmp_path: Path) -> None:
    settings = SmsSettings(device=str(tmp_path / "nowhere"), create_dummy_dir=False)
    channel = SmsChannel(settings, Modem(settings), background=False)

    async def scenario() -> None:
        try:
            with pytest.raises(ChannelMisconfigured, match="missing"):
                await channel.start(RecordingInbox())
            assert channel.status().state == ChannelState.MISCONFIGURED
        finally:
            await channel.stop()

    run(scenario)


def test_an_unknown_phone_model_is_misconfigured(tmp_path: Path) -> None:
    settings = SmsSettings(model="at", connection="carrier-pigeon", device=str(tmp_path))

    async def scenario() -> None:
        modem = Modem(settings)
        try:
            with pytest.raises(ChannelMisconfigured):
                await modem.open()
        finally:
            await modem.close()

    run(scenario)


def test_a_sim_waiting_for_a_pin_without_one_configured_is_misconfigured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SISTEM48_SIM_PIN", raising=False)
    fake = FakeModem({"AT+CPIN?": "+CPIN: SIM PIN"})
    fake.start()
    settings = SmsSettings(model="at", connection="at", device=fake.name, call_timeout_s=15)

    async def scenario() -> None:
        modem = Modem(settings)
        try:
            with pytest.raises(ChannelMisconfigured, match="SISTEM48_SIM_PIN"):
                await modem.open()
        finally:
            await modem.close()
            fake.unplug()

    run(scenario)

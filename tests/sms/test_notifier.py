"""SmsNotifier through the real dummy driver: encoding policies, references, rate limit, failures."""

from __future__ import annotations

import asyncio
import random
import shutil
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from channels.base import ChannelKind, DeliveryFailed, DeliveryReceipt, Notification
from sms.codec import count_parts, prepare_text, read_backup, to_part
from sms.modem import Modem
from sms.notifier import SmsNotifier
from sms.settings import SmsSettings
from sms.simulator import list_sent
from tests.sms.conftest import FakeClock

T = TypeVar("T")

CYRILLIC_REPLY = (
    "Поштовани, ваша пријава 2026-0042 је примљена и прослеђена ЈКП Водовод. "
    "Екипа ће изаћи на терен у року од 24 сата. Хвала, Систем 48."
)


def note(recipient: str, body: str, outbox_id: int = 1) -> Notification:
    return Notification(outbox_id=outbox_id, channel=ChannelKind.SMS, recipient=recipient, body=body)


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


async def send_all(
    settings: SmsSettings, notes: list[Notification], clock: FakeClock | None = None
) -> list[DeliveryReceipt]:
    modem = Modem(settings, clock=clock) if clock else Modem(settings)
    notifier = SmsNotifier(settings, modem, rng=random.Random(5))
    try:
        return [await notifier.send(n) for n in notes]
    finally:
        await modem.close()


def test_a_reply_is_submitted_with_a_status_report_request_and_its_tp_mr_returned(
    settings: SmsSettings, modem_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "gammu.log"
    settings = settings.model_copy(update={"debug_file": str(log)})
    receipts = run(lambda: send_all(settings, [note("064 1234567", "Prijava primljena. Hvala!")]))
    assert receipts == [DeliveryReceipt(provider_ref="255")]  # the dummy's TP-MR
    [sent] = list_sent(modem_dir)
    assert (sent.recipient, sent.text, sent.parts, sent.encoding) == (
        "+381641234567", "Prijava primljena. Hvala!", 1, "gsm7",
    )  # fmt: skip
    assert sent.delivery_report
    # what the driver itself encoded, from its debug log
    driver_log = log.read_text(errors="replace")
    assert 'Recipient number "+381641234567"' in driver_log
    assert "7 bit SMS" in driver_log


@pytest.mark.parametrize("policy", ["keep_script", "gsm7_latin"])
def test_both_encoding_policies_send_exactly_the_counted_parts(
    settings: SmsSettings, modem_dir: Path, tmp_path: Path, policy: str
) -> None:
    log = tmp_path / "gammu.log"
    settings = settings.model_copy(update={"encoding_policy": policy, "debug_file": str(log)})
    run(lambda: send_all(settings, [note("+381641234567", CYRILLIC_REPLY)]))
    counted = count_parts(CYRILLIC_REPLY, policy)  # type: ignore[arg-type]
    [sent] = list_sent(modem_dir)
    assert sent.parts == counted.parts == log.read_text(errors="replace").count("Entering GSM_SendSMS")
    assert sent.encoding == counted.encoding
    assert sent.text == prepare_text(CYRILLIC_REPLY, policy)  # type: ignore[arg-type]
    if policy == "keep_script":
        assert (counted.encoding, counted.parts) == ("ucs2", 2)
    else:
        assert (counted.encoding, counted.parts) == ("gsm7", 1)
        assert sent.text.startswith("Postovani, vasa prijava 2026-0042 je primljena")


def test_long_replies_to_one_recipient_get_distinct_concatenation_references(
    settings: SmsSettings, modem_dir: Path
) -> None:
    notes = [note("+381641234567", CYRILLIC_REPLY, i) for i in range(3)]
    notes.append(note("+381659876543", CYRILLIC_REPLY, 9))
    run(lambda: send_all(settings, notes))
    records = [to_part(raw) for p in sorted((modem_dir / "sent").iterdir()) for raw in read_backup(p)]
    refs: dict[str, set[int | None]] = {}
    for part in records:
        refs.setdefault(part.number, set()).add(part.concat_ref)
    assert len(refs["+381641234567"]) == 3  # all within the same second: not clock-based
    assert [s.text for s in list_sent(modem_dir)] == [CYRILLIC_REPLY] * 4


@pytest.mark.parametrize("recipient", ["12", "Telenor", "", "+381 11 12"])
def test_an_invalid_number_fails_permanently(settings: SmsSettings, modem_dir: Path, recipient: str) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        run(lambda: send_all(settings, [note(recipient, "Hvala")]))
    assert failed.value.permanent
    assert list_sent(modem_dir) == []


def test_a_missing_modem_fails_temporarily(settings: SmsSettings, modem_dir: Path) -> None:
    async def scenario() -> None:
        modem = Modem(settings)
        notifier = SmsNotifier(settings, modem)
        try:
            await notifier.send(note("+381641234567", "Prvi"))
            shutil.rmtree(modem_dir)  # the dummy's "unplug"
            with pytest.raises(DeliveryFailed) as failed:
                await notifier.send(note("+381641234567", "Drugi"))
            assert not failed.value.permanent
        finally:
            await modem.close()

    run(scenario)


def test_the_rate_limit_waits_instead_of_failing(settings: SmsSettings, modem_dir: Path) -> None:
    clock = FakeClock()
    start = clock.now
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    settings = settings.model_copy(update={"send_per_minute": 6})

    async def scenario() -> None:
        modem = Modem(settings, clock=clock)
        notifier = SmsNotifier(settings, modem, clock=clock, sleep=fake_sleep)
        try:
            for i in range(8):
                await notifier.send(note("+381641234567", f"Poruka {i}", i))
                clock.advance(1)
        finally:
            await modem.close()

    run(scenario)
    times = [s.when for s in list_sent(modem_dir)]
    assert len(times) == 8
    assert times[:6] == [start + timedelta(seconds=i) for i in range(6)]
    assert times[6] == start + timedelta(seconds=60)  # waited for the first to leave the window
    assert times[7] == start + timedelta(seconds=61)
    assert sleeps == [54.0]
    for i in range(len(times)):
        assert sum(1 for t in times if times[i] <= t < times[i] + timedelta(seconds=60)) <= 6

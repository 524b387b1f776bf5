"""SmsChannel against Gammu's real dummy driver: reassembly, dedupe, partial timeout, reports."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from channels.base import ChannelKind, ChannelState, DeliveryState
from sms.channel import SmsChannel
from sms.modem import Modem
from sms.settings import SmsSettings
from sms.simulator import inbox_files, inject_incoming, inject_status_report
from tests.sms.conftest import FakeClock, RecordingInbox

T = TypeVar("T")

LATIN = "Ne radi ulična rasveta u Ulici Đure Đakovića 12, Šabac. Žurno! "
CYRILLIC = "Пријава: квар јавне расвете у улици Његошевој 12, молим хитно. "
WHEN = datetime(2026, 11, 23, 9, 58, tzinfo=UTC)


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


@asynccontextmanager
async def started(
    settings: SmsSettings, inbox: RecordingInbox, clock: FakeClock
) -> AsyncIterator[SmsChannel]:
    modem = Modem(settings, clock=clock)
    channel = SmsChannel(settings, modem, clock=clock, background=False)
    await channel.start(inbox)
    try:
        yield channel
    finally:
        await channel.stop()


def test_single_latin_sms_becomes_one_contact_and_leaves_the_modem(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    inject_incoming(modem_dir, "064 1234567", "Ne radi rasveta, Šabac", when=WHEN)

    async def scenario() -> int:
        async with started(settings, inbox, clock) as channel:
            return await channel.poll_once()

    assert run(scenario) == 1
    [contact] = inbox.contacts
    assert contact.channel == ChannelKind.SMS
    assert contact.sender == "064 1234567"  # as on the wire: the core normalises (gateway/citizens.py)
    assert contact.body == "Ne radi rasveta, Šabac"
    assert contact.received_at == WHEN
    assert dict(contact.meta) == {"script": "latin", "parts": "1", "coding": "ucs2"}
    assert contact.raw and bytes.fromhex(contact.raw.decode())
    assert inbox_files(modem_dir) == []


def test_multipart_latin_cyrillic_and_mixed_texts_are_reassembled(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    texts = {
        "+381641111111": LATIN * 4,
        "+381642222222": CYRILLIC * 5,
        "+381643333333": (LATIN + CYRILLIC) * 3,
        "+381644444444": "Plain GSM text without diacritics, curly {braces} and € sign. " * 5,
    }
    written = {n: inject_incoming(modem_dir, n, t, when=WHEN) for n, t in texts.items()}
    assert all(parts >= 3 for parts in written.values())

    async def scenario() -> int:
        async with started(settings, inbox, clock) as channel:
            return await channel.poll_once()

    assert run(scenario) == 4
    got = {c.sender: c for c in inbox.contacts}
    assert {n: c.body for n, c in got.items()} == texts
    assert {n: c.meta["parts"] for n, c in got.items()} == {n: str(p) for n, p in written.items()}
    assert got["+381642222222"].meta["script"] == "cyrillic"
    assert got["+381643333333"].meta["script"] == "cyrillic"
    assert got["+381641111111"].meta["script"] == "latin"
    assert got["+381644444444"].meta["coding"] == "gsm7"
    assert inbox_files(modem_dir) == []


def test_two_senders_with_the_same_concatenation_reference_are_not_mixed(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    a_text, b_text = "A" * 200, "B" * 200
    # interleaved A1 B1 B2 A2, as in the recipe's LinkSMS bug report
    inject_incoming(modem_dir, "+381641000001", a_text, when=WHEN, concat_ref=7, part_order=[0])
    inject_incoming(modem_dir, "+381652000002", b_text, when=WHEN, concat_ref=7)
    inject_incoming(modem_dir, "+381641000001", a_text, when=WHEN, concat_ref=7, part_order=[1])

    async def scenario() -> int:
        async with started(settings, inbox, clock) as channel:
            return await channel.poll_once()

    assert run(scenario) == 2
    assert sorted((c.sender, c.body) for c in inbox.contacts) == [
        ("+381641000001", a_text),
        ("+381652000002", b_text),
    ]


def test_out_of_order_parts_are_put_back_in_order(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    text = CYRILLIC * 4
    assert inject_incoming(modem_dir, "+381641234567", text, when=WHEN, part_order=[3, 1, 0, 2])

    async def scenario() -> int:
        async with started(settings, inbox, clock) as channel:
            return await channel.poll_once()

    assert run(scenario) == 1
    assert inbox.bodies() == [text]


def test_parts_minutes_apart_are_held_until_the_set_is_complete(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    text = LATIN * 3

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            inject_incoming(modem_dir, "+381641234567", text, when=WHEN, part_order=[0, 2])
            assert await channel.poll_once() == 0
            assert channel.status().metrics["incomplete_multipart"] == 1
            clock.advance(240)
            assert await channel.poll_once() == 0
            assert len(inbox_files(modem_dir)) == 2
            inject_incoming(modem_dir, "+381641234567", text, when=WHEN, part_order=[1])
            clock.advance(60)
            assert await channel.poll_once() == 1
            assert channel.status().metrics["incomplete_multipart"] == 0

    run(scenario)
    [contact] = inbox.contacts
    assert contact.body == text
    assert "partial" not in contact.meta
    assert inbox_files(modem_dir) == []


def test_an_incomplete_set_is_ingested_as_partial_after_the_timeout(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    text = "".join(f"Deo {i}: " + "x" * 146 for i in range(3))  # one part each
    settings = settings.model_copy(update={"multipart_timeout_s": 600})

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            inject_incoming(modem_dir, "+381641234567", text, when=WHEN, drop_parts=[1])
            assert await channel.poll_once() == 0
            clock.advance(599)
            assert await channel.poll_once() == 0
            clock.advance(1)
            assert await channel.poll_once() == 1

    run(scenario)
    [contact] = inbox.contacts
    assert contact.meta["partial"] == "1"
    assert contact.meta["parts"] == "2"
    assert contact.meta["parts_expected"] == "3"
    assert contact.body.startswith("Deo 0: ") and "Deo 2: " in contact.body
    assert "[…]" in contact.body and "Deo 1: " not in contact.body
    assert inbox_files(modem_dir) == []


def test_a_redelivered_sms_is_one_contact_and_every_copy_is_deleted(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            inject_incoming(modem_dir, "+381641234567", LATIN * 3, when=WHEN, concat_ref=42)
            inject_incoming(modem_dir, "+381641234567", LATIN * 3, when=WHEN, concat_ref=42)  # same poll
            assert await channel.poll_once() == 1
            inject_incoming(modem_dir, "+381641234567", LATIN * 3, when=WHEN, concat_ref=42)  # a later poll
            assert await channel.poll_once() == 1

    run(scenario)
    assert len(inbox.contacts) == 1
    assert [d.external_id for d in inbox.duplicates] == [inbox.contacts[0].external_id]
    assert inbox_files(modem_dir) == []


def test_the_same_text_sent_twice_is_two_contacts(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    inject_incoming(modem_dir, "+381641234567", "Kontejner pun", when=WHEN)
    inject_incoming(modem_dir, "+381641234567", "Kontejner pun", when=WHEN.replace(minute=59))

    async def scenario() -> int:
        async with started(settings, inbox, clock) as channel:
            return await channel.poll_once()

    assert run(scenario) == 2
    assert len({c.external_id for c in inbox.contacts}) == 2


def test_when_ingest_fails_the_sms_stays_on_the_modem_and_is_retried(
    settings: SmsSettings, modem_dir: Path, clock: FakeClock
) -> None:
    inbox = RecordingInbox(fail_ingest=1)
    inject_incoming(modem_dir, "+381641234567", CYRILLIC * 2, when=WHEN)

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            assert await channel.poll_once() == 0
            assert len(inbox_files(modem_dir)) == 2
            assert channel.status().metrics["ingest_failures"] == 1
            assert channel.status().state == ChannelState.DEGRADED
            assert await channel.poll_once() == 1
            assert channel.status().state == ChannelState.UP

    run(scenario)
    assert inbox.bodies() == [CYRILLIC * 2]
    assert inbox_files(modem_dir) == []


def test_status_reports_become_delivery_records_and_are_deleted(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    inject_status_report(modem_dir, "+381641234567", 17, 0x00, when=WHEN)
    inject_status_report(modem_dir, "0652223333", 18, 0x21, when=WHEN)
    inject_status_report(modem_dir, "+381641234567", 19, 0x45, when=WHEN)

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            await channel.poll_once()

    run(scenario)
    assert [(d.recipient, d.state, d.provider_ref) for d in inbox.deliveries] == [
        ("+381641234567", DeliveryState.DELIVERED, "17"),
        ("0652223333", DeliveryState.PENDING, "18"),  # as on the wire: the core normalises it
        ("+381641234567", DeliveryState.FAILED, "19"),
    ]
    assert all(d.channel == ChannelKind.SMS and d.reported_at == WHEN for d in inbox.deliveries)
    assert inbox.contacts == []
    assert inbox_files(modem_dir) == []


def test_a_delivery_report_the_core_could_not_record_stays_for_the_next_poll(
    settings: SmsSettings, modem_dir: Path, clock: FakeClock
) -> None:
    inbox = RecordingInbox(fail_delivery=1)
    inject_status_report(modem_dir, "+381641234567", 17, 0, when=WHEN)

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            await channel.poll_once()
            assert len(inbox_files(modem_dir)) == 1
            await channel.poll_once()

    run(scenario)
    assert [d.provider_ref for d in inbox.deliveries] == ["17"]
    assert inbox_files(modem_dir) == []


def test_status_reports_health_of_the_dummy_modem(
    settings: SmsSettings, inbox: RecordingInbox, clock: FakeClock
) -> None:
    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            await channel.poll_once()
            status = channel.status()
            assert status.name == "sms"
            assert status.state == ChannelState.UP
            assert status.metrics["connected"] == 1
            assert status.metrics["signal_percent"] == 42
            assert status.metrics["network_registered"] == 1
            assert status.metrics["last_poll_ts"] == clock.now.timestamp()
        assert channel.status().state == ChannelState.STOPPED

    run(scenario)


def test_weak_signal_below_the_threshold_is_degraded(
    settings: SmsSettings, inbox: RecordingInbox, clock: FakeClock
) -> None:
    settings = settings.model_copy(update={"min_signal_percent": 50})  # the dummy reports 42

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            status = channel.status()
            assert status.state == ChannelState.DEGRADED
            assert "42%" in status.detail

    run(scenario)


def test_the_background_loop_ingests_an_sms_injected_while_it_polls(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox
) -> None:
    async def scenario() -> None:
        modem = Modem(settings)
        channel = SmsChannel(settings, modem)
        await channel.start(inbox)
        try:
            await asyncio.sleep(0.2)
            for i in range(5):
                inject_incoming(modem_dir, f"+38164555000{i}", CYRILLIC * 2)
            # The modem's copy is deleted after the contact is stored, so wait for both:
            # stopping between the two leaves the parts for the next start (deduplicated).
            for _ in range(200):
                if len(inbox.contacts) == 5 and not inbox_files(modem_dir):
                    break
                await asyncio.sleep(0.1)
        finally:
            await channel.stop()

    run(scenario)
    assert sorted(c.sender for c in inbox.contacts) == [f"+38164555000{i}" for i in range(5)]
    assert inbox_files(modem_dir) == []


def test_one_senders_short_and_long_sms_in_one_poll_stay_separate(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    inject_incoming(modem_dir, "+381641234567", "Prva: rupa na putu.", when=WHEN)
    inject_incoming(modem_dir, "+381641234567", CYRILLIC * 3, when=WHEN, part_order=[2, 0])
    inject_incoming(modem_dir, "+381641234567", "Treća: i kontejner.", when=WHEN)
    inject_incoming(modem_dir, "+381641234567", CYRILLIC * 3, when=WHEN, part_order=[1])

    async def scenario() -> int:
        async with started(settings, inbox, clock) as channel:
            return await channel.poll_once()

    assert run(scenario) == 3
    assert sorted(inbox.bodies()) == sorted(["Prva: rupa na putu.", CYRILLIC * 3, "Treća: i kontejner."])
    assert inbox_files(modem_dir) == []


def _impossible_date(location_file: Path) -> None:
    # What python-gammu cannot turn into a datetime (it raises ValueError), as a broken SMSC may send.
    text = location_file.read_text()
    location_file.write_text(re.sub(r"(?m)^DateTime = .*$", "DateTime = 20260231T120000Z", text))


@pytest.mark.parametrize("bad", [0, 1])
def test_an_sms_gammu_cannot_decode_is_kept_on_the_modem_and_the_others_still_arrive(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock, bad: int
) -> None:
    for n in range(3):
        inject_incoming(modem_dir, f"+38164123456{n}", f"Prijava broj {n}", when=WHEN)
    files = sorted(inbox_files(modem_dir), key=lambda f: int(f.name))
    _impossible_date(files[bad])

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            assert await channel.poll_once() == 2
            status = channel.status()
            assert status.state == ChannelState.DEGRADED
            assert status.detail == "1 SMS cannot be decoded; kept on the modem"
            assert await channel.poll_once() == 0  # the next poll steps over it again, reads nothing twice
            files[bad].unlink()  # staff took it off the SIM by hand
            inject_incoming(modem_dir, "+381641234569", "Prijava broj 3", when=WHEN)
            assert await channel.poll_once() == 1
            assert channel.status().state == ChannelState.UP

    run(scenario)
    assert sorted(inbox.bodies()) == sorted(f"Prijava broj {n}" for n in (0, 1, 2, 3) if n != bad)
    assert inbox_files(modem_dir) == []


def test_a_known_undecodable_sms_further_on_does_not_hide_a_new_one_before_it(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    for n in range(5):
        inject_incoming(modem_dir, f"+38164123456{n}", f"Prijava broj {n}", when=WHEN)
    files = sorted(inbox_files(modem_dir), key=lambda f: int(f.name))
    _impossible_date(files[3])

    async def scenario() -> None:
        async with started(settings, inbox, clock) as channel:
            assert await channel.poll_once() == 4  # learns the fourth is undecodable
            assert len(channel.modem.unreadable) == 1
            for n in range(3):  # new SMS fill the freed locations before it; the second is bad too
                inject_incoming(modem_dir, f"+38165123456{n}", f"Nova prijava {n}", when=WHEN)
            newer = sorted(set(inbox_files(modem_dir)) - {files[3]}, key=lambda f: int(f.name))
            _impossible_date(newer[1])
            assert await channel.poll_once() == 2
            assert channel.status().detail == "2 SMS cannot be decoded; kept on the modem"

    run(scenario)
    expected = [f"Prijava broj {n}" for n in (0, 1, 2, 4)] + ["Nova prijava 0", "Nova prijava 2"]
    assert sorted(inbox.bodies()) == sorted(expected)

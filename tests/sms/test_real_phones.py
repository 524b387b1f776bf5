"""What real phones and networks put on the SIM besides text, through the Gammu dummy driver and the
channel: MMS notifications, binary and port-addressed SMS, flash SMS, empty parts, status reports;
and the numbers a reply may go to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.base import ChannelKind, DeliveryFailed, DeliveryState, Notification
from sms import kinds
from sms.channel import SmsChannel
from sms.modem import Modem
from sms.notifier import SmsNotifier
from sms.settings import SmsSettings
from sms.simulator import inbox_files, list_sent
from tests.sms.conftest import FakeClock, RecordingInbox
from tests.sms.phone_pdus import PORTS_MMS, deliver, mms_notification, put, put_encoded, status_report

CITIZEN = "+381641234567"
WHEN = datetime(2026, 11, 23, 9, 58, tzinfo=UTC)
MMS_URL = "http://mms.mts.rs/m/a1b2c3"


def poll(settings: SmsSettings, inbox: RecordingInbox, clock: FakeClock) -> int:
    async def scenario() -> int:
        modem = Modem(settings, clock=clock)
        channel = SmsChannel(settings, modem, clock=clock, background=False)
        await channel.start(inbox)
        try:
            return await channel.poll_once()
        finally:
            await channel.stop()

    return asyncio.run(scenario())


def test_single_wap_push_mms_notification_is_kept_for_staff_with_its_sender(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    put(modem_dir, deliver(CITIZEN, mms_notification(CITIZEN, MMS_URL), dcs=0x04, when=WHEN, udh=PORTS_MMS))
    assert poll(settings, inbox, clock) == 1
    [contact] = inbox.contacts
    assert contact.sender == CITIZEN
    assert contact.body.startswith("MMS poruka") and "120 kB" in contact.body and "„Slika“" in contact.body
    assert contact.meta["sms_kind"] == "mms"
    assert contact.meta["mms_location"] == MMS_URL
    assert contact.meta["mms_from"] == CITIZEN
    assert contact.meta["mms_size"] == "123456"
    assert "quarantine" not in contact.meta and "suppress_ack" not in contact.meta
    assert inbox_files(modem_dir) == []


def test_two_part_mms_notification_in_8bit_class_1_becomes_one_contact(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    long_url = MMS_URL + "?" + "x" * 90
    indicator = {"Address": long_url, "Title": "Rupa", "Sender": CITIZEN, "MessageSize": 2_000_000,
                 "Class": "Personal"}  # fmt: skip
    parts = put_encoded(modem_dir, CITIZEN, WHEN, [{"ID": "MMSIndicatorLong", "MMSIndicator": indicator}])
    assert parts >= 2
    assert poll(settings, inbox, clock) == 1
    [contact] = inbox.contacts
    assert contact.meta["sms_kind"] == "mms" and contact.meta["mms_location"] == long_url
    assert contact.meta["parts"] == str(parts) and contact.body.startswith("MMS poruka")
    assert inbox_files(modem_dir) == []


@pytest.mark.parametrize(
    ("udh", "ud", "dcs", "what"),
    [
        # a contact card sent from a phone's address book (Nokia smart messaging / WAP vCard port)
        (
            b"\x06\x05\x04\x23\xf4\x00\x00",
            b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Petrovic;Pera\r\nTEL;CELL:+381641111111\r\nEND:VCARD\r\n",
            0xF5,
            "Vizit-karta (vCard) poslata SMS porukom: Petrovic;Pera.",
        ),
        # a WAP push that is not an MMS: a Service Indication (application/vnd.wap.sic)
        (
            PORTS_MMS,
            b"\x01\x06\x01\xae\x02\x05\x6a\x00\x45\xc6\x0c\x03mts.rs\x00\x01\x01",
            0x04,
            "Binarna SMS poruka na port 2948",
        ),
        # 8-bit data without any port (a modem's or an app's binary SMS)
        (b"", bytes(range(0, 40)), 0x04, "Binarna SMS poruka (40 bajtova)"),
        # an operator's OTA settings push to port 49999
        (
            b"\x06\x05\x04\xc3\x4f\xc0\x02",
            b"\x01\x06\x04\x03\x94\x81\xea\x00\x01\x45\xc6",
            0xF5,
            "Binarna SMS poruka na port 49999",
        ),
    ],
)
def test_binary_and_port_addressed_sms_are_quarantined_without_a_ticket_or_reply(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock,
    udh: bytes, ud: bytes, dcs: int, what: str,
) -> None:  # fmt: skip
    put(modem_dir, deliver(CITIZEN, ud, dcs=dcs, when=WHEN, udh=udh))
    assert poll(settings, inbox, clock) == 1
    [contact] = inbox.contacts
    assert contact.body.startswith(what)
    assert contact.meta["sms_kind"] == "binary"
    assert contact.meta["quarantine"] == contact.body
    assert contact.raw and bytes.fromhex(contact.raw.decode())  # the PDU is kept for staff
    assert inbox_files(modem_dir) == []


def test_two_binary_sms_in_the_same_second_are_two_messages_not_a_duplicate(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    for url in ("http://mms.mts.rs/m/aaa111", "http://mms.mts.rs/m/bbb222"):
        put(modem_dir, deliver(CITIZEN, mms_notification(CITIZEN, url), dcs=0x04, when=WHEN, udh=PORTS_MMS))
    assert poll(settings, inbox, clock) == 2
    assert sorted(c.meta["mms_location"] for c in inbox.contacts) == [
        "http://mms.mts.rs/m/aaa111",
        "http://mms.mts.rs/m/bbb222",
    ]
    assert len({c.external_id for c in inbox.contacts}) == 2


@pytest.mark.parametrize(
    ("udh", "dcs"),
    [
        (b"\x05\x00\x03\x17\x01\x01", 0x00),  # a concatenation header 1/1 and no text
        (b"\x04\x01\x02\x80\x01", 0x00),  # special SMS indication (voicemail waiting), nothing else
        (b"", 0x00),  # an empty SMS: phones let you send one
        (b"", 0x08),  # an empty UCS-2 SMS
    ],
)
def test_empty_and_udh_only_parts_never_become_an_empty_ticket(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock, udh: bytes, dcs: int
) -> None:
    put(modem_dir, deliver(CITIZEN, b"", dcs=dcs, when=WHEN, udh=udh))
    assert poll(settings, inbox, clock) == 1
    [contact] = inbox.contacts
    assert contact.body == "Prazna SMS poruka (bez teksta)."
    assert contact.meta["sms_kind"] == "empty" and contact.meta["quarantine"]
    assert inbox_files(modem_dir) == []


def test_class_0_flash_sms_is_an_ordinary_report(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    text = "Pukla cev kod skole, hitno"
    put_encoded(modem_dir, CITIZEN, WHEN, [{"ID": "ConcatenatedAutoTextLong", "Buffer": text}], cls=0)
    assert poll(settings, inbox, clock) == 1
    [contact] = inbox.contacts
    assert contact.body == text
    assert contact.meta["sms_kind"] == "flash" and "quarantine" not in contact.meta


def test_status_reports_in_every_form_are_delivery_reports_never_tickets(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    forms = [
        (status_report(CITIZEN, 7, 0x00, WHEN), DeliveryState.DELIVERED),  # no TP-PI
        (status_report(CITIZEN, 8, 0x30, WHEN, optional=b"\x00"), DeliveryState.PENDING),  # TP-PI 0
        # TP-PI announcing PID, DCS (8-bit) and an empty user data: the "8-bit status report"
        (status_report(CITIZEN, 9, 0x41, WHEN, optional=b"\x07\x00\x04\x00"), DeliveryState.FAILED),
        # TP-PI with a 7-bit DCS and a short text some SMSCs add
        (status_report(CITIZEN, 10, 0, WHEN, optional=b"\x07\x00\x00\x02\xc4\x32"), DeliveryState.DELIVERED),
        (status_report("0641234567", 11, 0x62, WHEN), DeliveryState.FAILED),  # national number form
    ]  # fmt: skip
    for pdu, _ in forms:
        put(modem_dir, pdu)
    poll(settings, inbox, clock)
    assert inbox.contacts == []
    got = {int(r.provider_ref): (r.recipient, r.state) for r in inbox.deliveries}
    # the recipient as on the wire: the core reads it as E.164 (tests/core/test_ingest.py)
    wire = {11: "0641234567"}
    assert got == {
        ref: (wire.get(ref, CITIZEN), state) for ref, (_, state) in zip(range(7, 12), forms, strict=True)
    }
    assert inbox_files(modem_dir) == []


@pytest.mark.parametrize(
    ("number", "refusal"),
    [
        ("+381641234567", None),
        ("0641234567", None),  # national form, read in the home region
        ("+436641234567", "foreign number (AT)"),
        ("+38190012345", "not a mobile number"),  # 090x premium rate
        ("+381111234567", "not a mobile number"),  # Belgrade landline: SMS cannot reach it
        ("1234", "not a valid phone number"),  # a short code (premium services)
        ("Telenor", "not a phone number"),
    ],
)
def test_replies_are_allowed_only_to_home_mobile_numbers(number: str, refusal: str | None) -> None:
    assert kinds.reply_refusal(number, "RS", [], True) == refusal


def test_configured_regions_and_number_types_widen_the_reply_list() -> None:
    assert kinds.reply_refusal("+38267123456", "RS", ["RS", "ME"], True) is None  # Montenegrin mobile
    assert kinds.reply_refusal("+381111234567", "RS", [], False) is None


def test_the_notifier_refuses_to_pay_for_a_foreign_number(settings: SmsSettings, modem_dir: Path) -> None:
    async def scenario() -> None:
        modem = Modem(settings)
        notifier = SmsNotifier(settings, modem)
        try:
            with pytest.raises(DeliveryFailed) as failed:
                await notifier.send(Notification(1, ChannelKind.SMS, "+436641234567", "Hvala"))
            assert failed.value.permanent and "foreign number" in str(failed.value)
        finally:
            await modem.close()

    asyncio.run(scenario())
    assert list_sent(modem_dir) == []


def test_a_foreign_sender_gets_no_acknowledgement(
    settings: SmsSettings, modem_dir: Path, inbox: RecordingInbox, clock: FakeClock
) -> None:
    put_encoded(modem_dir, "+436641234567", WHEN, [{"ID": "ConcatenatedAutoTextLong", "Buffer": "Rupa"}])
    poll(settings, inbox, clock)
    [contact] = inbox.contacts
    assert contact.body == "Rupa"
    assert contact.meta["suppress_ack"] == "1" and contact.meta["reply_refused"] == "foreign number (AT)"

"""PDUs as real phones and networks send them, built octet by octet (3GPP TS 23.040) and read with
gammu.DecodePDU: WAP-push MMS notifications, vCards, flash SMS, UDH-only parts, status reports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import gammu

from sms.simulator import inject_pdu

SMSC = {"Location": 0, "Number": "+381600000000"}


def _bcd(digits: str) -> bytes:
    padded = digits + ("F" if len(digits) % 2 else "")
    return bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))


def _address(number: str) -> bytes:
    digits = number.lstrip("+")
    return bytes([len(digits), 0x91 if number.startswith("+") else 0x81]) + _bcd(digits)


def _timestamp(when: datetime) -> bytes:
    return _bcd(when.strftime("%y%m%d%H%M%S")) + b"\x00"  # TZ 0: the tests' times are UTC


def deliver(sender: str, ud: bytes, *, dcs: int, when: datetime, udh: bytes = b"") -> bytes:
    """An SMS-DELIVER TPDU with an empty SMSC field; 8-bit user data (`dcs` bit 2 set) or none."""
    first = 0x04 | (0x40 if udh else 0)  # TP-MMS (no more messages), TP-UDHI when a header follows
    body = udh + ud
    assert len(body) <= 140, "one SMS carries 140 octets of user data"
    return (
        bytes([0x00, first]) + _address(sender) + bytes([0x00, dcs]) + _timestamp(when)
        + bytes([len(body)]) + body
    )  # fmt: skip


def status_report(
    recipient: str, reference: int, status: int, when: datetime, *, optional: bytes = b""
) -> bytes:
    """An SMS-STATUS-REPORT TPDU; `optional` = TP-PI and what it announces (PID, DCS, UDL, UD)."""
    head = bytes([0x00, 0x06, reference]) + _address(recipient)
    return head + _timestamp(when) + _timestamp(when) + bytes([status]) + optional


def mms_notification(sender: str, location: str, subject: str = "Slika", size: int = 123456) -> bytes:
    """A WSP push (OMA WAP-230) carrying an m-notification-ind (OMA-MMS-ENC), as MMS centres send it."""
    wsp_headers = b"application/vnd.wap.mms-message\x00" + b"\xaf\x84"  # X-Wap-Application-Id: mms.ua
    mms = (
        b"\x8c\x82"  # X-Mms-Message-Type: m-notification-ind
        + b"\x98T7f3a\x00"  # X-Mms-Transaction-Id
        + b"\x8d\x92"  # X-Mms-MMS-Version 1.2
        + b"\x89" + bytes([len(sender) + 12]) + b"\x80" + sender.encode() + b"/TYPE=PLMN\x00"
        + b"\x96" + subject.encode() + b"\x00"
        + b"\x8a\x80"  # X-Mms-Message-Class: personal
        + b"\x8e\x03" + size.to_bytes(3, "big")  # X-Mms-Message-Size
        + b"\x83" + location.encode() + b"\x00"  # X-Mms-Content-Location
    )  # fmt: skip
    return b"\x01\x06" + bytes([len(wsp_headers)]) + wsp_headers + mms


PORTS_MMS = b"\x06\x05\x04\x0b\x84\x23\xf0"  # 16-bit ports: to 2948 (WAP push) from 9200


def put(modem_dir: Path, pdu: bytes, **overrides: Any) -> None:
    """Decode the PDU with gammu and store it in the dummy modem's SIM inbox, unread."""
    sms = gammu.DecodePDU(pdu, SMSC=True)
    sms.update(Folder=1, State="UnRead", SMSC=SMSC, InboxFolder=1, **overrides)
    if sms["Type"] == "Deliver":
        sms["SMSCDateTime"] = sms["DateTime"]
    inject_pdu(modem_dir, sms)


def put_encoded(
    modem_dir: Path, sender: str, when: datetime, entries: list[dict[str, Any]], cls: int = -1
) -> int:
    """Parts gammu's EncodeSMS makes (the same encoder phones' firmware follows), stored as received."""
    parts = gammu.EncodeSMS({"Class": cls, "Entries": entries})
    for part in reversed(parts):  # the network does not promise order
        part.update(
            Type="Deliver", Number=sender, DateTime=when, SMSCDateTime=when, State="UnRead",
            Folder=1, SMSC=SMSC,
        )  # fmt: skip
        inject_pdu(modem_dir, part)
    return len(parts)

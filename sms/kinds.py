"""What a received SMS is, beyond text: WAP-push MMS notifications, other port-addressed or 8-bit
SMS, class-0 flash SMS and empty (UDH-only) parts; and which numbers a reply may cost money for.

Pure functions over codec.SmsPart (3GPP TS 23.040 user data headers, OMA WAP-230 WSP push,
OMA MMS encapsulation m-notification-ind); no gammu here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from channels.phone import read_phone
from sms.codec import SmsPart

Kind = Literal["text", "flash", "mms", "binary", "empty"]

WAP_PUSH_PORT = 2948  # WDP port of the WAP push connectionless session service (MMS notifications)
VCARD_PORTS = (9204, 226)  # vCard (WAP port, and the Nokia Smart Messaging one)
_MMS_CONTENT_TYPE = b"application/vnd.wap.mms-message"
_IEI_CONCAT_8, _IEI_PORTS_8, _IEI_PORTS_16, _IEI_CONCAT_16 = 0x00, 0x04, 0x05, 0x08


@dataclass(frozen=True, slots=True)
class SmsKind:
    """The kind of one assembled message and, for the non-text kinds, what staff should see."""

    kind: Kind
    port: int | None = None
    summary: str = ""  # staff-readable description (never the citizen's text)
    meta: dict[str, str] = field(default_factory=dict)


def udh_elements(udh: bytes) -> list[tuple[int, bytes]]:
    """The information elements of a user data header (its first octet is the header length)."""
    if not udh:
        return []
    end = min(len(udh), udh[0] + 1)
    elements: list[tuple[int, bytes]] = []
    pos = 1
    while pos + 2 <= end:
        iei, length = udh[pos], udh[pos + 1]
        elements.append((iei, udh[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return elements


def destination_port(part: SmsPart) -> int | None:
    """The application port the SMS is addressed to (TS 23.040 §9.2.3.24.3/.4), or None."""
    udh = (part.raw.get("UDH") or {}).get("Text") or b""
    for iei, data in udh_elements(bytes(udh)):
        if iei == _IEI_PORTS_16 and len(data) == 4:
            return int.from_bytes(data[:2], "big")
        if iei == _IEI_PORTS_8 and len(data) == 2:
            return data[0]
    return None


def payload(part: SmsPart) -> bytes:
    """The user data of an 8-bit part as bytes (python-gammu hands 8-bit text over as bytes)."""
    text = part.raw.get("Text")
    if isinstance(text, bytes | bytearray):
        return bytes(text)
    return part.text.encode("utf-8", "replace") if part.coding.startswith("8bit") else b""


def classify(parts: Sequence[SmsPart], text: str) -> SmsKind:
    """The kind of a message whose parts (in order) decoded to `text`."""
    port = next((p for p in map(destination_port, parts) if p is not None), None)
    data = b"".join(payload(p) for p in parts)
    eight_bit = any(p.coding.startswith("8bit") for p in parts)
    # m-notification-ind is X-Mms-Message-Type (0x8C) = 0x82; some modems strip the port header
    if _MMS_CONTENT_TYPE in data[:120] or (port == WAP_PUSH_PORT and b"\x8c\x82" in data):
        return _mms(data, port)
    if port is not None or eight_bit:
        return _binary(data, text, port)
    if not text.strip():
        return SmsKind("empty", summary="Prazna SMS poruka (bez teksta).", meta={"sms_kind": "empty"})
    if any(int(p.raw.get("Class", -1)) == 0 for p in parts):
        return SmsKind("flash", meta={"sms_kind": "flash"})
    return SmsKind("text")


def _binary(data: bytes, text: str, port: int | None) -> SmsKind:
    meta = {"sms_kind": "binary", "bytes": str(len(data))}
    where = f" na port {port}" if port is not None else ""
    if port is not None:
        meta["port"] = str(port)
    if port in VCARD_PORTS or b"BEGIN:VCARD" in data:
        card = data.decode("utf-8", "replace") if data else text
        name = re.search(r"^(?:FN|N):(.+)$", card, re.MULTILINE)
        summary = "Vizit-karta (vCard) poslata SMS porukom" + (f": {name.group(1).strip()}" if name else "")
        return SmsKind("binary", port, summary + ".", meta | {"binary": "vcard"})
    summary = f"Binarna SMS poruka{where} ({len(data)} bajtova), nije tekst; sadržaj je sačuvan uz poruku."
    return SmsKind("binary", port, summary, meta)


_MMS_LOCATION = re.compile(rb"\x83([\x20-\x7e]{4,})\x00")
_MMS_SUBJECT = re.compile(rb"\x96(?:[\x01-\x1e][\x80-\xff]?)?([^\x00]{1,80})\x00")
_MMS_FROM = re.compile(rb"\x89[\x01-\x1f]\x80([\x20-\x7e]{3,40}?)(?:/TYPE=[A-Z0-9]+)?\x00")
_MMS_SIZE = re.compile(rb"\x8e([\x01-\x04])")


def _mms(data: bytes, port: int | None) -> SmsKind:
    """An m-notification-ind: where the operator keeps the MMS, its subject, size and sender."""
    meta = {"sms_kind": "mms"}
    details: list[str] = []
    if found := _MMS_SUBJECT.search(data):
        meta["mms_subject"] = found.group(1).decode("utf-8", "replace").strip()
        details.append(f"naslov „{meta['mms_subject']}“")
    if found := _MMS_SIZE.search(data):
        start = found.end()
        size = int.from_bytes(data[start : start + found.group(1)[0]], "big")
        meta["mms_size"] = str(size)
        details.append(f"{max(size // 1024, 1)} kB")
    if found := _MMS_FROM.search(data):
        meta["mms_from"] = found.group(1).decode("ascii")
    if found := _MMS_LOCATION.search(data):
        meta["mms_location"] = found.group(1).decode("ascii")
    summary = (
        "MMS poruka (fotografija ili video) — sadržaj ne stiže preko SMS modema"
        + (f" ({', '.join(details)})" if details else "")
        + ". Pošiljaocu je odgovoreno da fotografije pošalje e-poštom."
    )
    return SmsKind("mms", port, summary, meta)


def reply_refusal(number: str, region: str, allowed_regions: Sequence[str], mobile_only: bool) -> str | None:
    """Why the gateway must not send an SMS to `number` (a foreign, premium or short number costs
    money or reaches nobody); None when a reply is allowed."""
    parsed = read_phone(number, region)
    if parsed is None:
        return "not a phone number"
    if not parsed.valid:
        return "not a valid phone number"
    if parsed.region not in (allowed_regions or [region]):
        return f"foreign number ({parsed.region})"
    if mobile_only and not parsed.mobile:
        return "not a mobile number"
    return None

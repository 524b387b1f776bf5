"""SMS text codec: cost-aware encoding, part counting, PDU building and reassembly via gammu.

With `sms/modem.py` the only module importing gammu. Functions here are pure (no device I/O);
the channel and notifier run the gammu-backed ones on the modem's thread, because libgammu
keeps process-global static buffers (gammu #289).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import gammu

EncodingPolicy = Literal["keep_script", "gsm7_latin"]
GammuSms = dict[str, Any]

# libgammu's module-level helpers share static buffers; serialise callers outside the modem thread.
_GAMMU_LOCK = threading.Lock()

# GSM 03.38 default alphabet (ESC 0x1B left out) and its extension table (2 septets each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\x0c^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "dj", "е": "e", "ж": "z",
    "з": "z", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n",
    "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "c", "у": "u",
    "ф": "f", "х": "h", "ц": "c", "ч": "c", "џ": "dz", "ш": "s",
    # neighbours' letters that turn up in Serbian texts (Macedonian, Russian)
    "ѓ": "gj", "ќ": "kj", "ѕ": "dz", "й": "j", "ы": "y", "э": "e", "ю": "ju", "я": "ja",
    "ё": "e", "щ": "sc", "ъ": "", "ь": "", "і": "i", "ї": "ji", "є": "je", "ґ": "g",
}  # fmt: skip
_LATIN_FOLD = {"č": "c", "ć": "c", "ž": "z", "š": "s", "đ": "dj"}
_PUNCTUATION_FOLD = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " ", "`": "'",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SmsPartCount:
    """How a text will travel: `chars` counts septets (GSM-7, extension chars 2) or UTF-16 units."""

    parts: int
    encoding: Literal["gsm7", "ucs2"]
    chars: int
    per_part: int


@dataclass(frozen=True, slots=True)
class SmsPart:
    """One stored SMS location as read from the modem (one PDU)."""

    folder: int
    location: int
    kind: Literal["deliver", "status_report", "other"]
    inbox: bool
    number: str
    text: str
    sent_at: datetime | None  # SMSC timestamp (TP-SCTS); for status reports the report time
    concat_ref: int | None  # None when the SMS is not a concatenated part
    concat_total: int
    concat_seq: int
    message_reference: int
    delivery_status: int
    coding: str
    raw: GammuSms = field(compare=False, repr=False)

    @property
    def identity(self) -> tuple[object, ...]:
        """What makes two stored copies the same SMS (a re-delivery), whatever their location."""
        sent = self.sent_at.isoformat() if self.sent_at else ""
        data = self.raw.get("Text")  # 8-bit user data (an MMS notice, a vCard) is bytes, not in .text
        binary = (bytes(data).hex(),) if isinstance(data, bytes | bytearray) and data else ()
        return (self.kind, self.number, sent, self.concat_ref, self.concat_total,
                self.concat_seq, self.text, self.message_reference, *binary)  # fmt: skip


def script_of(text: str) -> Literal["cyrillic", "latin"]:
    return "cyrillic" if any("\u0400" <= ch <= "\u04ff" for ch in text) else "latin"


def _is_gsm7(ch: str) -> bool:
    return ch in GSM7_BASIC or ch in GSM7_EXTENSION


def _upper_context(text: str, i: int) -> bool:
    """Whether a digraph replacing text[i] should be all caps (ЉУБАВ → LJUBAV, Љуба → Ljuba)."""
    neighbours = [text[j] for j in (i - 1, i + 1) if 0 <= j < len(text) and text[j].isalpha()]
    return any(c.isupper() for c in neighbours) and all(not c.islower() for c in neighbours)


def _fold_char(text: str, i: int) -> str:
    ch = text[i]
    if _is_gsm7(ch):
        return ch
    lower = ch.lower()
    plain = _CYRILLIC_TO_LATIN.get(lower) or _LATIN_FOLD.get(lower)
    if plain is not None:
        if not ch.isupper() or not plain:
            return plain
        return plain.upper() if _upper_context(text, i) else plain.capitalize()
    if ch in _PUNCTUATION_FOLD:
        return _PUNCTUATION_FOLD[ch]
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and all(_is_gsm7(c) for c in base):
        return base
    return ch  # nothing sensible in GSM-7 (emoji, CJK): it stays, and the SMS goes UCS-2


def prepare_text(text: str, policy: EncodingPolicy) -> str:
    """The text as it will be sent: unchanged, or folded to GSM-7 Serbian Latin ("ošišana")."""
    text = unicodedata.normalize("NFC", text)
    if policy == "keep_script":
        return text
    return "".join(_fold_char(text, i) for i in range(len(text)))


def _split_units(units: Sequence[int], single: int, multi: int) -> int:
    """Parts needed for char costs `units`, never splitting one character across parts."""
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for cost in units:
        if used + cost > multi:
            parts, used = parts + 1, 0
        used += cost
    return parts


def count_parts(text: str, policy: EncodingPolicy) -> SmsPartCount:
    """Parts, encoding and size of `text` after `prepare_text`, as gammu's EncodeSMS splits it."""
    prepared = prepare_text(text, policy)
    if all(_is_gsm7(ch) for ch in prepared):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in prepared]
        parts = _split_units(costs, GSM7_SINGLE, GSM7_MULTI)
        return SmsPartCount(parts, "gsm7", sum(costs), GSM7_SINGLE if parts == 1 else GSM7_MULTI)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in prepared]
    parts = _split_units(costs, UCS2_SINGLE, UCS2_MULTI)
    return SmsPartCount(parts, "ucs2", sum(costs), UCS2_SINGLE if parts == 1 else UCS2_MULTI)


def encode_parts(text: str) -> list[GammuSms]:
    """gammu's own segmentation (UCS-2 chosen by itself when a character needs it)."""
    try:
        with _GAMMU_LOCK:
            parts: list[GammuSms] = gammu.EncodeSMS(
                {"Class": -1, "Entries": [{"ID": "ConcatenatedAutoTextLong", "Buffer": text}]}
            )
    except gammu.GSMError as exc:
        raise ValueError(f"gammu cannot encode this text: {type(exc).__name__}") from None
    return parts


def _set_concat_ref(part: GammuSms, ref: int) -> None:
    # libgammu derives the reference from the wall clock (GSM_MakeSMSIDFromTime): two long
    # messages encoded in the same second would share it, so the caller picks it.
    udh = part["UDH"]
    if udh.get("Type") != "ConcatenatedMessages":
        return
    udh["ID8bit"] = ref
    udh["Text"] = bytes([0x05, 0x00, 0x03, ref, udh["AllParts"], udh["PartNumber"]])


def build_submit(text: str, number: str, *, concat_ref: int, status_report: bool) -> list[GammuSms]:
    """SMS-SUBMIT PDUs for `text` (already prepared) to `number`, ready for SendSMS."""
    parts = encode_parts(text)
    for part in parts:
        _set_concat_ref(part, concat_ref % 256)
        part["Number"] = number
        part["SMSC"] = {"Location": 1}  # the SMSC stored on the SIM
        if status_report:
            part["Type"] = "Status_Report"  # libgammu sets TP-SRR for this type on submit
    return parts


def build_deliver(text: str, sender: str, when: datetime, *, concat_ref: int | None = None) -> list[GammuSms]:
    """SMS-DELIVER parts as a network would hand them to a modem (for the simulator)."""
    parts = encode_parts(text)
    for part in parts:
        if concat_ref is not None:
            _set_concat_ref(part, concat_ref)
        part.update(
            Type="Deliver", Number=sender, DateTime=when, SMSCDateTime=when, State="UnRead",
            Folder=1, SMSC={"Location": 0, "Number": "+381600000000"},
        )  # fmt: skip
    return parts


def build_status_report(recipient: str, message_reference: int, status: int, when: datetime) -> GammuSms:
    return {
        "Type": "Status_Report", "Number": recipient, "MessageReference": message_reference,
        "DeliveryStatus": status, "DateTime": when, "SMSCDateTime": when, "Folder": 1,
        "State": "UnRead", "Text": "", "Coding": "Default_No_Compression",
        "SMSC": {"Location": 0, "Number": "+381600000000"},
    }  # fmt: skip


def save_backup(path: Path, sms: Iterable[GammuSms]) -> None:
    with _GAMMU_LOCK:
        gammu.SaveSMSBackup(str(path), list(sms))


def read_backup(path: Path) -> list[GammuSms]:
    with _GAMMU_LOCK:
        entries: list[Any] = gammu.ReadSMSBackup(str(path))
    flat: list[GammuSms] = []
    for entry in entries:
        flat.extend(entry if isinstance(entry, list) else [entry])
    return flat


def _tz_aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def storable(text: str) -> str:
    """`text` without NUL and with lone surrogates as U+FFFD: any phone can send UCS-2 U+0000 or half a
    surrogate pair, and PostgreSQL cannot store the one nor UTF-8 encode the other."""
    text = text.replace("\x00", "")
    if text.isascii():
        return text
    # Through UTF-16: a pair gammu handed over as two code points joins, a lone half is replaced.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def to_part(raw: GammuSms) -> SmsPart:
    """Our view of one gammu SMS dict."""
    udh = raw.get("UDH") or {}
    # Part numbers count from 1 (3GPP TS 23.040 §9.2.3.24.1); a part outside 1..AllParts is read alone.
    numbered = 1 <= udh.get("PartNumber", -1) <= udh.get("AllParts", -1)
    concatenated = udh.get("Type", "NoUDH") != "NoUDH" and numbered
    ref: int | None = None
    if concatenated:
        ref = udh["ID16bit"] if udh.get("ID16bit", -1) >= 0 else udh.get("ID8bit", -1)
    kinds: dict[str, Literal["deliver", "status_report"]] = {
        "Deliver": "deliver",
        "Status_Report": "status_report",
    }
    text = raw.get("Text")
    return SmsPart(
        folder=int(raw.get("Folder", 0)),
        location=int(raw.get("Location", 0)),
        kind=kinds.get(str(raw.get("Type")), "other"),
        inbox=bool(raw.get("InboxFolder", 0)),
        number=storable(str(raw.get("Number") or "")),
        text=storable(text) if isinstance(text, str) else "",
        sent_at=_tz_aware(raw.get("DateTime")),
        concat_ref=ref,
        concat_total=int(udh["AllParts"]) if concatenated else 1,
        concat_seq=int(udh["PartNumber"]) if concatenated else 1,
        message_reference=int(raw.get("MessageReference", 0)),
        delivery_status=int(raw.get("DeliveryStatus", 0)),
        coding=str(raw.get("Coding", "")),
        raw=raw,
    )


def link_parts(parts: Sequence[SmsPart]) -> list[list[SmsPart]]:
    """Group ONE sender's parts into messages with gammu's LinkSMS, each ordered by part number.

    LinkSMS does not really compare senders (its DecodeUnicodeString uses one static buffer),
    so the caller must hand it a single sender's parts.
    """
    # LinkSMS loops forever on a part numbered 0 (the fuzzer found it): such a part stays alone.
    linkable = [p for p in parts if p.concat_ref is not None or _unnumbered(p)]
    alone = [[p] for p in parts if p.concat_ref is None and not _unnumbered(p)]
    by_location = {p.location: p for p in linkable}
    try:
        with _GAMMU_LOCK:
            linked: list[list[GammuSms]] = gammu.LinkSMS([[p.raw] for p in linkable]) if linkable else []
    except (gammu.GSMError, ValueError, TypeError):
        # A malformed part must not hold the sender's other SMS hostage: link by UDH ourselves.
        return _link_by_udh(linkable) + alone
    return [[by_location[int(m["Location"])] for m in group] for group in linked] + alone


def _unnumbered(part: SmsPart) -> bool:
    return int((part.raw.get("UDH") or {}).get("PartNumber", -1)) < 0


def _link_by_udh(parts: Sequence[SmsPart]) -> list[list[SmsPart]]:
    sets: dict[tuple[int | None, int, int], list[SmsPart]] = {}
    for part in sorted(parts, key=lambda p: p.concat_seq):
        key = (part.concat_ref, part.concat_total, part.location if part.concat_ref is None else 0)
        sets.setdefault(key, []).append(part)
    return list(sets.values())


def decode_text(group: Sequence[SmsPart]) -> str:
    """The text of a linked group of parts (DecodeSMS handles the per-part codings)."""
    try:
        with _GAMMU_LOCK:
            info = gammu.DecodeSMS([p.raw for p in group])
    except (gammu.GSMError, ValueError, TypeError):
        info = None
    if info is None:
        return "".join(p.text for p in group)
    texts = (e["Buffer"] for e in info["Entries"] if isinstance(e.get("Buffer"), str))
    # DecodeSMS leaves a trailing NUL after GSM-7 escape characters such as €; a sender can put more.
    return storable("".join(texts))


def pdu_dump(part: SmsPart) -> bytes:
    """The part as a hex PDU line, for the contact's `raw` (re-parsable with gammu's DecodePDU)."""
    # EncodePDU's default layout is SMS-SUBMIT, which DecodePDU cannot read back for a received part.
    layout = {"deliver": "Deliver", "status_report": "StatusReport"}.get(part.kind, "Submit")
    # The text as stored: libgammu's strings end at a NUL, so a sent U+0000 cut the dump short there.
    sms = dict(part.raw, Text=part.text) if isinstance(part.raw.get("Text"), str) else part.raw
    try:
        with _GAMMU_LOCK:
            pdu: bytes = gammu.EncodePDU(sms, Layout=layout)
    except (gammu.GSMError, ValueError, TypeError):
        return b""
    return pdu.hex().encode()

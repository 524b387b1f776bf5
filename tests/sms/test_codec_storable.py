"""Hostile SMS parts decode to storable text and never hang libgammu's linking."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import gammu

from sms import codec

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def received(text: str, ref: int = 7) -> list[codec.SmsPart]:
    parts = []
    for location, sms in enumerate(codec.build_deliver(text, "+381641234567", WHEN, concat_ref=ref), 1):
        sms["Location"] = 0
        raw = gammu.DecodePDU(gammu.EncodePDU(sms, Layout="Deliver"), SMSC=True)
        raw.update(Location=location, Folder=1, InboxFolder=1)
        parts.append(codec.to_part(raw))
    return parts


def renumbered(part: codec.SmsPart, seq: int) -> codec.SmsPart:
    pdu = bytes.fromhex(codec.pdu_dump(part).decode("ascii"))
    udh = pdu.find(b"\x05\x00\x03\x07")
    raw = gammu.DecodePDU(pdu[: udh + 5] + bytes([seq]) + pdu[udh + 6 :], SMSC=True)
    raw.update(Location=part.location, Folder=1, InboxFolder=1)
    return codec.to_part(raw)


def test_storable_drops_nul_and_replaces_lone_surrogates_but_joins_pairs() -> None:
    assert codec.storable("a\x00b\x00") == "ab"
    assert codec.storable("x\ud83d") == "x\ufffd"
    assert codec.storable("\ud83d\ude4f") == "🙏"
    assert codec.storable("Ђурђевдан") == "Ђурђевдан"


def test_part_numbered_zero_is_read_alone() -> None:
    first, _second = received("Ђ" * 100)
    bogus = renumbered(first, 0)
    assert bogus.concat_ref is None
    assert bogus.text == first.text


def test_linking_a_part_numbered_zero_with_its_siblings_finishes() -> None:
    # gammu.LinkSMS spins forever on such a part; run it where a hang cannot take the suite with it.
    script = (
        "from tests.sms.test_codec_storable import received, renumbered\n"
        "from sms import codec\n"
        "first, second = received('Ђ' * 100)\n"
        "groups = codec.link_parts([renumbered(first, 0), second])\n"
        "print(sorted(len(g) for g in groups))\n"
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 1]"


def test_pdu_dump_reads_back_as_the_stored_text_when_the_sender_put_nul_in_it() -> None:
    [part] = received("Pukla cev €")
    raw = dict(part.raw, Text="Pukla\x00 cev")
    stored = codec.to_part(raw)
    again = gammu.DecodePDU(bytes.fromhex(codec.pdu_dump(stored).decode("ascii")), SMSC=True)
    assert stored.text == again["Text"] == "Pukla cev"

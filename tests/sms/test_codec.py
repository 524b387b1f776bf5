"""Cost-aware encoding: part counts must be what gammu's EncodeSMS really produces."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import gammu
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms.codec import (
    build_deliver,
    build_submit,
    count_parts,
    encode_parts,
    link_parts,
    prepare_text,
    script_of,
    to_part,
)

SERBIAN = "Ne radi ulična rasveta u Ulici Đure Đakovića 12, Šabac. Žurno! "
CYRILLIC = "Пријава: квар јавне расвете у улици Његошевој 12, Љубиша Ђорђевић. "


def gammu_count(text: str) -> tuple[int, str]:
    parts = encode_parts(text)
    coding = "ucs2" if parts[0]["Coding"].startswith("Unicode") else "gsm7"
    return len(parts), coding


@pytest.mark.parametrize(
    ("text", "parts", "encoding", "per_part"),
    [
        ("a" * 160, 1, "gsm7", 160),
        ("a" * 161, 2, "gsm7", 153),
        ("a" * 306, 2, "gsm7", 153),
        ("a" * 307, 3, "gsm7", 153),
        ("€" * 80, 1, "gsm7", 160),
        ("€" * 81, 2, "gsm7", 153),
        ("č" * 70, 1, "ucs2", 70),
        ("č" * 71, 2, "ucs2", 67),
        ("ш" * 134, 2, "ucs2", 67),
        ("ш" * 135, 3, "ucs2", 67),
        ("\U0001f6a7" * 40, 2, "ucs2", 67),
        ("", 1, "gsm7", 160),
    ],
)
def test_count_parts_matches_the_segmentation_table_and_gammu(
    text: str, parts: int, encoding: str, per_part: int
) -> None:
    counted = count_parts(text, "keep_script")
    assert (counted.parts, counted.encoding, counted.per_part) == (parts, encoding, per_part)
    assert gammu_count(text) == (parts, encoding)


def test_extension_characters_count_two_septets() -> None:
    assert count_parts("{[€]}", "keep_script").chars == 10
    assert count_parts("a" * 158 + "€", "keep_script").parts == 1
    assert count_parts("a" * 159 + "€", "keep_script").parts == 2
    assert gammu_count("a" * 159 + "€") == (2, "gsm7")


def test_serbian_latin_diacritics_force_ucs2_unless_folded() -> None:
    keep = count_parts(SERBIAN * 2, "keep_script")
    fold = count_parts(SERBIAN * 2, "gsm7_latin")
    assert (keep.encoding, keep.parts) == ("ucs2", 2)
    assert (fold.encoding, fold.parts) == ("gsm7", 1)
    assert gammu_count(prepare_text(SERBIAN * 2, "gsm7_latin")) == (1, "gsm7")


def test_gsm7_latin_transliterates_cyrillic_and_folds_diacritics() -> None:
    assert prepare_text("čćžšđ ČĆŽŠĐ", "gsm7_latin") == "cczsdj CCZSDJ"
    assert prepare_text("Ђорђе Љубиша Њива Џеп", "gsm7_latin") == "Djordje Ljubisa Njiva Dzep"
    assert prepare_text("ЂУРЂЕВДАН ЉУБАВ ЊЕГОШ ЏАК", "gsm7_latin") == "DJURDJEVDAN LJUBAV NJEGOS DZAK"
    assert prepare_text("Улица „Његошева” – број 12…", "gsm7_latin") == 'Ulica "Njegoseva" - broj 12...'
    assert prepare_text("čćž Ђ", "keep_script") == "čćž Ђ"


def test_gsm7_latin_leaves_what_gsm7_cannot_carry_so_gammu_goes_ucs2() -> None:
    text = prepare_text("Hvala 🙏", "gsm7_latin")
    assert text == "Hvala 🙏"
    assert count_parts(text, "gsm7_latin").encoding == "ucs2" == gammu_count(text)[1]


def test_script_is_detected_from_any_cyrillic_letter() -> None:
    assert script_of(CYRILLIC) == "cyrillic"
    assert script_of(SERBIAN) == "latin"
    assert script_of("Ulica 12, зграда Б") == "cyrillic"


ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,!?-\n@£$¥èéÇØÅΔ_ÆßÄÖÑÜ§¿äöñüà")
    + list("{}[]~^|\\€")
    + list("čćžšđČĆŽŠĐ")
    + list("абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЉЛМЊНОПРСТЋУФХЦЧЏШ")
    + list("„”“‘’–—…\u00a0\t`ç\U0001f6a7\U0001f600")
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(ALPHABET, max_size=420), policy=st.sampled_from(["keep_script", "gsm7_latin"]))
def test_count_parts_equals_gammu_encodesms_for_any_text(text: str, policy: str) -> None:
    counted = count_parts(text, policy)  # type: ignore[arg-type]
    prepared = prepare_text(text, policy)  # type: ignore[arg-type]
    assert (counted.parts, counted.encoding) == gammu_count(prepared)


def test_folded_text_survives_a_gsm7_pdu_round_trip_unchanged() -> None:
    folded = prepare_text(CYRILLIC + SERBIAN, "gsm7_latin")
    [part] = encode_parts(folded)
    part.update(SMSC={"Location": 0, "Number": "+381600000000"}, Number="+381641234567",
                Folder=2, Location=0)  # fmt: skip
    decoded = gammu.DecodePDU(gammu.EncodePDU(part), SMSC=True)
    assert decoded["Text"].rstrip("\x00") == folded


def test_parts_gammu_cannot_link_are_still_grouped_by_their_udh() -> None:
    when = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    raws = build_deliver("Ђ" * 150, "+381641234567", when, concat_ref=3)
    parts = [replace(to_part(raw), location=10001 + i) for i, raw in enumerate(raws)]
    broken = [replace(p, raw={"Location": p.location, "UDH": "not a dict"}) for p in parts]
    assert [[p.concat_seq for p in g] for g in link_parts(list(reversed(broken)))] == [[1, 2, 3]]
    linked = link_parts(list(reversed([replace(p, raw=dict(p.raw, Location=p.location)) for p in parts])))
    assert [[p.concat_seq for p in g] for g in linked] == [[1, 2, 3]]


@pytest.mark.parametrize("report", [True, False])
def test_submit_parts_request_a_status_report_in_the_pdu_and_carry_our_reference(report: bool) -> None:
    parts = build_submit("Ђ" * 100, "+381641234567", concat_ref=300, status_report=report)
    assert len(parts) == 2
    for seq, part in enumerate(parts, 1):
        part.update(Folder=2, Location=0)
        pdu = gammu.EncodePDU(part)
        first_octet = pdu[1 + pdu[0]]  # after the SMSC address
        assert first_octet & 0x03 == 0x01  # SMS-SUBMIT
        assert bool(first_octet & 0x20) is report  # TP-SRR
        decoded = gammu.DecodePDU(pdu, SMSC=True)
        assert (decoded["UDH"]["ID8bit"], decoded["UDH"]["PartNumber"]) == (300 % 256, seq)
        assert decoded["Number"] == "+381641234567"

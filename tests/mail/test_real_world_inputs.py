"""Real-world inputs the mail parser once misread: UTF-8 labels on broken or local-code-page bytes,
and header fields written with white space before the colon (RFC 5322 obsolete syntax)."""

from __future__ import annotations

import pytest

from mail.charset import decode_bytes, serbian_score
from mail.headers import accept_obs_field_names
from mail.parse import parse_message

SERBIAN_LATIN = "Poštovani građani, voda će nestati u Čačku i Žitištu."
SERBIAN_CYRILLIC = "Поштовани грађани, вода ће нестати у Чачку и Житишту."


def test_utf8_with_two_cut_sequences_keeps_its_letters_and_shows_the_loss() -> None:
    data = "Poštovani građani, voda ".encode() + b"\xc4 nestaje od 9 do 12 \xc5 sati."
    text, codec = decode_bytes(data, "utf-8")
    assert codec == "utf-8"
    assert text == "Poštovani građani, voda \ufffd nestaje od 9 do 12 \ufffd sati."


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (SERBIAN_LATIN, "cp1250"),
        (SERBIAN_LATIN, "iso-8859-2"),
        (SERBIAN_CYRILLIC, "cp1251"),
    ],
)
def test_local_code_page_mislabelled_utf8_is_read_as_that_code_page(text: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding), "utf-8") == (text, encoding)


def test_koi8_cyrillic_mislabelled_utf8_is_not_read_as_a_latin_page() -> None:
    # KOI8-R lacks ђ and ћ, so a Russian-style sentence stands in for what a KOI8 sender writes.
    text = "Уважаемые граждане, воды не будет с девяти до двенадцати."
    decoded, codec = decode_bytes(text.encode("koi8-r"), "utf-8")
    assert codec in ("koi8-r", "cp1251")
    assert not any("a" <= ch.lower() <= "z" for ch in decoded)


def test_serbian_score_prefers_real_words_over_mojibake() -> None:
    assert serbian_score(SERBIAN_LATIN) == 1.0
    assert serbian_score(SERBIAN_CYRILLIC) == 1.0
    assert serbian_score(SERBIAN_LATIN.encode().decode("cp1250")) < 0
    assert serbian_score(SERBIAN_LATIN.encode("cp1250").decode("cp1251")) < 0
    assert serbian_score("plain ascii only") == 0.0


def test_space_before_the_colon_is_taken_out_of_the_header_only() -> None:
    raw = b"From: a@example.rs\r\nSubject : Rupa\r\nX-Note\t: x\r\n\r\nTelo : ostaje kako je\r\n"
    assert accept_obs_field_names(raw) == (
        b"From: a@example.rs\r\nSubject: Rupa\r\nX-Note: x\r\n\r\nTelo : ostaje kako je\r\n"
    )


def test_well_formed_header_is_returned_unchanged() -> None:
    raw = b"From: a@example.rs\r\nSubject: a : b\r\n c : d\r\n\r\nbody\r\n"
    assert accept_obs_field_names(raw) is raw


def test_obs_subject_is_read_and_the_fields_after_it_stay_headers() -> None:
    raw = (
        b"From: gradjanin@example.rs\r\nTo: sistem48@grad.test\r\nSubject : Rupa na putu\r\n"
        b"Message-ID : <obs-1@example.rs>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Rupa u Ulici kralja Petra."
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Rupa na putu"
    assert parsed.message_id == "obs-1@example.rs"
    assert parsed.body == "Rupa u Ulici kralja Petra."

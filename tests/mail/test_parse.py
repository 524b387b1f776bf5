"""Parsing details: charsets, quotes, loop classification, containers, threading hints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.script import script_of
from mail.attachments import sniff_content_type
from mail.charset import decode_bytes, decode_header_text
from mail.intake import contact_from_bytes
from mail.parse import parse_message
from mail.quotes import split_reply
from tests.mail.conftest import CORPUS, citizen_mail, with_attachment
from tests.mail.corpusgen.media import TNEF_FILES

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _raw_mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body


# --- charsets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "label"),
    [
        ("Čačak, ulica Đure Đakovića: pukla cev, curi voda.", "cp1250", "koi8-r"),
        ("Čačak, ulica Đure Đakovića: pukla cev, curi voda.", "cp1250", "iso-8859-5"),
        ("Čačak, ulica Đure Đakovića: pukla cev, curi voda.", "cp1250", None),
        ("Чачак, улица Ђуре Ђаковића: пукла цев, цури вода.", "cp1251", "iso-8859-1"),
        ("Чачак, улица Ђуре Ђаковића: пукла цев, цури вода.", "cp1251", None),
        ("Чачак, улица Ђуре Ђаковића: пукла цев, цури вода.", "utf-8", "gb2312"),
        ("Čačak, ulica Đure Đakovića: pukla cev, curi voda.", "utf-8", "us-ascii"),
        ("Привет, как дела у вас в городе?", "koi8-r", "koi8-r"),
        ("Čačak, ulica Đure Đakovića: pukla cev.", "iso-8859-2", "iso-8859-2"),
    ],
)
def test_mislabelled_or_unlabelled_serbian_text_decodes(text: str, encoding: str, label: str | None) -> None:
    decoded, _codec = decode_bytes(text.encode(encoding), label)
    assert decoded == text


@pytest.mark.parametrize(
    "label", ["unknown-8bit", "x-user-defined", "ansi", "yu", "windows-1250", "iso-8859-8-i"]
)
def test_unknown_or_odd_charset_labels_never_raise(label: str) -> None:
    decoded, _codec = decode_bytes("Šabac, Užice".encode("cp1250"), label)
    assert "abac" in decoded
    assert "\ufffd" not in decoded


def test_body_in_unknown_charset_is_decoded_with_the_fallback_chain() -> None:
    raw = _raw_mail(
        "From: a@example.org\nSubject: x\nContent-Type: text/plain; charset=unknown-8bit\n"
        "Content-Transfer-Encoding: 8bit\n",
        "Ulica Vojvode Mišića, svetiljka ne radi.".encode("cp1250"),
    )
    assert parse_message(raw).body == "Ulica Vojvode Mišića, svetiljka ne radi."


def test_raw_8bit_utf8_header_is_decoded() -> None:
    raw = "From: Đorđe <djordje@example.org>\r\nSubject: Ђубре на улици\r\n\r\nTekst\r\n".encode()
    parsed = parse_message(raw)
    assert parsed.subject == "Ђубре на улици"
    assert parsed.sender_name == "Đorđe"


def test_encoded_words_split_inside_a_character_are_joined() -> None:
    assert (
        decode_header_text("=?UTF-8?Q?=D0=A7?= =?UTF-8?Q?=D0=B0=D1?= =?UTF-8?Q?=87=D0=B0=D0=BA?=") == "Чачак"
    )


def test_latin1_label_with_german_text_is_trusted() -> None:
    assert decode_bytes("test äöüß".encode("latin-1"), "iso-8859-1")[0] == "test äöüß"


# --- quotes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "pon, 2. mar 2026. u 08:15 Jovana Jovanović <jovana@example.org> je napisao/la:",
        "пон, 2. мар 2026. у 08:15 Јована Јовановић <jovana@example.org> је написао/ла:",
        "Dana 2.3.2026. u 08:15, Jovana je napisala:",
        "On Mon, Mar 2, 2026 at 8:15 AM Sistem 48 <sistem48@grad.test> wrote:",
    ],
)
def test_serbian_and_english_quote_headers_split_the_reply(header: str) -> None:
    text = f"Hvala, ali rupa je i dalje tu.\n\n{header}\n> Vaša prijava je rešena.\n"
    new, quoted = split_reply(text, "Re: [S48-2026-000123] Prijava")
    assert new == "Hvala, ali rupa je i dalje tu."
    assert quoted.startswith(header.split(" ")[0])
    assert "Vaša prijava je rešena." in quoted


def test_outlook_serbian_header_block_and_iphone_signature_are_split() -> None:
    text = (
        "Rupa je i dalje tu.\n\nPoslato sa mog iPhone-a\n\n"
        "Od: Sistem 48 <sistem48@grad.test>\nPoslato: 2. mart 2026. 08:15\n"
        "Za: Petar\nTema: Prijava\n\nRešeno."
    )
    new, quoted = split_reply(text)
    assert new == "Rupa je i dalje tu."
    assert quoted.startswith("Poslato sa mog iPhone-a")
    assert "Rešeno." in quoted


def test_inline_forwarded_complaint_is_never_stripped() -> None:
    text = (
        "Prosleđujem prijavu komšije.\n\n---------- Prosleđena poruka ----------\n"
        "Od: Komšija <komsija@example.org>\nPoslato: 1. mart 2026.\n\n"
        "Kontejner gori ispred zgrade.\n"
        "On Mon, Mar 2, 2026 at 8:15 AM X <x@example.org> wrote:\n> staro"
    )
    new, quoted = split_reply(text, "Prijava")
    assert "Kontejner gori ispred zgrade." in new
    assert quoted == ""


def test_forward_subject_keeps_everything() -> None:
    text = "Vidite ovo.\n\nOn Mon, Mar 2, 2026 at 8:15 AM X <x@example.org> wrote:\n> Drvo je palo."
    new, quoted = split_reply(text, "Fwd: Drvo")
    assert "Drvo je palo." in new
    assert quoted == ""


def test_citizen_text_mentioning_napisao_is_not_cut() -> None:
    text = "Komšija je napisao:\nkontejner je pun već nedelju dana."
    assert split_reply(text) == (text, "")


def test_reply_body_in_a_mail_goes_to_meta_quoted() -> None:
    raw = citizen_mail(
        "Nije popravljeno.\n\n"
        "On Mon, Mar 2, 2026 at 8:15 AM Sistem 48 <sistem48@grad.test> wrote:\n> Rešeno.\n",
        subject="Re: [S48-2026-000123] Prijava",
    )
    contact = contact_from_bytes(raw, received_at=NOW)
    assert contact.body == "Nije popravljeno."
    assert "> Rešeno." in contact.meta["quoted"]


# --- classification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "auto"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto-replied"),
        ({"Auto-Submitted": "auto-generated"}, "auto-generated"),
        ({"X-Autoreply": "yes"}, "auto-replied"),
        ({"X-Autorespond": "yes"}, "auto-replied"),
        ({"Precedence": "bulk"}, "auto-generated"),
        ({"Precedence": "list"}, "auto-generated"),
        ({"Precedence": "junk"}, "auto-generated"),
        ({"X-Auto-Response-Suppress": "OOF"}, "auto-generated"),
        ({"List-Id": "<komunalno.lists.example.org>"}, "auto-generated"),
        ({"List-Unsubscribe": "<mailto:unsubscribe@example.org>"}, "auto-generated"),
    ],
)
def test_automatic_mail_is_classified_and_suppresses_the_ack(headers: dict[str, str], auto: str) -> None:
    contact = contact_from_bytes(
        citizen_mail(extra_headers=headers), received_at=NOW, mail_from="a@example.org"
    )
    assert contact.meta["auto"] == auto
    assert contact.meta["suppress_ack"] == "1"


def test_auto_submitted_no_is_a_person() -> None:
    contact = contact_from_bytes(
        citizen_mail(extra_headers={"Auto-Submitted": "no"}),
        received_at=NOW,
        mail_from="petar@example.org",
    )
    assert contact.meta["auto"] == ""
    assert "suppress_ack" not in contact.meta


def test_serbian_out_of_office_subject_is_automatic() -> None:
    parsed = parse_message(citizen_mail(subject="Automatski odgovor: Prijava kvara"))
    assert parsed.auto == "auto-replied"


def test_mdn_is_classified() -> None:
    assert parse_message((CORPUS / "mdn-rfc3798-read-receipt.eml").read_bytes()).auto == "mdn"


# --- containers, files, hints -------------------------------------------------------------------


def test_tnef_winmail_dat_yields_its_files() -> None:
    tnef = (CORPUS / "winmail-two-files.tnef").read_bytes()
    parsed = parse_message(with_attachment(tnef, "application/ms-tnef", "winmail.dat"))
    assert {a.filename: a.data for a in parsed.attachments} == TNEF_FILES
    assert parsed.body == "Šaljem sliku."


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe1\x00\x10Exif", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"%PDF-1.4\n", "application/pdf"),
    ],
)
def test_octet_stream_photos_get_their_real_type(data: bytes, expected: str) -> None:
    parsed = parse_message(with_attachment(data, "application/octet-stream", None))
    [attachment] = parsed.attachments
    assert attachment.content_type == expected
    assert attachment.filename.startswith("attachment-1.")
    assert sniff_content_type(data, "application/octet-stream", None) == expected


def test_image_jpg_label_is_normalised() -> None:
    assert sniff_content_type(b"\xff\xd8\xff", "image/jpg", "a.jpg") == "image/jpeg"


def test_unsafe_attachment_names_are_sanitised() -> None:
    parsed = parse_message(with_attachment(b"data", "text/plain", "../../etc/passwd"))
    [attachment] = parsed.attachments
    assert "/" not in attachment.filename
    assert not attachment.filename.startswith(".")


def test_thread_hints_carry_refs_message_ids_and_plus_token() -> None:
    raw = citizen_mail(
        subject="Odg: RE: [S48-2026-000123] Prijava i S48-2026-000124, С48-2026-000125",
        extra_headers={
            "In-Reply-To": "<S48-2026-000123.x.1@grad.test>",
            "References": "<first@example.org> <S48-2026-000123.x.1@grad.test>",
        },
    )
    contact = contact_from_bytes(
        raw,
        received_at=NOW,
        mail_from="petar@example.org",
        rcpt_tos=["sistem48+t2026000123-ab12cd34@grad.test"],
    )
    assert contact.thread_hints == (
        "S48-2026-000123",
        "S48-2026-000124",
        "S48-2026-000125",
        "S48-2026-000123.x.1@grad.test",
        "first@example.org",
        "t2026000123-ab12cd34",
    )


def test_script_follows_the_new_text() -> None:
    assert script_of("Улица Кнеза Милоша, rupa") == "cyrillic"
    assert script_of("Ulica Kneza Miloša") == "latin"
    contact = contact_from_bytes(citizen_mail("Рупа на коловозу код броја 12."), received_at=NOW)
    assert contact.meta["script"] == "cyrillic"


def test_sender_falls_back_to_reply_to_then_envelope() -> None:
    no_from = b"Reply-To: Vesna <vesna@example.org>\r\nSubject: x\r\n\r\ntekst\r\n"
    assert contact_from_bytes(no_from, received_at=NOW).sender == "vesna@example.org"
    nothing = b"Subject: x\r\n\r\ntekst\r\n"
    assert (
        contact_from_bytes(nothing, received_at=NOW, mail_from="Ana@Example.org").sender == "ana@example.org"
    )


def test_external_id_is_the_message_id_or_a_hash() -> None:
    with_id = contact_from_bytes(citizen_mail(message_id="<abc@example.org>"), received_at=NOW)
    assert with_id.external_id == "abc@example.org"
    raw = citizen_mail(message_id=None)
    without = contact_from_bytes(raw, received_at=NOW)
    assert without.external_id.startswith("sha256:")
    assert without.external_id == contact_from_bytes(raw, received_at=NOW).external_id


def test_empty_bytes_are_quarantined_not_raised() -> None:
    contact = contact_from_bytes(b"", received_at=NOW)
    assert contact.meta["quarantine"] == "empty message"
    assert contact.external_id.startswith("sha256:")


def test_parser_crash_becomes_a_quarantine_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import mail.walk

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RecursionError("fault injected")

    monkeypatch.setattr(mail.walk, "_walk_part", explode)
    parsed = parse_message(citizen_mail(subject="Kvar"))
    assert parsed.quarantine_reason == "parser error: RecursionError"
    assert parsed.subject == "Kvar"
    assert parsed.sender == "petar@example.org"
    assert parsed.message_id == "citizen-1@example.org"


def test_absurdly_long_message_id_falls_back_to_the_hash() -> None:
    raw = citizen_mail(message_id="<" + "x" * 400 + "@example.org>")
    contact = contact_from_bytes(raw, received_at=NOW)
    assert contact.external_id.startswith("sha256:")
    assert contact.meta["message_id"].startswith("xxx")


def test_windows_1250_labelled_iso_8859_2_keeps_s_caron() -> None:
    text = "Šabac, ulica Đure Jakšića: ne radi rasveta."
    assert decode_bytes(text.encode("cp1250"), "iso-8859-2")[0] == text
    assert decode_bytes("€ 5 – café".encode("cp1252"), "iso-8859-1")[0] == "€ 5 – café"


def test_format_flowed_soft_breaks_are_joined() -> None:
    raw = _raw_mail(
        "From: a@example.org\nSubject: x\nContent-Type: text/plain; charset=utf-8; format=flowed\n",
        (
            "Kontejner ispred zgrade u ulici \r\nKneza Miloša 5 nije odnet \r\n"
            "već nedelju dana.\r\n-- \r\nAna\r\n"
        ).encode(),
    )
    body = parse_message(raw).body
    assert body.startswith("Kontejner ispred zgrade u ulici Kneza Miloša 5 nije odnet već nedelju dana.\n")
    assert body.endswith("-- \nAna") or body.endswith("--\nAna")

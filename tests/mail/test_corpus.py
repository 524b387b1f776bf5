"""Every mail of the project's own corpus (tests/mail/corpus, written by tests/mail/corpusgen) parses to
a sender, subject and readable text; machine mail is classified; files, photos and TNEF come out whole."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from PIL import Image

from mail.intake import contact_from_bytes
from mail.parse import parse_message
from tests.mail.conftest import CORPUS
from tests.mail.corpusgen import load_all
from tests.mail.corpusgen.machines import OUR_ID
from tests.mail.corpusgen.media import PDF, TNEF_FILES

SAMPLES = {s.name: s for s in load_all()}
MAILS = sorted(name for name in SAMPLES if name.endswith(".eml"))
_TAG = re.compile(r"</?(html|body|div|p|br|table|td|span|font|style|script|head)\b[^>]*>", re.IGNORECASE)
_MOJIBAKE = re.compile("Ã.|Ð.|ï¿½|Ä.|Ĺ.")
# The external corpus this replaces lists 47 messages; ours covers each of its traits at least once.
EXTERNAL_MESSAGE_COUNT = 47


def _read(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_the_corpus_on_disk_is_what_the_generator_writes() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(SAMPLES)
    assert len(MAILS) >= EXTERNAL_MESSAGE_COUNT
    for name, item in SAMPLES.items():
        if item.deterministic:
            assert _read(name) == item.build(), f"{name}: run python -m tests.mail.corpusgen"


def _gap(name: str) -> list[pytest.MarkDecorator]:
    gap = SAMPLES[name].expected.gap
    return [pytest.mark.xfail(strict=True, reason=f"known parser gap: {gap}")] if gap else []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_gap(n)) for n in MAILS])
def test_corpus_mail_yields_sender_subject_and_readable_text(name: str) -> None:
    expected = SAMPLES[name].expected
    parsed = parse_message(_read(name))
    assert parsed.quarantine_reason is None
    assert parsed.sender == expected.sender
    if expected.sender_name is not None:
        assert parsed.sender_name == expected.sender_name
    assert expected.subject in parsed.subject
    assert parsed.auto == expected.auto
    if expected.body is None:
        assert parsed.body == ""
    else:
        assert expected.body in parsed.body
        assert not _TAG.search(parsed.body), "HTML tags left in the body"
        assert not _MOJIBAKE.search(parsed.body), "UTF-8 read as a single-byte charset"
    assert (parsed.body + parsed.quoted).count("\ufffd") == expected.fffd
    names = [a.filename for a in parsed.attachments]
    for wanted in expected.attachments:
        assert wanted in names
    assert len({n.lower() for n in names}) == len(names), "attachment names must not collide"
    assert all(a.data for a in parsed.attachments)


@pytest.mark.parametrize("name", MAILS)
def test_corpus_mail_becomes_a_contact_with_a_reason_when_it_has_no_text(name: str) -> None:
    raw = _read(name)
    contact = contact_from_bytes(raw, received_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    assert contact.raw == raw
    assert contact.external_id
    if not contact.body:
        assert contact.meta.get("no_text") or contact.meta.get("quarantine")
    if not contact.sender or contact.meta["auto"]:
        assert contact.meta["suppress_ack"] == "1"


def test_phone_photo_keeps_its_exif_gps_in_the_stored_attachment() -> None:
    parsed = parse_message(_read("photo-android-exif-gps.eml"))
    [photo] = parsed.attachments
    assert photo.content_type == "image/jpeg"
    gps = Image.open(io.BytesIO(photo.data)).getexif().get_ifd(0x8825)
    assert gps[1] == "N" and gps[3] == "E"
    assert [float(x) for x in gps[2]] == [44.0, 49.0, 3.6]
    assert parsed.body == ""


def test_iphone_inline_photo_and_trailing_signature_are_both_kept() -> None:
    parsed = parse_message(_read("photo-iphone-inline-then-text.eml"))
    [photo] = parsed.attachments
    assert photo.inline
    assert photo.data.startswith(b"\xff\xd8\xff")
    assert "Pored škole je palo drvo." in parsed.body
    assert "~Danica" in parsed.body + parsed.quoted


def test_attachment_only_fax_keeps_the_pdf_bytes() -> None:
    [pdf] = parse_message(_read("attachment-only-fax-pdf.eml")).attachments
    assert pdf.content_type == "application/pdf"
    assert pdf.data == PDF


def test_x_uuencode_attachment_is_decoded() -> None:
    [attachment] = parse_message(_read("uuencode-x-uuencode-no-begin.eml")).attachments
    assert attachment.data == b"Zdravo Sistem48"


def test_winmail_dat_in_an_outlook_mail_yields_its_files() -> None:
    parsed = parse_message(_read("tnef-outlook-winmail.eml"))
    assert {a.filename: a.data for a in parsed.attachments} == TNEF_FILES


def test_duplicate_attachment_names_are_both_kept() -> None:
    parsed = parse_message(_read("attachment-duplicate-names.eml"))
    assert [a.data[-6:] for a in parsed.attachments] == [b" first", b"second"]


def test_signatures_are_not_attachments() -> None:
    for name in ("signed-pgp-mime.eml", "signed-smime-opaque-no-text.eml"):
        parsed = parse_message(_read(name))
        assert not [a for a in parsed.attachments if "signature" in a.content_type], name


def test_forwarded_message_attachment_keeps_its_text_in_the_body() -> None:
    parsed = parse_message(_read("forward-as-attachment-rfc822.eml"))
    assert "vesna@example.rs" in parsed.body
    assert "izvaljen šaht" in parsed.body
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]


@pytest.mark.parametrize(
    ("name", "recipient", "status"),
    [
        ("bounce-postfix-dsn.eml", "nepostoji@example.rs", "5.1.1"),
        ("bounce-sendmail-dsn.eml", "nepostoji@example.rs", "5.1.1"),
        ("bounce-exchange-online-ndr.eml", "nepostoji@example.rs", "5.1.10"),
        ("bounce-gmail-dsn.eml", "nepostoji@gmail.example", "5.1.1"),
        ("bounce-amavis-banned-empty-from.eml", "nepostoji@example.rs", "5.7.0"),
    ],
)
def test_dsn_bounces_name_the_failed_recipient_and_our_message_id(
    name: str, recipient: str, status: str
) -> None:
    parsed = parse_message(_read(name))
    assert parsed.bounce_recipients == (recipient,)
    assert parsed.bounced_message_id == OUR_ID
    assert status in parsed.bounce_detail


def test_exim_bounce_without_a_report_names_the_recipient_from_its_header() -> None:
    parsed = parse_message(_read("bounce-exim-plain.eml"))
    assert parsed.auto == "bounce"
    assert parsed.bounce_recipients == ("nepostoji@example.rs",)


def test_replies_are_split_into_new_text_and_history() -> None:
    for name, new_text in (
        ("reply-gmail-serbian.eml", "Još nije popravljeno."),
        ("reply-outlook-header-block.eml", "Hvala, sada radi."),
        ("reply-android-cyrillic.eml", "Хвала"),
        ("reply-iphone-signature.eml", "Hvala"),
    ):
        parsed = parse_message(_read(name))
        assert parsed.body == new_text, name
        assert parsed.quoted, name

"""Extra check: other projects' fixture mails (an external corpus with a MANIFEST.md) parse to a sender,
subject and readable text. Runs when the corpus is present (see tests.mail.conftest.extra_corpus);
the project's own corpus is tested in test_corpus.py either way."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from mail.parse import contact_from_bytes, parse_message
from tests.mail.conftest import extra_corpus, with_attachment
from tests.mail.corpusgen import Expected

_FOUND = extra_corpus()
if _FOUND is None:
    pytest.skip(
        "external mail corpus not run: set SISTEM48_EXTRA_MAILCORPUS (or put shared/mailcorpus beside the "
        "repository); the project's own corpus in tests/mail/corpus was tested",
        allow_module_level=True,
    )
CORPUS = _FOUND


EXPECTED: dict[str, Expected] = {
    "cpython__msg_35.eml": Expected("aperson@dom.ain", "here's something interesting", "counter to RFC 2822"),
    "cpython__msg_41.eml": Expected("xxx@example.com", "64423", "Blah blah blah"),
    "cpython__msg_43.eml": Expected(
        None, "Banned file: auto__mail.python.bat", "BANNED FILENAME ALERT", auto="bounce"
    ),
    "cpython__msg_46.eml": Expected(
        "sender@example.net",
        "GroupwiseForwardingTest",
        "Testing email forwarding with Groupwise 1.2.2010",
    ),
    "flanker__8bitmime.eml": Expected("bob@example.com", "2 RCPT MIME", "Превел"),
    "flanker__bilingual-simple.eml": Expected(
        "hello@example.com", "Как ты поживаешь?", "А эта линия по-русски."
    ),
    "flanker__bounce_office365.eml": Expected(
        "postmaster@example.no", "Undeliverable: test_bounce 8", "noname@example.com", auto="bounce"
    ),
    "flanker__bounce_zed.eml": Expected(
        "mailer-daemon@example.com.com",
        "Undelivered Mail Returned to Sender",
        "could not",
        auto="bounce",
    ),
    "flanker__disposition-notification.eml": Expected(
        "joe_recipient@example.com", "Disposition notification", "has been displayed", auto="mdn"
    ),
    "flanker__false-multipart.eml": Expected("broken.mime@notreallymultipart.com", "Broken MIME", None),
    "flanker__from-encoding.eml": Expected(
        "ingo@blank.pages.de",
        "running server as root",
        "Marc Slemko wrote:",
        auto="auto-generated",  # Precedence: bulk (a mailing list)
        sender_name="Ingo Lütkebohle",
    ),
    "flanker__iphone.eml": Expected("someone@somewhere.com", "Subject", "~Danielle", ("photo.JPG",)),
    "flanker__mailformed-headers.eml": Expected("headers@gmail.com", "!", "Hello"),
    "flanker__missing-final-boundary.eml": Expected("me@example.com", "Test", "Some body"),
    "flanker__multi-received-headers.eml": Expected(
        "hello@example.com",
        "Fwd: Please forward this email to me",
        "---------- Forwarded message ----------",
    ),
    "flanker__outlook-express.eml": Expected("bob@example.com", "Sup?", None, ("attachment-1.txt",)),
    "flanker__russian-attachment-yahoo.eml": Expected(
        "mailboxaddr1234567@yahoo.com",
        "Hello",
        "Hello",
        ("Картинка с очень, очень длинным предлинным именем преименем таким чт\ufffd",),
    ),
    "kix__BrokenEncoding.eml": Expected(
        "hirlevel@silicondreams.hu", "Adatmentés garanciával", "Majdnem mindenkivel előfordult"
    ),
    "kix__Bug10395.eml": Expected(
        "dev@ib.pl",
        "test",
        "test",
        sender_name="dev.mydomain.somewhere - Oddział 3 w Warszawie, testtes A1",
    ),
    "kix__DuplicateFilenameSpecialCharacters.eml": Expected(
        "peter.pruchnerovic@mall.cz",
        "TRT",
        "Peter Pruchnerovič",
        ("[Terminology_Guide].pdf", "[Terminology_Guide] (2).pdf"),
    ),
    "kix__NestedMessage-Test1.eml": Expected(
        "michiel.beijen@kixdesk.com",
        "Test ticket w/attachment for bug 1970",
        "When sending an email attachment of type *.msg",
    ),
    "kix__PostMaster-Test11.eml": Expected(
        "skywalker@example.com", "no content type but, 8bit chars", "pc va demasiado rápido"
    ),
    "kix__PostMaster-Test12.eml": Expected(
        "me@example.com",
        "test äöüß",
        "test äöüß",
        (
            "attachment-äöüß-utf8.txt",
            "attachment-äöüß-iso.txt",
            "Обяснительная.jpg",
            "Сообщение.jpg",
            "報告書①..txt",
            "金田\u3000美羽",
            "國科會50科學之旅活動計畫徵求書(r_final).doc",
        ),
        sender_name="Сапожников Борис",
    ),
    "kix__PostMaster-Test13.eml": Expected(
        "makarenkoaa@example.com",
        "Заявка на генерацию 402 240108 (3)",
        None,
        ("Заявка на генерацию 402 240108 (3).doc",),
    ),
    "kix__PostMaster-Test17.eml": Expected("am@example.com", "test.org", "Mahalo,\n\nÁ", fffd=3),
    "kix__PostMaster-Test21.eml": Expected(
        "skywalker@test.org",
        "Евгений Васильев Новоподзалупинский <xxzzyy@gmail.com>",
        "This is the first test.",
    ),
    "kix__PostMaster-Test4.eml": Expected(
        "me@bogen.net",
        'utf8: 使って / ISO-8859-1: Priorität"  / cp-1251: Сергей Углицких'.replace("  ", " "),
        "Compare Cable, DSL or Satellite plans: As low as $2.95.",
        sender_name="Hans BÄKOSchönland",
    ),
    "kix__PostMaster-Test5.eml": Expected(
        "han.solo@kixdesk.com",
        "2nd try: Again some stuff hübsches züm tästen]",
        "g\ufffdten Tag",
        (
            "test-attachment-äöüß-iso-8859-1.txt",
            "test-attachment-äöüß-utf-8.txt",
            "test-attachment-äöüß.pdf",
        ),
        fffd=6,
    ),
    "kix__PostMaster-Test6.eml": Expected(
        "r2.d2@test.org",
        "Und hier das UTF-8 Mail",
        "Nücht mal vor Anhängen machen Umlaute halt: äöüÄÖÜ".replace(": ", ":\n"),
        (
            "test-attachment-äöüß.pdf",
            "test-attachment-äöüß-utf-8.txt",
            "test-attachment-äöüß-iso-8859-1.txt",
        ),
    ),
    "kix__PostMaster-Test8.eml": Expected(
        '"#fax#*49000783135#"@kixdesk.fax', "Erhalten von *49000783135", None, ("IMAGE000.PDF",)
    ),
    "kix__UTF-7.eml": Expected(
        None,
        "Microsoft Forefront Protection for SharePoint successfully updated",
        "Microsoft Forefront Protection performed a successful scan engine update.",
    ),
    "kix__UTF8Filename.eml": Expected(
        "---obscured---@gmail.com",
        "---OBSCURED---M",
        "Buenas noches,",
        ("Documentación.pdf",),
        auto="auto-generated",
    ),
    "kix__Win7SnippingTool.eml": Expected(
        "tom.ryan@company123.com",
        "Vom Snipping Tool gesendet",
        "[cid:image001.png",
        ("image001.png",),
    ),
    "mailman__bad_email.eml": Expected(
        None,
        "P_@_С_C_Ы_Л_K_И",
        "ЧТО ТАКОЕ РЕКЛАМНАЯ РАССЫЛКА?",
        sender_name="Рекреативное агентство",
    ),
    "mailman__bad_email_2.eml": Expected(
        "user@example.com", "Defective email", "This string contains non-ascii \ufffd", fffd=1
    ),
    "mailman__collapse_alternatives.eml": Expected(
        "user@example.com", "Test multipart alternative", "This is the plain text"
    ),
    "mailman__issue144.eml": Expected("anne@example.com", "Višenamjenski pištolj za vodu 8/1", "Ignore"),
    "mailparser__mail_malformed_3.eml": Expected(
        "smgsiso@yahoo.com.mx", "Ahorre Dinero en su Recibo de Luz", "información de la compañía"
    ),
    "mailparser__mail_test_12.eml": Expected(
        "baoguan@hotmail.com", "代开各地增值税发票", "你好！我公司可代开各类增值税发票，17%专用发票"
    ),
    "mailparser__mail_test_6.eml": Expected(
        "noreply@ggg.com",
        "Быстрее вкладывайте в золото!",
        "Профессионалы.ru",
        ("attachment-1.png", "attachment-2.png", "attachment-3.png", "attachment-4.png"),
        auto="auto-generated",  # List-Id: a newsletter
    ),
    "mailparser__mail_test_9.eml": Expected(
        "zyb@sgis.com.cn",
        "我把镜头拉近些，你们看看这个是什么屄，这种场合自然少不了内射",
        "http://go2buy.com.cn/ 9065",
    ),
    "talon__reply_android.eml": Expected("bob@example.com", "Re: Test", "Hello"),
    "talon__reply_gmail.eml": Expected("xxx@gmail.com", "Re: Test", "Hello"),
    "talon__reply_iphone.eml": Expected("xxx@gmail.com", "Re: Test", "Hello"),
    "talon__reply_outlook.eml": Expected("me@example.com", "Test", "Hello"),
    "zammad__mail016.eml": Expected(
        "vipyimin@126.com",
        "直通美国排名第49大学 成功后付费",
        "您好，这封信如果影响到您的生活和工作",
    ),
    "zammad__mail078-x-uuencode.eml": Expected(
        "lpeters@example.com",
        "PGP Comments on RTO West Release of Dec. 14",
        "Attached are the comments of the Public Generating Pool.",
        ("PGP_Cmts_on_12-14-01_Pkg.txt",),
    ),
}

CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*.eml"))
_TAG = re.compile(r"</?(html|body|div|p|br|table|td|span|font|style|script|head)\b[^>]*>", re.IGNORECASE)
_MOJIBAKE = re.compile("Ã.|Ð.|ï¿½")


def test_every_corpus_mail_has_expectations() -> None:
    assert len(CORPUS_FILES) == 47
    assert set(CORPUS_FILES) == set(EXPECTED)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_mail_yields_sender_subject_and_readable_text(name: str) -> None:
    expected = EXPECTED[name]
    raw = (CORPUS / name).read_bytes()
    parsed = parse_message(raw)
    assert parsed.quarantine_reason is None
    assert parsed.sender == expected.sender
    if expected.sender_name is not None:
        assert parsed.sender_name == expected.sender_name
    assert expected.subject in parsed.subject
    assert parsed.auto == expected.auto
    text = parsed.body + parsed.quoted
    if expected.body is None:
        assert parsed.body == ""
    else:
        assert expected.body in parsed.body
        assert not _TAG.search(parsed.body), "HTML tags left in the body"
        assert not _MOJIBAKE.search(parsed.body), "UTF-8 read as Latin-1"
    assert text.count("\ufffd") == expected.fffd
    names = [a.filename for a in parsed.attachments]
    for wanted in expected.attachments:
        assert wanted in names
    assert len(set(n.lower() for n in names)) == len(names), "attachment names must not collide"
    assert all(a.data for a in parsed.attachments)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_mail_becomes_a_contact_with_a_reason_when_it_has_no_text(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    contact = contact_from_bytes(raw, received_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    assert contact.raw == raw
    assert contact.external_id
    if not contact.body:
        assert contact.meta.get("no_text") or contact.meta.get("quarantine")
    if not contact.sender or contact.meta["auto"]:
        assert contact.meta["suppress_ack"] == "1"


def test_attachment_only_fax_keeps_the_pdf_bytes() -> None:
    parsed = parse_message((CORPUS / "kix__PostMaster-Test8.eml").read_bytes())
    [pdf] = parsed.attachments
    assert pdf.content_type == "application/pdf"
    assert pdf.data.startswith(b"%PDF-")


def test_x_uuencode_attachment_is_decoded() -> None:
    parsed = parse_message((CORPUS / "zammad__mail078-x-uuencode.eml").read_bytes())
    [attachment] = parsed.attachments
    assert attachment.data == b"Hello Zammad"


def test_inline_iphone_photo_is_kept_as_jpeg() -> None:
    parsed = parse_message((CORPUS / "flanker__iphone.eml").read_bytes())
    [photo] = parsed.attachments
    assert photo.content_type == "image/jpeg"
    assert photo.inline
    assert len(photo.data) == 9023
    assert photo.data.startswith(b"\xff\xd8\xff")


def test_duplicate_attachment_names_are_both_kept() -> None:
    parsed = parse_message((CORPUS / "kix__DuplicateFilenameSpecialCharacters.eml").read_bytes())
    assert [len(a.data) for a in parsed.attachments] == [46485, 46485]


def test_pgp_signature_is_not_an_attachment() -> None:
    parsed = parse_message((CORPUS / "mailman__collapse_alternatives.eml").read_bytes())
    assert "signature.asc" not in [a.filename for a in parsed.attachments]
    assert all(a.content_type != "application/pgp-signature" for a in parsed.attachments)


def test_forwarded_message_attachment_keeps_its_text_in_the_body() -> None:
    parsed = parse_message((CORPUS / "kix__NestedMessage-Test1.eml").read_bytes())
    assert "---------- Forwarded message ----------" in parsed.body
    assert "presse-ger@mailman.greenpeace.org" in parsed.body
    assert "Greenpeace-Einspruch" in parsed.body
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]


def test_bounces_name_the_failed_recipient_and_our_message_id() -> None:
    zed = parse_message((CORPUS / "flanker__bounce_zed.eml").read_bytes())
    assert zed.bounce_recipients == ("asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com",)
    assert zed.bounced_message_id == "20090708054735.GC7578@example.com"
    office = parse_message((CORPUS / "flanker__bounce_office365.eml").read_bytes())
    assert office.bounce_recipients == ("noname@example.com",)
    assert office.bounced_message_id == "20171013111011.20866.254C2F3A4D7AA526@ninomail.com"
    assert "5.1.10" in office.bounce_detail


def test_tnef_winmail_dat_yields_its_files() -> None:
    tnef = (CORPUS / "tnefparse__two-files.tnef").read_bytes()
    parsed = parse_message(with_attachment(tnef, "application/ms-tnef", "winmail.dat"))
    assert {a.filename: len(a.data) for a in parsed.attachments} == {"AUTHORS": 244, "README": 893}


def test_talon_replies_are_split_into_new_text_and_history() -> None:
    for name in (
        "talon__reply_android.eml",
        "talon__reply_gmail.eml",
        "talon__reply_iphone.eml",
        "talon__reply_outlook.eml",
    ):
        parsed = parse_message((CORPUS / name).read_bytes())
        assert parsed.body == "Hello", name
        assert parsed.quoted, name

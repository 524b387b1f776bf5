"""Starting inputs for each fuzz target: the project's mail corpus, synthetic MIME shapes, PDUs built
by the codec the simulator uses, and keyword lines as citizens type them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mail_corpora() -> list[Path]:
    """The repository's own corpus (tests/mail/corpus), plus $SISTEM48_EXTRA_MAILCORPUS when it is set."""
    folders = [ROOT / "tests" / "mail" / "corpus"]
    extra = os.environ.get("SISTEM48_EXTRA_MAILCORPUS")
    if extra and Path(extra).is_dir():
        folders.append(Path(extra))
    return folders


_SYNTHETIC_MAIL = (
    b'From: "Pera" <pera@example.rs>\r\nSubject: =?utf-8?b?0J/RgNC40ZjQsNCy0LA=?=\r\n'
    b'Content-Type: multipart/mixed; boundary="a"\r\n\r\n--a\r\n'
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; '
    b"charset=windows-1250\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPukla cev =E8=9A\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n<p>Pukla <b>cev</b></p>\r\n--b--\r\n--a\r\n"
    b"Content-Type: image/jpeg\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''%D1%81;\r\n"
    b" filename*1=lika.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRg==\r\n--a\r\n"
    b"Content-Type: message/rfc822\r\n\r\nFrom: a@b.rs\r\nSubject: fwd\r\n\r\ninner text\r\n--a--\r\n",
    b"From: MAILER-DAEMON@example.rs\r\nSubject: Undelivered Mail\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n--r\r\n'
    b"Content-Type: text/plain\r\n\r\nfailed\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; x@y.rs\r\nAction: failed\r\n"
    b"Status: 5.1.1\r\n\r\n--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <a@b>\r\n--r--\r\n",
    b"From: a@b.rs\r\nSubject: Re: [S48-2026-000123]\r\nIn-Reply-To: <x@y>\r\n"
    b"Content-Type: text/plain; format=flowed; delsp=yes\r\n\r\nNije popravljeno. \r\nHvala\r\n\r\n"
    b"Dana 1.3.2026. Sistem48 <s@s.rs> je napisao:\r\n> Prijava primljena\r\n",
    b"From: a@b.rs\r\nSubject: tnef\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
    b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n#86)C\r\n`\r\nend\r\n",
)

_TEXTS = (
    b"\x00\x00Pozdrav, pukla je cev.\n\nOn Mon, 2 Mar 2026 at 10:00, Sistem48 <s@s.rs> wrote:\n> ok\n",
    b"\x01\x01\xe8\x9a\xf0\xe6 \xc6\xe8 Ulica",
    b"\x02\x01=?windows-1250?q?=C8a=9A?= =?utf-8?b?0JA=?=",
    b"\x03\x00<html><head><style>p{}</style></head><body><table><tr><td>a</td></tr></table></body>",
    b"\x00\x02-----Original Message-----\nFrom: x\nSent: y\n",
)

_SMS_TEXTS = ("Pukla cev u Ulici kralja Petra 12 €", "Ђ" * 100, "a" * 200, "STATUS S48-2026-000123", "🙏")

KEYWORD_LINES = (
    "STATUS S48-2026-000123",
    "стање С48 2026 123",
    "Status s48-2026-12",
    "STOP",
    "Odjava",
    "nije rešeno S48-2026-000001",
    "НИЈЕ ПОПРАВЉЕНО",
    "start",
)


def mail_parse() -> Iterator[bytes]:
    for folder in mail_corpora():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in (".eml", ".tnef"):
                yield path.read_bytes()
    yield from _SYNTHETIC_MAIL


def mail_text() -> Iterator[bytes]:
    yield from _TEXTS
    for raw in list(mail_parse())[:20]:
        yield b"\x00\x00" + raw[-2000:]


def sms_codec() -> Iterator[bytes]:
    import gammu

    from sms.codec import build_deliver

    when = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    for ref, text in enumerate(_SMS_TEXTS):
        record = b""
        for part in build_deliver(text, "+381641234567", when, concat_ref=ref):
            part["Location"] = 0
            pdu = gammu.EncodePDU(part, Layout="Deliver")
            record += bytes((1, len(pdu))) + pdu
        yield record


def keywords() -> Iterator[bytes]:
    for line in KEYWORD_LINES:
        yield line.encode()


def regressions(target: str) -> list[Path]:
    """Inputs the fuzzer once failed on (fixed since): always seeds, and replayed by the tests."""
    folder = ROOT / "fuzz" / "regressions" / target
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


SEEDS = {"mail_parse": mail_parse, "mail_text": mail_text, "sms_codec": sms_codec, "keywords": keywords}


def write(target: str, folder: Path) -> int:
    """Write the target's seeds into `folder` (named by content hash, as libFuzzer names its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    found = [*SEEDS[target](), *(p.read_bytes() for p in regressions(target))]
    for data in found:
        (folder / hashlib.sha1(data, usedforsecurity=False).hexdigest()).write_bytes(data)
        count += 1
    return count

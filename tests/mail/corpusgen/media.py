"""HTML-only mail, photos from phones, attachment-only mail, file-name encodings, TNEF and uuencode."""

from __future__ import annotations

import binascii
import io
import struct
import urllib.parse
from fractions import Fraction

from tests.mail.corpusgen import Expected, b64, lines, qp, sample, word

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e221bc330000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0>>endobj\n%%EOF\n"


def phone_jpeg() -> bytes:
    """A small JPEG with the EXIF a phone camera writes: make, model, time and a GPS position."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 72), (128, 118, 100))
    draw = ImageDraw.Draw(image)
    draw.ellipse((30, 25, 70, 55), fill=(40, 36, 30))  # a pothole, seen from above
    exif = Image.Exif()
    exif[0x010F] = "samsung"
    exif[0x0110] = "SM-A525F"
    exif[0x0132] = "2026:03:02 07:41:10"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (Fraction(44), Fraction(49), Fraction(36, 10))  # 44°49'3.6" N, Belgrade
    gps[3] = "E"
    gps[4] = (Fraction(20), Fraction(27), Fraction(442, 10))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def tnef(files: dict[str, bytes]) -> bytes:
    """A winmail.dat (MS-OXTNEF): version, OEM code page, message class, then each file's attributes."""

    def attribute(level: int, name: int, kind: int, data: bytes) -> bytes:
        checksum = sum(data) & 0xFFFF
        return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)

    out = struct.pack("<IH", 0x223E9F78, 0x5A1B)
    out += attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += attribute(1, 0x9007, 0x0006, struct.pack("<II", 1250, 0))
    out += attribute(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")
    for name, data in files.items():
        out += attribute(2, 0x9002, 0x0006, struct.pack("<HiiiiHI", 1, -1, -1, -1, -1, 0, 0))
        out += attribute(2, 0x8010, 0x0001, name.encode("ascii") + b"\x00")
        out += attribute(2, 0x800F, 0x0006, data)
    return out


TNEF_FILES = {"UPUTSTVO.TXT": b"Uputstvo za prijavu kvara.\r\n" * 9, "SPISAK.CSV": b"ulica;broj\r\n" * 80}


@sample(
    "winmail-two-files.tnef",
    "A raw winmail.dat payload (not a message) with two files",
    Expected(None, "", None),
)
def raw_tnef() -> bytes:
    return tnef(TNEF_FILES)


@sample(
    "tnef-outlook-winmail.eml",
    "Outlook with rich text on, through Exchange: the files hide in winmail.dat (application/ms-tnef)",
    Expected("referent@firma.example.rs", "Spisak ulica", "U prilogu", ("UPUTSTVO.TXT", "SPISAK.CSV")),
)
def tnef_mail() -> bytes:
    return lines(
        f"""
From: Referent <referent@firma.example.rs>
To: sistem48@grad.test
Subject: Spisak ulica
Date: Tue, 10 Mar 2026 09:15:00 +0100
Message-ID: <DB7PR01MB1234ABCD@DB7PR01MB1234.eurprd01.prod.exchangelabs.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="_002_DB7PR01MB1234_"
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator: <DB7PR01MB1234ABCD@DB7PR01MB1234.eurprd01.prod.exchangelabs.com>

--_002_DB7PR01MB1234_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

U prilogu je spisak ulica bez rasvete.

--_002_DB7PR01MB1234_
Content-Type: application/ms-tnef; name="winmail.dat"
Content-Disposition: attachment; filename="winmail.dat"
Content-Transfer-Encoding: base64

{b64(tnef(TNEF_FILES))}

--_002_DB7PR01MB1234_--
""",
        crlf=True,
    )


@sample(
    "uuencode-x-uuencode-no-begin.eml",
    "Eudora on a Mac: an attachment with Content-Transfer-Encoding x-uuencode and no begin line",
    Expected("lpeters@example.org", "Komentari na plan", "U prilogu su komentari", ("Komentari_12-14.txt",)),
)
def x_uuencode() -> bytes:
    encoded = binascii.b2a_uu(b"Zdravo Sistem48").decode("ascii")
    return lines(
        f"""
From: "Lon L. Peters" <lpeters@example.org>
To: sistem48@grad.test
Subject: Komentari na plan
Date: Wed, 11 Mar 2026 16:00:00 -0800
Mime-Version: 1.0
Content-Type: multipart/mixed;
 boundary="============_-1234567890==_============"

--============_-1234567890==_============
Content-Type: text/plain; charset="us-ascii" ; format="flowed"

U prilogu su komentari.

--============_-1234567890==_============
Content-Id: <a05100300b84c9f1b2e@[192.168.1.2]>
Content-Type: application/octet-stream; name="Komentari_12-14.txt"
 ; x-mac-type="54455854"
 ; x-mac-creator="4D535744"
Content-Disposition: attachment; filename="Komentari_12-14.txt"
Content-Transfer-Encoding: x-uuencode

{encoded}`

--============_-1234567890==_============--
""",
        crlf=True,
    )


@sample(
    "uuencode-inline-in-plain-body.eml",
    "An old client pasting a uuencoded file into a text/plain body (begin 644 … end)",
    Expected("deda@example.rs", "Slika", "Evo slike rupe"),
)
def inline_uu() -> bytes:
    encoded = binascii.b2a_uu(PNG_1X1[:45]).decode("ascii") + binascii.b2a_uu(PNG_1X1[45:]).decode("ascii")
    return lines(
        f"""
From: deda@example.rs
To: sistem48@grad.test
Subject: Slika
Date: Wed, 11 Mar 2026 17:00:00 +0100
Content-Type: text/plain; charset=us-ascii

Evo slike rupe.

begin 644 rupa.png
{encoded}`
end
"""
    )


@sample(
    "html-only-outlook.eml",
    "Outlook HTML-only mail with a style block and a table",
    Expected("kancelarija@example.rs", "Kvar lifta", "Lift u zgradi ne radi", sender_name="Kancelarija MZ"),
)
def html_only() -> bytes:
    html = (
        "<html><head><meta http-equiv=Content-Type content='text/html; charset=utf-8'>"
        "<style>p.MsoNormal{margin:0cm;font-family:Calibri}</style></head><body lang=SR-LATN-RS>"
        "<div class=WordSection1><p class=MsoNormal>Poštovani,<o:p></o:p></p><p class=MsoNormal>"
        "Lift u zgradi ne radi od petka.</p><table><tr><td>Adresa</td><td>Bulevar Oslobođenja 3</td>"
        "</tr></table></div></body></html>"
    )
    return lines(
        f"""
From: Kancelarija MZ <kancelarija@example.rs>
To: "sistem48@grad.test" <sistem48@grad.test>
Subject: Kvar lifta
Date: Thu, 12 Mar 2026 08:00:00 +0100
Message-ID: <VI1PR0701MB2222@VI1PR0701MB2222.eurprd07.prod.outlook.com>
Content-Language: sr-Latn-RS
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

{qp(html, "utf-8")}
""",
        crlf=True,
    )


@sample(
    "html-only-cp1251-base64-meta.eml",
    "HTML-only, base64, labelled windows-1251 in the header while the meta tag says koi8-r",
    Expected("info@example.rs", "Обавештење", "Нестанак воде у Земуну"),
)
def html_cp1251() -> bytes:
    html = (
        "<html><head><meta charset='koi8-r'><title>x</title></head><body>"
        "<h2>Нестанак воде у Земуну</h2><p>Од 9 до 14 часова.</p></body></html>"
    )
    return lines(
        f"""
From: info@example.rs
To: sistem48@grad.test
Subject: {word("Обавештење", "windows-1251")}
Date: Thu, 12 Mar 2026 09:00:00 +0100
MIME-Version: 1.0
Content-Type: text/html; charset=windows-1251
Content-Transfer-Encoding: base64

{b64(html.encode("windows-1251"))}
"""
    )


@sample(
    "photo-android-exif-gps.eml",
    "Gmail on Android: a camera photo with EXIF GPS, an empty text part, the subject is the report",
    Expected("citalac@gmail.example", "Rupa na kolovozu", None, ("IMG_20260302_074110.jpg",)),
    deterministic=False,
)
def android_photo() -> bytes:
    return lines(
        f"""
MIME-Version: 1.0
From: =?UTF-8?B?xIxpdGFsYWM=?= <citalac@gmail.example>
Date: Mon, 2 Mar 2026 07:42:01 +0100
Message-ID: <CAF1a2b3c4d5e6f7g8h9=abc@mail.gmail.example>
Subject: Rupa na kolovozu
To: sistem48@grad.test
Content-Type: multipart/mixed; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60716"

--000000000000a1b2c3d4e5f60716
Content-Type: text/plain; charset="UTF-8"


--000000000000a1b2c3d4e5f60716
Content-Type: text/html; charset="UTF-8"

<div dir="auto"></div>

--000000000000a1b2c3d4e5f60716--
--000000000000a1b2c3d4e5f60718
Content-Type: image/jpeg; name="IMG_20260302_074110.jpg"
Content-Disposition: attachment; filename="IMG_20260302_074110.jpg"
Content-Transfer-Encoding: base64
X-Attachment-Id: f_lt9x1abc0
Content-ID: <f_lt9x1abc0>

{b64(phone_jpeg())}
--000000000000a1b2c3d4e5f60718--
"""
    )


@sample(
    "photo-iphone-inline-then-text.eml",
    "iPhone Mail: text, an inline JPEG, then the signature in a trailing text part",
    Expected("danica@icloud.example", "Drvo", "Pored škole", ("photo.JPG",)),
    deterministic=False,
)
def iphone_photo() -> bytes:
    return lines(
        f"""
Content-Type: multipart/mixed; boundary=Apple-Mail-7E1F
Content-Transfer-Encoding: 7bit
From: Danica <danica@icloud.example>
Mime-Version: 1.0 (1.0)
Date: Mon, 2 Mar 2026 18:03:00 +0100
Subject: Drvo
Message-Id: <0C1D2E3F-AAAA-BBBB-CCCC-DDDDEEEEFFFF@icloud.example>
To: sistem48@grad.test
X-Mailer: iPhone Mail (21D61)

--Apple-Mail-7E1F
Content-Type: text/plain;
\tcharset=utf-8
Content-Transfer-Encoding: quoted-printable

{qp("Pored škole je palo drvo.", "utf-8")}

--Apple-Mail-7E1F
Content-Type: image/jpeg;
\tname=photo.JPG;
\tx-apple-part-url=ABCD-1234
Content-Disposition: inline;
\tfilename=photo.JPG
Content-Transfer-Encoding: base64

{b64(phone_jpeg())}
--Apple-Mail-7E1F
Content-Type: text/plain;
\tcharset=us-ascii
Content-Transfer-Encoding: 7bit



~Danica
Poslato sa mog iPhone-a
--Apple-Mail-7E1F--
"""
    )


@sample(
    "related-html-nameless-pngs.eml",
    "A newsletter in multipart/related with inline PNGs that have no file names",
    Expected(
        "noreply@vesti.example",
        "Vesti",
        "Radovi na putu",
        ("attachment-1.png", "attachment-2.png"),
        auto="auto-generated",
    ),
)
def related() -> bytes:
    return lines(
        f"""
From: Vesti <noreply@vesti.example>
To: sistem48@grad.test
Subject: Vesti iz grada
Date: Fri, 13 Mar 2026 06:00:00 +0100
List-Unsubscribe: <mailto:unsub@vesti.example>
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<html><body><img src="cid:a1"><p>Radovi na putu od ponedeljka.</p><img src="cid:a2"></body></html>
--rel
Content-Type: image/png
Content-ID: <a1>
Content-Transfer-Encoding: base64

{b64(PNG_1X1)}
--rel
Content-Type: image/png
Content-ID: <a2>
Content-Transfer-Encoding: base64

{b64(PNG_1X1)}
--rel--
"""
    )


@sample(
    "attachment-only-fax-pdf.eml",
    "A fax gateway: the whole message is one base64 PDF, no text, upper-case parameters",
    Expected('"#fax#*381111234567#"@fax.example.rs', "Primljen faks", None, ("FAKS0001.PDF",)),
)
def fax() -> bytes:
    return lines(
        f"""
From: "#FAX#*381111234567#"@fax.example.rs
To: sistem48@grad.test
Subject: Primljen faks od *381111234567
Date: Fri, 13 Mar 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: APPLICATION/OCTET-STREAM; NAME="FAKS0001.PDF"
Content-Transfer-Encoding: BASE64
Content-Disposition: ATTACHMENT; FILENAME="FAKS0001.PDF"

{b64(PDF)}
"""
    )


@sample(
    "attachment-only-word-cyrillic-name.eml",
    'A single-part Word file with a Cyrillic RFC 2231 name and no text ("send file only")',
    Expected("sekretar@example.rs", "Захтев за поправку", None, ("Захтев за поправку.doc",)),
)
def word_only() -> bytes:
    name = urllib.parse.quote("Захтев за поправку.doc")
    return lines(
        f"""
From: sekretar@example.rs
To: sistem48@grad.test
Subject: {word("Захтев за поправку", "utf-8")}
Date: Fri, 13 Mar 2026 11:00:00 +0100
MIME-Version: 1.0
Content-Type: application/msword; name*=utf-8''{name}
Content-Disposition: attachment; filename*=utf-8''{name}
Content-Transfer-Encoding: base64

{b64(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(120))}
"""
    )


@sample(
    "attachment-names-encoded-words-in-quotes.eml",
    "Outlook 2007: attachment names as RFC 2047 words inside quoted parameters",
    Expected("r2d2@example.org", "Prilozi", "Šaljem priloge", ("Zapisnik-čćž.pdf", "Spisak-đš.txt")),
)
def outlook_names() -> bytes:
    pdf_name = word("Zapisnik-čćž.pdf", "utf-8")
    txt_name = word("Spisak-đš.txt", "iso-8859-2", "Q")
    return lines(
        f"""
From: R2 D2 <r2d2@example.org>
To: sistem48@grad.test
Subject: Prilozi
Date: Sat, 14 Mar 2026 09:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="----=_NextPart_000_0001_01C0"

------=_NextPart_000_0001_01C0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

{qp("Šaljem priloge.", "utf-8")}
------=_NextPart_000_0001_01C0
Content-Type: application/pdf; name="{pdf_name}"
Content-Disposition: attachment; filename="{pdf_name}"
Content-Transfer-Encoding: base64

{b64(PDF)}
------=_NextPart_000_0001_01C0
Content-Type: text/plain; name="{txt_name}"
Content-Disposition: attachment; filename="{txt_name}"
Content-Transfer-Encoding: base64

{b64(b"spisak")}
------=_NextPart_000_0001_01C0--
""",
        crlf=True,
    )


@sample(
    "attachment-duplicate-names.eml",
    "Two different files with the same name containing brackets",
    Expected("petar@example.rs", "Dokumenta", "Petar Petrović", ("[Zapisnik].pdf", "[Zapisnik] (2).pdf")),
)
def duplicate_names() -> bytes:
    return lines(
        f"""
From: petar@example.rs
To: sistem48@grad.test
Subject: Dokumenta
Date: Sat, 14 Mar 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=dup

--dup
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

-- @SIG@
--dup
Content-Type: application/pdf; name="[Zapisnik].pdf"
Content-Disposition: attachment; filename="[Zapisnik].pdf"
Content-Transfer-Encoding: base64

{b64(PDF + b"% first")}
--dup
Content-Type: application/pdf; name="[Zapisnik].pdf"
Content-Disposition: attachment; filename="[Zapisnik].pdf"
Content-Transfer-Encoding: base64

{b64(PDF + b"% second")}
--dup--
"""
    ).replace(b"@SIG@", "Petar Petrović, upravnik zgrade".encode())


@sample(
    "attachment-rfc2231-latin1-mutt.eml",
    "mutt: 8-bit Latin-1 text, RFC 2231 file names in iso-8859-1 and utf-8",
    Expected("han@example.de", "Umlaute", "Schönen Tag", ("anhang-äöü-latin1.txt", "anhang-äöü-utf8.txt")),
)
def mutt() -> bytes:
    return lines(
        f"""
From: Han Solo <han@example.de>
To: sistem48@grad.test
Subject: =?iso-8859-1?Q?Umlaute_h=FCbsch?=
Date: Sun, 15 Mar 2026 09:00:00 +0100
User-Agent: Mutt/2.2.9
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mutt-b"
Content-Disposition: inline

--mutt-b
Content-Type: text/plain; charset=iso-8859-1
Content-Disposition: inline
Content-Transfer-Encoding: 8bit

@BODY@
--mutt-b
Content-Type: text/plain; charset=iso-8859-1
Content-Disposition: attachment; filename*=iso-8859-1''anhang-%E4%F6%FC-latin1.txt
Content-Transfer-Encoding: base64

{b64(b"eins")}
--mutt-b
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename*=utf-8''anhang-%C3%A4%C3%B6%C3%BC-utf8.txt
Content-Transfer-Encoding: base64

{b64(b"zwei")}
--mutt-b--
"""
    ).replace(b"@BODY@", "Schönen Tag, Grüße.".encode("latin-1"))


@sample(
    "snipping-tool-unparseable-alternative.eml",
    "Outlook + Snipping Tool: the alternative child has no header/body separator; only the PNG survives",
    Expected("tom@example.rs", "Poslato iz alatke", "[cid:image001.png", ("image001.png",)),
)
def snipping() -> bytes:
    return lines(
        f"""
From: Tom <tom@example.rs>
To: sistem48@grad.test
Subject: Poslato iz alatke za isecanje
Date: Sun, 15 Mar 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/related; boundary="_004_rel_"; type="multipart/alternative"

--_004_rel_
Content-Type: multipart/alternative; boundary="_000_alt_"
--_000_alt_
Content-Type: text/plain; charset="us-ascii"

[cid:image001.png@01D1]
--_000_alt_--

--_004_rel_
Content-Type: image/png; name="image001.png"
Content-Description: image001.png
Content-Disposition: inline; filename="image001.png"
Content-ID: <image001.png@01D1>
Content-Transfer-Encoding: base64

{b64(PNG_1X1)}
--_004_rel_--
""",
        crlf=True,
    )


@sample(
    "attachment-truncated-base64.eml",
    "Gmail: RFC 2231 UTF-8 file name, the base64 of the PDF cut in the middle of a quantum",
    Expected("zorica@gmail.example", "Zapisnik", "Dobro veče,", ("Zapisnik – mesna zajednica.pdf",)),
)
def truncated_base64() -> bytes:
    name = urllib.parse.quote("Zapisnik – mesna zajednica.pdf")
    cut = b64(PDF * 3)[:-3]
    return lines(
        f"""
MIME-Version: 1.0
From: Zorica <zorica@gmail.example>
Date: Mon, 16 Mar 2026 21:00:00 +0100
Message-ID: <CAtrunc@mail.gmail.example>
Subject: Zapisnik
To: sistem48@grad.test
Content-Type: multipart/mixed; boundary="0000000000001234abcd"

--0000000000001234abcd
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp("Dobro veče,", "utf-8")}

--0000000000001234abcd
Content-Type: application/pdf; name*=UTF-8''{name}
Content-Disposition: attachment; filename*=UTF-8''{name}
Content-Transfer-Encoding: base64

{cut}
--0000000000001234abcd--
"""
    )


LONG_NAME = "Фотографија рупе на коловозу у Улици Војводе Степе испред броја 112, снимљено ујутру " * 2
LONG_NAME += ".png"


@sample(
    "attachment-long-cyrillic-name-continuations.eml",
    "Yahoo: a 170-character Cyrillic file name split over RFC 2231 continuations (filename*0*, *1*, …)",
    Expected("mailbox1234@yahoo.example", "Slika", "Šaljem sliku", (LONG_NAME,)),
)
def long_name() -> bytes:
    quoted = urllib.parse.quote(LONG_NAME)
    chunks = [quoted[i : i + 60] for i in range(0, len(quoted), 60)]
    # a continuation must not split a %XX escape
    fixed: list[str] = []
    carry = ""
    for chunk in chunks:
        chunk = carry + chunk
        cut = chunk.rfind("%", max(len(chunk) - 2, 0))
        carry, chunk = (chunk[cut:], chunk[:cut]) if cut >= 0 else ("", chunk)
        fixed.append(chunk)
    if carry:
        fixed.append(carry)
    params = ";\n".join(
        f" filename*{i}*={'utf-8' + chr(39) * 2 if i == 0 else ''}{part}" for i, part in enumerate(fixed)
    )
    return lines(
        f"""
From: mailbox1234@yahoo.example
To: sistem48@grad.test
Subject: Slika
Date: Tue, 17 Mar 2026 07:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="----=_Part_1_2.3"

------=_Part_1_2.3
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

{qp("Šaljem sliku.", "utf-8")}
------=_Part_1_2.3
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
{params}

{b64(PNG_1X1)}
------=_Part_1_2.3--
"""
    )

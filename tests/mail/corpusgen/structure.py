"""Forwards, replies, malformed MIME, long lines, soft line breaks, signed mail."""

from __future__ import annotations

import re

from tests.mail.corpusgen import Expected, b64, lines, qp, sample, word

LONG_CYR = (
    "Поштовани, обраћам се поводом дивље депоније на крају Улице Стевана Сремца, код моста. "
    "Ту се већ месецима баца грађевински шут, стари намештај и кућно смеће, а у последње време и гуме. "
    "Деца из насеља се ту играју, а лети се шири непријатан мирис. Молим да комунална инспекција изађе "
    "на терен и да се депонија уклони. Са поштовањем, Јелена Ђорђевић, Улица Стевана Сремца 40."
)


@sample(
    "forward-as-attachment-rfc822.eml",
    "Forward as attachment: message/rfc822 whose inner message is iso-8859-2 multipart/alternative",
    Expected("komsija@example.rs", "Fwd: Prijava komšije", "Prosleđujem prijavu"),
)
def forward_attached() -> bytes:
    inner_text = "Ispred zgrade u Ulici Vojvode Mišića 5 je izvaljen šaht."
    return lines(
        f"""
From: Komsija <komsija@example.rs>
To: sistem48@grad.test
Subject: =?utf-8?Q?Fwd:_Prijava_kom=C5=A1ije?=
Date: Mon, 16 Mar 2026 08:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

{qp("Prosleđujem prijavu moje komšinice.", "utf-8")}
--outer
Content-Type: message/rfc822

From: Vesna <vesna@example.rs>
To: komsija@example.rs
Subject: {word("Šaht", "iso-8859-2", "Q")}
Date: Sun, 15 Mar 2026 20:00:00 +0100
Message-ID: <inner-1@example.rs>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=iso-8859-2
Content-Transfer-Encoding: quoted-printable

{qp(inner_text, "iso-8859-2")}
--inner
Content-Type: text/html; charset=iso-8859-2
Content-Transfer-Encoding: quoted-printable

{qp("<p>" + inner_text + "</p>", "iso-8859-2")}
--inner--

--outer--
"""
    )


@sample(
    "forward-groupwise-root-rfc822.eml",
    "GroupWise forward: the top-level Content-Type is message/rfc822",
    Expected("sender@example.net", "GroupwiseForward", "Prosleđeno iz GroupWise klijenta"),
)
def groupwise() -> bytes:
    return lines(
        f"""
From: Sender <sender@example.net>
To: sistem48@grad.test
Subject: GroupwiseForward
Date: Mon, 16 Mar 2026 09:00:00 +0100
MIME-Version: 1.0
Content-Type: message/rfc822

From: "Dr. Sender" <dr.sender@example.net>
Subject: Original
Date: Mon, 16 Mar 2026 08:30:00 +0100
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64("Prosleđeno iz GroupWise klijenta.".encode())}
"""
    )


@sample(
    "forward-inline-gmail-serbian.eml",
    "Gmail in Serbian forwarding inline (---------- Prosleđena poruka ---------)",
    Expected("hello@example.rs", "Fwd: Kvar", "---------- Prosleđena poruka ---------"),
)
def forward_inline() -> bytes:
    text = (
        "\n\n---------- Prosleđena poruka ---------\n"
        "Od: Mira <mira@example.rs>\nDatum: ned, 15. mar 2026. u 21:00\nTema: Kvar\n"
        "Za: <hello@example.rs>\n\n\nSemafor na raskrsnici kod pijace ne radi.\n"
    )
    return lines(
        f"""
From: Hello <hello@example.rs>
To: sistem48@grad.test
Subject: Fwd: Kvar
Date: Mon, 16 Mar 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp(text, "utf-8")}
"""
    )


@sample(
    "malformed-false-multipart.eml",
    "Declared multipart/alternative, the boundary never appears",
    Expected("broken@example.rs", "Pokvaren MIME", "Ovaj tekst nije ni u jednom delu."),
)
def false_multipart() -> bytes:
    return lines(
        """
From: broken@example.rs
To: sistem48@grad.test
Subject: Pokvaren MIME
Date: Tue, 17 Mar 2026 08:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="neverthere"

Ovaj tekst nije ni u jednom delu.
"""
    )


@sample(
    "malformed-missing-final-boundary.eml",
    "The closing boundary is missing (a truncated upload)",
    Expected("me@example.rs", "Test", "Neki tekst"),
)
def missing_final() -> bytes:
    return lines(
        """
From: me@example.rs
To: sistem48@grad.test
Subject: Test
Date: Tue, 17 Mar 2026 09:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

Neki tekst
"""
    )


@sample(
    "malformed-multipart-no-boundary.eml",
    "multipart/alternative without a boundary parameter",
    Expected("allison@example.rs", "64423", "Bla bla bla"),
)
def no_boundary() -> bytes:
    return lines(
        """
From: Allison <allison@example.rs>
To: sistem48@grad.test
Subject: 64423
Date: Tue, 17 Mar 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/alternative;

Bla bla bla
"""
    )


@sample(
    "malformed-no-header-body-separator.eml",
    "No blank line between the headers and the body",
    Expected("aperson@example.rs", "nešto zanimljivo", "protivno RFC 2822"),
)
def no_separator() -> bytes:
    return (
        lines(
            """
From: aperson@example.rs
To: sistem48@grad.test
Subject: =?utf-8?Q?ne=C5=A1to_zanimljivo?=
"""
        )
        + b"protivno RFC 2822, nema praznog reda ovde\n"
    )


@sample(
    "malformed-header-lines.eml",
    "Obsolete header syntax (space before the colon), raw 8-bit header bytes, a 20-line folded header",
    Expected(
        "headers@example.rs",
        "!",
        "Zdravo",
    ),
)
def bad_headers() -> bytes:
    folded = "\n ".join(f"deo{i}" for i in range(20))
    return lines(
        f"""
From: headers@example.rs
To: sistem48@grad.test
Subject : !
X-Note: @RAW@
X-Folded: {folded}
Date: Tue, 17 Mar 2026 11:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain

Zdravo
"""
    ).replace(b"@RAW@", "čćž đš".encode())


@sample(
    "long-lines-unwrapped.eml",
    "A webmail sending 8-bit UTF-8 lines thousands of characters long and a 1000-character subject",
    Expected("dugacko@example.rs", "Dugačak naslov", "дивље депоније на крају"),
)
def long_lines() -> bytes:
    subject = word("Dugačak naslov " + "i još duži " * 90, "utf-8")
    head = lines(
        f"""
From: dugacko@example.rs
To: sistem48@grad.test
Subject: {subject}
Date: Wed, 18 Mar 2026 08:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

"""
    )
    return head + (LONG_CYR + " ").encode() * 12 + b"\n"


@sample(
    "qp-soft-breaks-split-utf8.eml",
    "Quoted-printable with soft line breaks, some splitting a two-byte UTF-8 letter across lines",
    Expected("jelena@example.rs", "Дивља депонија", "Молим да комунална инспекција изађе на терен"),
)
def soft_breaks() -> bytes:
    # a soft break every 70 columns, never inside an =XX escape but often between the two bytes
    # of one Cyrillic letter, as byte-oriented encoders do
    tokens = re.findall(r"=[0-9A-F]{2}|.", qp(LONG_CYR, "utf-8").replace("=\n", ""))
    out, line = [], ""
    for token in tokens:
        if len(line) + len(token) > 72:
            out.append(line + "=")
            line = ""
        line += token
    out.append(line)
    return lines(
        f"""
From: =?utf-8?B?0IjQtdC70LXQvdCw?= <jelena@example.rs>
To: sistem48@grad.test
Subject: {word("Дивља депонија", "utf-8")}
Date: Wed, 18 Mar 2026 09:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

{chr(10).join(out)}
"""
    )


@sample(
    "reply-gmail-serbian.eml",
    "Gmail reply in Serbian Latin: new text above 'Dana … je napisao/la:' and '>' quotes",
    Expected("megan@gmail.example", "Re: [S48-2026-000123] Prijava", "Još nije popravljeno"),
)
def reply_gmail() -> bytes:
    text = (
        "Još nije popravljeno.\n\n"
        "Dana pon, 2. mar 2026. u 10:00 Sistem48 <sistem48@grad.test> je napisao/la:\n\n"
        "> Vaša prijava S48-2026-000123 je primljena.\n>\n"
    )
    return lines(
        f"""
MIME-Version: 1.0
References: <S48-2026-000123@grad.test>
In-Reply-To: <S48-2026-000123@grad.test>
From: Megan <megan@gmail.example>
Date: Tue, 3 Mar 2026 09:00:00 +0100
Message-ID: <CAreply1@mail.gmail.example>
Subject: Re: [S48-2026-000123] Prijava
To: Sistem48 <sistem48@grad.test>
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{qp(text, "utf-8")}
"""
    )


@sample(
    "reply-outlook-header-block.eml",
    "Outlook reply: a header block (Od: / Poslato: / Za: / Tema:) instead of '>' quoting, windows-1250",
    Expected("me@example.rs", "RE: Prijava", "Hvala, sada radi."),
)
def reply_outlook() -> bytes:
    text = (
        "Hvala, sada radi.\r\n\r\n-----Originalna poruka-----\r\nOd: Sistem48 <sistem48@grad.test>\r\n"
        "Poslato: 2. mart 2026. 10:00\r\nZa: me@example.rs\r\nTema: Prijava\r\n\r\n"
        "Vaša prijava je primljena.\r\n"
    )
    return lines(
        f"""
From: <me@example.rs>
To: "Sistem48" <sistem48@grad.test>
Subject: RE: Prijava
Date: Tue, 3 Mar 2026 10:00:00 +0100
Message-ID: <000001d9$aa$bb@example.rs>
MIME-Version: 1.0
Content-Type: text/plain; charset="windows-1250"
Content-Transfer-Encoding: quoted-printable
Thread-Index: AdlZZZZZ

{qp(text.replace(chr(13), ""), "windows-1250")}
""",
        crlf=True,
    )


@sample(
    "reply-android-cyrillic.eml",
    "Android mail in Serbian Cyrillic: 'уто, 3. мар 2026. 10:00 Систем48 <…> је написао:'",
    Expected("bob@example.rs", "Re: Пријава", "Хвала"),
)
def reply_android() -> bytes:
    text = (
        "Хвала\n\nуто, 3. мар 2026. 10:00 Систем48 <sistem48@grad.test> је написао:\n> Пријава је примљена.\n"
    )
    return lines(
        f"""
From: Bob <bob@example.rs>
To: sistem48@grad.test
Subject: {word("Re: Пријава", "utf-8")}
Date: Tue, 3 Mar 2026 11:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64(text.encode())}
"""
    )


@sample(
    "reply-iphone-signature.eml",
    "iPhone reply: 'Poslato sa mog iPhone-a' then 'On … wrote:'",
    Expected("ivan@icloud.example", "Re: Test", "Hvala"),
)
def reply_iphone() -> bytes:
    text = (
        "Hvala\n\nPoslato sa mog iPhone-a\n\n"
        "> On 3 Mar 2026, at 10:00, Sistem48 <sistem48@grad.test> wrote:\n>\n> Primljeno.\n"
    )
    return lines(
        f"""
From: Ivan <ivan@icloud.example>
To: sistem48@grad.test
Subject: Re: Test
Date: Tue, 3 Mar 2026 12:00:00 +0100
Mime-Version: 1.0 (1.0)
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable
X-Mailer: iPhone Mail (21D61)

{qp(text, "utf-8")}
"""
    )


@sample(
    "signed-pgp-mime.eml",
    "PGP/MIME multipart/signed around mixed around alternative, plus a trailing text part",
    Expected("user@example.rs", "Potpisana poruka", "Ovo je običan tekst"),
)
def pgp_signed() -> bytes:
    signature = "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----"
    return lines(
        f"""
From: user@example.rs
To: sistem48@grad.test
Subject: {word("Potpisana poruka", "utf-8")}
Date: Thu, 19 Mar 2026 08:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sig"

--sig
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

{qp("Ovo je običan tekst.", "utf-8")}
--alt
Content-Type: text/html; charset=utf-8

<p>Ovo je HTML.</p>
--alt--
--mix
Content-Type: text/plain; charset=us-ascii

Dodatak.
--mix--
--sig
Content-Type: application/pgp-signature; name="signature.asc"
Content-Disposition: attachment; filename="signature.asc"

{signature}
--sig--
"""
    )


@sample(
    "signed-smime-opaque-no-text.eml",
    "S/MIME detached signature from Outlook: text inside, smime.p7s beside",
    Expected("potpis@example.rs", "S/MIME", "Potpisano sertifikatom"),
)
def smime() -> bytes:
    return lines(
        f"""
From: potpis@example.rs
To: sistem48@grad.test
Subject: S/MIME
Date: Thu, 19 Mar 2026 09:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; micalg=SHA1; boundary="smime"

--smime
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64(b"Potpisano sertifikatom.")}
--smime
Content-Type: application/x-pkcs7-signature; name="smime.p7s"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7s"

{b64(bytes.fromhex("308006092a864886f70d010702a0803080020101") + bytes(40))}
--smime--
""",
        crlf=True,
    )


@sample(
    "mbox-from-line-reply-to-only.eml",
    "An mbox 'From ' line first and no From: header, only Reply-To (a spam tool)",
    Expected("vip@example.cn", "Posebna ponuda", "Poštovani kupče"),
)
def mbox_reply_to() -> bytes:
    return lines(
        f"""
From vip@example.cn  Thu Mar 19 03:00:00 2026
Reply-To: vip@example.cn
To: sistem48@grad.test
Subject: {word("Posebna ponuda", "utf-8")}
Date: Thu, 19 Mar 2026 03:00:00 +0800
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

{b64("<html><body><p>Poštovani kupče, ponuda traje danas.</p></body></html>".encode())}
"""
    )

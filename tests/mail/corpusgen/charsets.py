"""Charsets as Serbian citizens' clients really send them: cp1251, iso-8859-2, KOI8, mislabelled, broken."""

from __future__ import annotations

from tests.mail.corpusgen import Expected, b64, lines, qp, sample, word

CYR = "Поштовани, у улици Његошевој 14 већ три дана не ради јавна расвета. Молим да се поправи."
LAT = "Poštovani, u Ulici Đure Đakovića 7 pukla je cev, voda teče niz ulicu. Ćao, Žika Šarić"


@sample(
    "charset-cp1251-cyrillic-qp.eml",
    "Outlook on a Serbian Windows: Cyrillic in windows-1251, quoted-printable, cp1251 encoded-words",
    Expected("milena.jovic@example.rs", "Јавна расвета", "не ради јавна расвета", sender_name="Милена Јовић"),
)
def cp1251() -> bytes:
    return lines(
        f"""
From: {word("Милена Јовић", "windows-1251")} <milena.jovic@example.rs>
To: sistem48@grad.test
Subject: {word("Јавна расвета, Његошева 14", "windows-1251")}
Date: Mon, 2 Mar 2026 07:12:33 +0100
Message-ID: <000a01d9a1b2$3c4d5e60$@example.rs>
MIME-Version: 1.0
Content-Type: text/plain; charset="windows-1251"
Content-Transfer-Encoding: quoted-printable
X-Mailer: Microsoft Outlook 16.0

{qp(CYR, "windows-1251")}
""",
        crlf=True,
    )


@sample(
    "charset-iso-8859-2-8bit.eml",
    "Thunderbird with a Central-European default: iso-8859-2, raw 8-bit body, Q-encoded subject",
    Expected("zika.saric@example.rs", "Pukla cev u Ulici Đure Đakovića", "voda teče niz ulicu"),
)
def latin2() -> bytes:
    head = lines(
        f"""
From: Zika Saric <zika.saric@example.rs>
To: sistem48@grad.test
Subject: {word("Pukla cev u Ulici Đure Đakovića", "iso-8859-2", "Q")}
Date: Mon, 2 Mar 2026 08:01:00 +0100
Message-ID: <4a5b6c7d.1020304@example.rs>
User-Agent: Mozilla/5.0 (Windows NT 10.0; rv:102.0) Gecko/20100101 Thunderbird/102.9.0
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-2; format=flowed
Content-Transfer-Encoding: 8bit

"""
    )
    return head + LAT.encode("iso-8859-2") + b"\n"


@sample(
    "charset-koi8-r-serbian.eml",
    "An old Linux client set to KOI8-R writing Serbian Cyrillic (only letters KOI8-R has)",
    Expected("stari.linux@example.org", "Канализација", "излива се канализациjа"),
)
def koi8() -> bytes:
    text = "Добар дан, на углу Душанове и Цара Лазара излива се канализациjа. Смрди цела улица."
    # KOI8-R has no ј: Serbian users type the Latin j instead (ASCII, so it survives)
    return (
        lines(
            f"""
From: stari.linux@example.org
To: sistem48@grad.test
Subject: {word("Канализација", "utf-8")} {word("на углу", "koi8-r")}
Date: Tue, 3 Mar 2026 21:40:00 +0100
Message-ID: <20260303204000.GA1234@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=koi8-r
Content-Transfer-Encoding: 8bit
User-Agent: Mutt/1.5.21 (2010-09-15)

"""
        )
        + text.encode("koi8-r")
        + b"\n"
    )


@sample(
    "charset-koi8-display-name-only.eml",
    "KOI8-R spam whose From is a display name without an address",
    Expected(None, "РЕКЛАМА", "ЧТО ТАКОЕ РАССЫЛКА", sender_name="Рекламное агентство"),
)
def koi8_no_address() -> bytes:
    return (
        lines(
            f"""
From: {word("Рекламное агентство", "koi8-r")}
To: sistem48@grad.test
Subject: {word("РЕКЛАМА ДЛЯ ВАС", "koi8-r")}
Date: Wed, 4 Mar 2026 03:11:00 +0300
MIME-Version: 1.0
Content-Type: text/plain; charset="koi8-r"
Content-Transfer-Encoding: 8bit

"""
        )
        + "ЧТО ТАКОЕ РАССЫЛКА? Звоните нам.".encode("koi8-r")
        + b"\n"
    )


@sample(
    "charset-utf8-in-us-ascii-8bit.eml",
    "Declared us-ascii and 8bit, but the body is raw UTF-8 (a broken web form mailer)",
    Expected("forma@opstina.example.rs", "Prijava sa sajta", "Rupa na putu kod škole"),
)
def utf8_as_ascii() -> bytes:
    head = lines(
        """
From: forma@opstina.example.rs
To: sistem48@grad.test
Subject: Prijava sa sajta
Date: Thu, 5 Mar 2026 10:00:00 +0100
Message-ID: <form-8812@opstina.example.rs>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 8bit

"""
    )
    return head + "Rupa na putu kod škole „Vuk Karadžić”, dubina 20 cm.\n".encode()


@sample(
    "charset-mislabelled-latin2-is-utf8.eml",
    "Labelled iso-8859-2 while the bytes are UTF-8 (webmail re-sending a draft)",
    Expected("ana@example.rs", "Smeće", "Kontejner kod zgrade nije ispražnjen"),
)
def mislabelled() -> bytes:
    head = lines(
        f"""
From: Ana <ana@example.rs>
To: sistem48@grad.test
Subject: {word("Smeće u Ulici Vojvode Stepe", "utf-8")}
Date: Thu, 5 Mar 2026 11:20:00 +0100
Message-ID: <draft-77@example.rs>
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-2
Content-Transfer-Encoding: 8bit

"""
    )
    return head + "Kontejner kod zgrade nije ispražnjen već nedelju dana. Đubre je svuda.\n".encode()


@sample(
    "charset-cp1250-declared-latin1.eml",
    "Outlook Express: windows-1250 bytes (š = 0x9A) declared iso-8859-1",
    Expected("marko@example.rs", "Drvo", "Palo drvo", sender_name="Marko Marković"),
)
def cp1250_as_latin1() -> bytes:
    head = lines(
        """
From: "Marko Markovic" <marko@example.rs>
To: <sistem48@grad.test>
Subject: Drvo
Date: Fri, 6 Mar 2026 06:55:00 +0100
Message-ID: <001501c4$a1b2c3d0$0a00a8c0@marko>
MIME-Version: 1.0
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: 8bit
X-Mailer: Microsoft Outlook Express 6.00.2900.5512

""",
        crlf=True,
    ).replace(b"Markovic", "Marković".encode())
    return head + "Palo drvo preko puta, šta da radimo? Marko\r\n".encode("cp1250")


@sample(
    "charset-no-charset-8bit.eml",
    "No Content-Type at all, Latin-1 8-bit body",
    Expected("skywalker@example.com", "no content type", "pc va demasiado rápido"),
)
def no_charset() -> bytes:
    return lines(
        """
From: skywalker@example.com
To: sistem48@grad.test
Subject: no content type but 8bit
Date: Fri, 6 Mar 2026 09:00:00 +0100

"""
    ) + "Hola, el pc va demasiado rápido, señor.\n".encode("latin-1")


@sample(
    "charset-utf7-no-from.eml",
    "A Microsoft server notice: body in UTF-7, no From header, plus-address recipient",
    Expected(None, "Forefront Protection updated", "performed a successful scan engine update"),
)
def utf7() -> bytes:
    body = "Forefront Protection performed a successful scan engine update – ok.".encode("utf-7")
    return (
        lines(
            """
To: sistem48+autoreply=no@grad.test
Subject: Forefront Protection updated the scan engine
Date: Sat, 7 Mar 2026 02:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-7
Content-Transfer-Encoding: 7bit

""",
            crlf=True,
        )
        + body
        + b"\r\n"
    )


@sample(
    "charset-comma-in-encoded-name.eml",
    "An encoded display name containing a comma (Outlook's 'Surname, Name'), folded oddly",
    Expected("jovanovic.m@example.rs", "test", "Ovo je test", sender_name="Jovanović, Milan - MZ Centar"),
)
def comma_name() -> bytes:
    name = word("Jovanović, Milan - MZ Centar", "utf-8", "Q")
    return lines(
        f"""
From: "{name}"
 <jovanovic.m@example.rs>
To: sistem48@grad.test
Subject: test
Date: Sat, 7 Mar 2026 12:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Ovo je test.
"""
    )


@sample(
    "charset-mixed-encoded-words.eml",
    "A subject mixing UTF-8, iso-8859-2 and windows-1251 encoded-words",
    Expected(
        "miks@example.rs",
        "utf8: Šabac / latin2: Čačak / cp1251: Ниш",
        "Tri grada",
        sender_name="Ćira Đokić",
    ),
)
def mixed_words() -> bytes:
    subject = (
        f"utf8: {word('Šabac', 'utf-8')} / latin2: {word('Čačak', 'iso-8859-2', 'Q')}"
        f" / cp1251: {word('Ниш', 'windows-1251')}"
    )
    return lines(
        f"""
From: {word("Ćira ", "iso-8859-2", "Q")} {word("Đokić", "utf-8")} <miks@example.rs>
To: sistem48@grad.test
Subject: {subject}
Date: Sun, 8 Mar 2026 13:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Tri grada, tri kodne strane.
"""
    )


@sample(
    "charset-broken-qp-bytes.eml",
    "Quoted-printable UTF-8 with two truncated sequences (a gateway cut the text)",
    Expected(
        "hirlevel@example.hu",
        "Obaveštenje",
        "Poštovani građani",
        fffd=2,
    ),
)
def broken_qp() -> bytes:
    return lines(
        """
From: hirlevel@example.hu
To: sistem48@grad.test
Subject: =?utf-8?Q?Obave=C5=A1tenje?=
Date: Sun, 8 Mar 2026 14:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Po=C5=A1tovani gra=C4=91ani, voda =C4 nestaje od 9 do 12 =C5 sati.
"""
    )


@sample(
    "charset-8bitmime-cyrillic-alternative.eml",
    "Raw 8-bit UTF-8 Cyrillic in multipart/alternative (8BITMIME)",
    Expected("bob@example.rs", "Два дела", "Превео 123"),
)
def eightbit() -> bytes:
    return lines(
        f"""
From: bob <bob@example.rs>
To: sistem48@grad.test
Subject: {word("Два дела", "utf-8")}
Date: Mon, 9 Mar 2026 08:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="8bit-b"

--8bit-b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

@TEXT@
--8bit-b
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<p>@TEXT@</p>
--8bit-b--
"""
    ).replace(b"@TEXT@", "Превео 123".encode())


@sample(
    "charset-bilingual-subject.eml",
    "Subject mixing Latin and Cyrillic in one UTF-8 encoded-word",
    Expected("hello@example.rs", "Zdravo. Како сте?", "Ovaj red je latinicom / а овај ћирилицом."),
)
def bilingual() -> bytes:
    return lines(
        f"""
From: Hello <hello@example.rs>
To: sistem48@grad.test
Subject: {word("Zdravo. Како сте?", "utf-8")}
Date: Mon, 9 Mar 2026 09:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64("Ovaj red je latinicom / а овај ћирилицом.".encode())}
"""
    )


@sample(
    "charset-apple-mail-many-charsets.eml",
    "Apple Mail: From in windows-1251, RFC 2231 file names in utf-8, iso-8859-2, cp1251 and iso-2022-jp "
    "with a CP50220 character (makes the stdlib parser raise)",
    Expected(
        "boris@example.rs",
        "test čćž",
        "test čćž",
        ("prilog-čćž-utf8.txt", "prilog-čćž-latin2.txt", "Објашњење.jpg", "報告書①.txt"),
        sender_name="Сапожников Борис",
    ),
)
def apple_many() -> bytes:
    jis = "%1B%24B%4A%73%39%70%3D%71%2D%21%1B%28B.txt"  # 報告書① in ISO-2022-JP (NEC row 13)
    return lines(
        f"""
From: {word("Сапожников Борис", "windows-1251")} <boris@example.rs>
To: sistem48@grad.test
Subject: =?utf-8?Q?test_=C4=8D=C4=87=C5=BE?=
Date: Mon, 9 Mar 2026 10:00:00 +0100
Message-Id: <A1B2C3D4-1111-2222-3333-444455556666@example.rs>
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Content-Type: multipart/mixed; boundary="Apple-Mail=_1"

--Apple-Mail=_1
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain; charset=utf-8

test =C4=8D=C4=87=C5=BE
--Apple-Mail=_1
Content-Disposition: attachment; filename*=utf-8''prilog-%C4%8D%C4%87%C5%BE-utf8.txt
Content-Type: text/plain; name*=utf-8''prilog-%C4%8D%C4%87%C5%BE-utf8.txt
Content-Transfer-Encoding: base64

{b64(b"utf8 prilog")}
--Apple-Mail=_1
Content-Disposition: attachment; filename*=iso-8859-2''prilog-%E8%E6%BE-latin2.txt
Content-Type: text/plain; name*=iso-8859-2''prilog-%E8%E6%BE-latin2.txt
Content-Transfer-Encoding: base64

{b64(b"latin2 prilog")}
--Apple-Mail=_1
Content-Disposition: attachment; filename*=windows-1251''%CE%E1%BC%E0%F8%9C%E5%9C%E5.jpg
Content-Type: image/jpeg; name*=windows-1251''%CE%E1%BC%E0%F8%9C%E5%9C%E5.jpg
Content-Transfer-Encoding: base64

{b64(bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9"))}
--Apple-Mail=_1
Content-Disposition: attachment; filename*=iso-2022-jp''{jis}
Content-Type: text/plain; name*=iso-2022-jp''{jis}
Content-Transfer-Encoding: base64

{b64(b"report")}
--Apple-Mail=_1--
"""
    )

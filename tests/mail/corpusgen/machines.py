"""Mail written by machines: bounces of the common MTAs, read receipts, out-of-office, lists."""

from __future__ import annotations

from tests.mail.corpusgen import Expected, b64, lines, sample

OUR_ID = "S48-2026-000123.1741000000@grad.test"
RETURNED = f"""From: Sistem48 <sistem48@grad.test>
To: nepostoji@example.rs
Subject: Prijava S48-2026-000123 je primljena
Date: Mon, 2 Mar 2026 10:00:00 +0100
Message-ID: <{OUR_ID}>
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Va=C5=A1a prijava je primljena."""


def dsn(reporting: str, recipient: str, status: str, diagnostic: str) -> str:
    return (
        f"Reporting-MTA: dns; {reporting}\nArrival-Date: Mon, 2 Mar 2026 10:00:01 +0100\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\nAction: failed\n"
        f"Status: {status}\nRemote-MTA: dns; mx.example.rs\nDiagnostic-Code: smtp; {diagnostic}\n"
    )


@sample(
    "bounce-postfix-dsn.eml",
    "Postfix: multipart/report delivery-status from MAILER-DAEMON with the returned message",
    Expected(
        "mailer-daemon@mx.grad.test",
        "Undelivered Mail Returned to Sender",
        "your message could not",
        auto="bounce",
    ),
)
def postfix() -> bytes:
    return lines(
        f"""
Return-Path: <>
From: MAILER-DAEMON@mx.grad.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: sistem48@grad.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="A1B2C3.1741000001/mx.grad.test"
Message-Id: <20260302090001.A1B2C3@mx.grad.test>
Date: Mon, 2 Mar 2026 10:00:01 +0100 (CET)

This is a MIME-encapsulated message.

--A1B2C3.1741000001/mx.grad.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.grad.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nepostoji@example.rs>: host mx.example.rs[192.0.2.1] said: 550 5.1.1
    <nepostoji@example.rs>: Recipient address rejected: User unknown

--A1B2C3.1741000001/mx.grad.test
Content-Description: Delivery report
Content-Type: message/delivery-status

{dsn("mx.grad.test", "nepostoji@example.rs", "5.1.1", "550 5.1.1 User unknown")}
--A1B2C3.1741000001/mx.grad.test
Content-Description: Undelivered Message
Content-Type: message/rfc822

{RETURNED}

--A1B2C3.1741000001/mx.grad.test--
"""
    )


@sample(
    "bounce-exim-plain.eml",
    "Exim: a plain-text bounce with X-Failed-Recipients, no delivery-status part",
    Expected("mailer-daemon@mail.example.rs", "Mail delivery failed", "permanent error", auto="bounce"),
)
def exim() -> bytes:
    return lines(
        f"""
Return-path: <>
X-Failed-Recipients: nepostoji@example.rs
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mail.example.rs>
To: sistem48@grad.test
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1abcde-0001Xy-Q1@mail.example.rs>
Date: Mon, 02 Mar 2026 10:00:02 +0100

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nepostoji@example.rs
    host mx.example.rs [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<nepostoji@example.rs>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

{RETURNED}
"""
    )


@sample(
    "bounce-sendmail-dsn.eml",
    "Sendmail: 'Returned mail: see transcript for details' with a transcript and text/rfc822-headers",
    Expected("mailer-daemon@relay.example.rs", "Returned mail", "Transcript of session", auto="bounce"),
)
def sendmail() -> bytes:
    return lines(
        f"""
From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.rs>
To: <sistem48@grad.test>
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)
Date: Mon, 2 Mar 2026 10:00:03 +0100
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="622A3B4C.relay.example.rs"

This is a MIME-encapsulated message

--622A3B4C.relay.example.rs

The original message was received at Mon, 2 Mar 2026 10:00:01 +0100
from mx.grad.test [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
<nepostoji@example.rs>
    (reason: 550 5.1.1 <nepostoji@example.rs>... User unknown)

   ----- Transcript of session follows -----
... while talking to mx.example.rs.:
>>> DATA
<<< 550 5.1.1 <nepostoji@example.rs>... User unknown
550 5.1.1 <nepostoji@example.rs>... User unknown

--622A3B4C.relay.example.rs
Content-Type: message/delivery-status

{dsn("relay.example.rs", "nepostoji@example.rs", "5.1.1", "550 5.1.1 User unknown")}
--622A3B4C.relay.example.rs
Content-Type: text/rfc822-headers

Message-ID: <{OUR_ID}>
From: Sistem48 <sistem48@grad.test>
Subject: Prijava S48-2026-000123 je primljena

--622A3B4C.relay.example.rs--
""",
        crlf=True,
    )


@sample(
    "bounce-exchange-online-ndr.eml",
    "Exchange Online NDR: 'Undeliverable:', HTML and text, delivery-status with 5.1.10",
    Expected(
        "postmaster@example.onmicrosoft.test", "Undeliverable: Prijava", "nepostoji@example.rs", auto="bounce"
    ),
)
def exchange() -> bytes:
    html = (
        "<html><body><p><b>Your message to nepostoji@example.rs couldn't be delivered.</b></p>"
        "<p>nepostoji wasn't found at example.rs.</p></body></html>"
    )
    return lines(
        f"""
From: postmaster@example.onmicrosoft.test
To: <sistem48@grad.test>
Date: Mon, 2 Mar 2026 09:00:04 +0000
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="a1b2c3d4-e5f6-0000-1111-222233334444"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <a1b2c3d4@AM0PR01MB0001.eurprd01.prod.exchangelabs.com>
In-Reply-To: <{OUR_ID}>
References: <{OUR_ID}>
Subject: Undeliverable: Prijava S48-2026-000123 je primljena
Auto-Submitted: auto-replied
MIME-Version: 1.0

--a1b2c3d4-e5f6-0000-1111-222233334444
Content-Type: multipart/alternative; differences=Content-Type;
\tboundary="b2c3d4e5-f6a7-0000-1111-222233334444"

--b2c3d4e5-f6a7-0000-1111-222233334444
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Your message to nepostoji@example.rs couldn't be delivered.
nepostoji wasn't found at example.rs.

--b2c3d4e5-f6a7-0000-1111-222233334444
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

{html}

--b2c3d4e5-f6a7-0000-1111-222233334444--

--a1b2c3d4-e5f6-0000-1111-222233334444
Content-Type: message/delivery-status

{
            dsn(
                "AM0PR01MB0001.eurprd01.prod.exchangelabs.com",
                "nepostoji@example.rs",
                "5.1.10",
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            )
        }
--a1b2c3d4-e5f6-0000-1111-222233334444
Content-Type: message/rfc822

{RETURNED}

--a1b2c3d4-e5f6-0000-1111-222233334444--
""",
        crlf=True,
    )


@sample(
    "bounce-gmail-dsn.eml",
    "Gmail: 'Delivery Status Notification (Failure)' from mailer-daemon@googlemail",
    Expected(
        "mailer-daemon@googlemail.example",
        "Delivery Status Notification (Failure)",
        "Address not found",
        auto="bounce",
    ),
)
def gmail() -> bytes:
    return lines(
        f"""
MIME-Version: 1.0
From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>
To: sistem48@grad.test
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
References: <{OUR_ID}>
In-Reply-To: <{OUR_ID}>
X-Failed-Recipients: nepostoji@gmail.example
Message-ID: <65f1a2b3.050a0220.1.abcd.GMR@mx.google.example>
Date: Mon, 02 Mar 2026 01:00:05 -0800 (PST)
Content-Type: multipart/report; boundary="00000000000011112222"; report-type=delivery-status

--00000000000011112222
Content-Type: multipart/related; boundary="00000000000011113333"

--00000000000011113333
Content-Type: multipart/alternative; boundary="00000000000011114444"

--00000000000011114444
Content-Type: text/plain; charset="UTF-8"


** Address not found **

Your message wasn't delivered to nepostoji@gmail.example because the address couldn't be found.

--00000000000011114444
Content-Type: text/html; charset="UTF-8"

<html><body><h2>Address not found</h2></body></html>
--00000000000011114444--
--00000000000011113333--
--00000000000011112222
Content-Type: message/delivery-status

{dsn("gmail.example", "nepostoji@gmail.example", "5.1.1", "550-5.1.1 The email account does not exist.")}
--00000000000011112222
Content-Type: message/rfc822

{RETURNED}

--00000000000011112222--
"""
    )


@sample(
    "bounce-qmail-failure-notice.eml",
    "qmail: 'failure notice', plain text from MAILER-DAEMON, the original after a marker line",
    Expected("mailer-daemon@qmail.example.rs", "failure notice", "qmail-send program", auto="bounce"),
)
def qmail() -> bytes:
    return lines(
        f"""
Return-Path: <>
Date: 2 Mar 2026 09:00:06 -0000
From: MAILER-DAEMON@qmail.example.rs
To: sistem48@grad.test
Subject: failure notice

Hi. This is the qmail-send program at qmail.example.rs.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nepostoji@example.rs>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

{RETURNED}
"""
    )


@sample(
    "bounce-amavis-banned-empty-from.eml",
    "amavis 'BANNED FILENAME ALERT' DSN whose From has an empty address",
    Expected(None, "Banned file: racun.pdf.exe", "BANNED FILENAME ALERT", auto="bounce"),
)
def amavis() -> bytes:
    return lines(
        f"""
From: "MAILER DAEMON" <>
To: <sistem48@grad.test>
Subject: Banned file: racun.pdf.exe in mail from you
Date: Mon, 2 Mar 2026 10:00:07 +0100
Message-ID: <VA12345-67@filter.example.rs>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="----------=_1741"

------------=_1741
Content-Type: text/plain; charset="iso-8859-1"

BANNED FILENAME ALERT

Your message to: nepostoji@example.rs
was blocked by our Spam Firewall.

------------=_1741
Content-Type: message/delivery-status

{dsn("filter.example.rs", "nepostoji@example.rs", "5.7.0", "554 5.7.0 Reject - BANNED: racun.pdf.exe")}
------------=_1741
Content-Type: text/rfc822-headers

Message-ID: <{OUR_ID}>

------------=_1741--
"""
    )


@sample(
    "mdn-rfc3798-read-receipt.eml",
    "RFC 3798 read receipt (Thunderbird): multipart/report disposition-notification",
    Expected("joe@example.rs", "Potvrda o prijemu", "has been displayed", auto="mdn"),
)
def mdn() -> bytes:
    return lines(
        f"""
From: Joe <joe@example.rs>
To: sistem48@grad.test
Subject: =?utf-8?Q?Potvrda_o_prijemu_(prikazano)_-_Prijava?=
Date: Mon, 2 Mar 2026 11:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"

--mdn
Content-Type: text/plain; charset=utf-8

The message sent on 2.3.2026. to joe@example.rs has been displayed.

--mdn
Content-Type: message/disposition-notification

Reporting-UA: example.rs; Thunderbird 115.8.0
Final-Recipient: rfc822;joe@example.rs
Original-Message-ID: <{OUR_ID}>
Disposition: manual-action/MDN-sent-manually; displayed

--mdn
Content-Type: text/rfc822-headers

Message-ID: <{OUR_ID}>

--mdn--
"""
    )


@sample(
    "mdn-outlook-read.eml",
    "Outlook 'Pročitano:' receipt: a disposition-notification part inside a plain multipart/report",
    Expected("referent@firma.example.rs", "Pročitano: Prijava", "Vaša poruka", auto="mdn"),
)
def outlook_read() -> bytes:
    return lines(
        f"""
From: Referent <referent@firma.example.rs>
To: <sistem48@grad.test>
Subject: =?utf-8?Q?Pro=C4=8Ditano:_Prijava_S48-2026-000123?=
Date: Mon, 2 Mar 2026 12:00:00 +0100
Message-ID: <read-1@firma.example.rs>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification;
\tboundary="----=_NextPart_read"

------=_NextPart_read
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

{b64("Vaša poruka je pročitana 2.3.2026. u 12:00.".encode())}

------=_NextPart_read
Content-Type: message/disposition-notification

Reporting-UA: firma.example.rs; Microsoft Exchange Server
Final-Recipient: rfc822;referent@firma.example.rs
Original-Message-ID: <{OUR_ID}>
Disposition: automatic-action/MDN-sent-automatically; displayed

------=_NextPart_read--
""",
        crlf=True,
    )


@sample(
    "auto-reply-out-of-office-serbian.eml",
    "Exchange out-of-office in Serbian with Auto-Submitted: auto-replied",
    Expected("nacelnik@firma.example.rs", "Automatski odgovor", "van kancelarije", auto="auto-replied"),
)
def out_of_office() -> bytes:
    return lines(
        f"""
From: Nacelnik <nacelnik@firma.example.rs>
To: Sistem48 <sistem48@grad.test>
Subject: Automatski odgovor: Prijava S48-2026-000123
Date: Mon, 2 Mar 2026 10:00:09 +0100
Message-ID: <oof-1@firma.example.rs>
In-Reply-To: <{OUR_ID}>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

{b64(b"Do 10. marta sam van kancelarije.")}
""",
        crlf=True,
    )


@sample(
    "auto-reply-vacation-precedence.eml",
    "A Sieve/vacation responder marking itself only with Precedence: bulk",
    Expected("odmor@example.rs", "Odmor", "Na odmoru sam", auto="auto-generated"),
)
def vacation() -> bytes:
    return lines(
        """
From: odmor@example.rs
To: sistem48@grad.test
Subject: Odmor
Precedence: bulk
Date: Mon, 2 Mar 2026 10:00:10 +0100
Content-Type: text/plain; charset=utf-8

Na odmoru sam do ponedeljka.
"""
    )


@sample(
    "list-newsletter-html.eml",
    "A mailing-list newsletter: List-Id, List-Unsubscribe, HTML-only",
    Expected("bilten@udruzenje.example.rs", "Bilten", "Akcija čišćenja", auto="auto-generated"),
)
def newsletter() -> bytes:
    html = "<html><body><h1>Bilten</h1><p>Akcija čišćenja obale u subotu.</p></body></html>"
    return lines(
        f"""
From: Udruzenje <bilten@udruzenje.example.rs>
To: sistem48@grad.test
Subject: Bilten za mart
Date: Mon, 2 Mar 2026 06:00:00 +0100
List-Id: Bilten <bilten.udruzenje.example.rs>
List-Unsubscribe: <https://udruzenje.example.rs/odjava>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

{b64(html.encode())}
"""
    )

"""MailChannel against a real smtplib client on 127.0.0.1."""

from __future__ import annotations

import asyncio
import smtplib
import socket
from email.message import EmailMessage

import pytest

from channels.base import (
    Channel,
    ChannelMisconfigured,
    ChannelState,
    ChannelUnavailable,
    DeliveryState,
)
from mail.channel import MailChannel
from tests.mail.conftest import (
    CORPUS,
    RecordingInbox,
    channel_settings,
    citizen_mail,
    running_channel,
    smtp_client,
)
from tests.mail.corpusgen.machines import OUR_ID

pytestmark = pytest.mark.anyio


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _send(
    port: int, raw: bytes, *, mail_from: str = "petar@example.org", rcpt: str = "sistem48@grad.test"
) -> None:
    with smtp_client(port) as client:
        client.sendmail(mail_from, [rcpt], raw)


async def test_mail_channel_implements_the_channel_protocol(inbox: RecordingInbox) -> None:
    async with running_channel(inbox) as channel:
        assert isinstance(channel, Channel)
        status = channel.status()
        assert status.name == "mail"
        assert status.state == ChannelState.UP
        assert channel.port > 0
    assert channel.status().state == ChannelState.STOPPED


async def test_accepted_mail_reaches_the_inbox_before_the_250(inbox: RecordingInbox) -> None:
    inbox.gate = asyncio.Event()
    async with running_channel(inbox) as channel:
        sending = asyncio.create_task(asyncio.to_thread(_send, channel.port, citizen_mail()))
        await asyncio.wait_for(inbox.entered.wait(), 10)
        await asyncio.sleep(0.3)
        assert not sending.done(), "the client got its reply while ingest was still running"
        assert inbox.contacts == []
        inbox.gate.set()
        await asyncio.wait_for(sending, 10)
    assert len(inbox.contacts) == 1
    contact = inbox.contacts[0]
    assert contact.sender == "petar@example.org"
    assert contact.sender_name == "Petar Petrović"
    assert contact.subject == "Prijava kvara"
    assert "Kralja Petra 12" in contact.body
    assert contact.external_id == "citizen-1@example.org"
    assert contact.raw is not None and b"Kralja Petra 12" in contact.raw
    assert contact.meta["envelope_from"] == "petar@example.org"
    assert contact.meta["rcpt_to"] == "sistem48@grad.test"
    assert contact.meta["peer"] == "127.0.0.1"
    assert contact.received_at.tzinfo is not None


async def test_raw_bytes_are_kept_exactly_as_received(inbox: RecordingInbox) -> None:
    raw = _crlf((CORPUS / "charset-apple-mail-many-charsets.eml").read_bytes())
    async with running_channel(inbox, channel_settings(max_message_bytes=2_000_000)) as channel:
        await asyncio.to_thread(_send, channel.port, raw)
    assert inbox.contacts[0].raw == raw


async def test_open_relay_is_refused_with_550_5_1_1(inbox: RecordingInbox) -> None:
    async with running_channel(inbox) as channel:

        def probe() -> list[tuple[int, bytes]]:
            with smtp_client(channel.port) as client:
                client.mail("spammer@evil.example")
                return [
                    client.rcpt("victim@elsewhere.example"),
                    client.rcpt("postmaster@evil.example"),
                    client.rcpt("sistem48@grad.test.evil.example"),
                    client.rcpt("sistem48+S48-2026-000123@grad.test"),
                    client.rcpt("SISTEM48@GRAD.TEST"),
                ]

        replies = await asyncio.to_thread(probe)
    assert [code for code, _ in replies] == [550, 550, 550, 250, 250]
    assert replies[0][1].startswith(b"5.1.1")
    assert inbox.contacts == []


async def test_configured_domain_accepts_any_local_part(inbox: RecordingInbox) -> None:
    settings = channel_settings(accept_domains=["prijave.grad.test"])
    async with running_channel(inbox, settings) as channel:
        await asyncio.to_thread(
            _send,
            channel.port,
            citizen_mail(to="komunalno@prijave.grad.test"),
            rcpt="komunalno@prijave.grad.test",
        )
    assert inbox.contacts[0].meta["rcpt_to"] == "komunalno@prijave.grad.test"


async def test_plus_address_token_becomes_a_thread_hint(inbox: RecordingInbox) -> None:
    async with running_channel(inbox) as channel:
        await asyncio.to_thread(
            _send,
            channel.port,
            citizen_mail(subject="Re: [S48-2026-000123] Prijava"),
            rcpt="sistem48+t2026000123-abcd1234@grad.test",
        )
    hints = inbox.contacts[0].thread_hints
    assert "t2026000123-abcd1234" in hints
    assert "S48-2026-000123" in hints


async def test_oversize_is_refused_552_at_mail_from_size(inbox: RecordingInbox) -> None:
    async with running_channel(inbox, channel_settings(max_message_bytes=10_000)) as channel:

        def probe() -> tuple[int, bytes]:
            with smtp_client(channel.port) as client:
                assert client.has_extn("size")
                return client.mail("petar@example.org", options=["SIZE=999999"])

        code, _ = await asyncio.to_thread(probe)
    assert code == 552


async def test_oversize_is_refused_552_after_data(inbox: RecordingInbox) -> None:
    big = citizen_mail("x" * 70 + "\n" * 1)
    big = big + (b"y" * 70 + b"\r\n") * 300
    async with running_channel(inbox, channel_settings(max_message_bytes=10_000)) as channel:

        def probe() -> tuple[int, bytes]:
            with smtp_client(channel.port) as client:
                client.mail("petar@example.org")
                client.rcpt("sistem48@grad.test")
                return client.data(big)

        code, _ = await asyncio.to_thread(probe)
    assert code == 552
    assert inbox.contacts == []


async def test_lines_of_1500_bytes_are_accepted(inbox: RecordingInbox) -> None:
    msg = EmailMessage()
    msg["From"] = "petar@example.org"
    msg["To"] = "sistem48@grad.test"
    msg["Subject"] = "Dugačka linija"
    msg["Message-ID"] = "<long-line@example.org>"
    long_line = "<p>" + "Rupa " * 300 + "</p>"
    msg.set_content(long_line, subtype="html", cte="8bit")
    raw = msg.as_bytes()
    assert max(len(line) for line in raw.split(b"\n")) >= 1500
    async with running_channel(inbox) as channel:
        await asyncio.to_thread(_send, channel.port, raw)
    assert inbox.contacts[0].body.startswith("Rupa Rupa")
    assert "<p>" not in inbox.contacts[0].body


async def test_inbox_failure_answers_451_and_the_session_stays_usable(
    inbox: RecordingInbox,
) -> None:
    inbox.failures_left = 1
    async with running_channel(inbox) as channel:

        def probe() -> tuple[tuple[int, bytes], tuple[int, bytes], tuple[int, bytes]]:
            with smtp_client(channel.port) as client:
                client.mail("petar@example.org")
                client.rcpt("sistem48@grad.test")
                first = client.data(citizen_mail())
                again = client.mail("petar@example.org")
                client.rcpt("sistem48@grad.test")
                second = client.data(citizen_mail())
                return first, again, second

        first, again, second = await asyncio.to_thread(probe)
    assert first[0] == 451
    assert first[1].startswith(b"4.3.0")
    assert b"database" not in first[1]
    assert again[0] == 250
    assert second[0] == 250
    assert len(inbox.contacts) == 1
    assert channel.status().metrics["temp_failed"] == 1
    assert channel.status().metrics["accepted"] == 1


async def test_malformed_mail_is_ingested_with_a_quarantine_reason(inbox: RecordingInbox) -> None:
    garbage = b"\x00\x01\x02 this is not a mail at all \xff\xfe\r\n\r\n\x00\x00\r\n"
    async with running_channel(inbox) as channel:
        await asyncio.to_thread(_send, channel.port, garbage)
    contact = inbox.contacts[0]
    assert contact.meta["quarantine"]
    assert contact.raw == garbage
    assert contact.external_id.startswith("sha256:")
    assert contact.meta["suppress_ack"] == "1"


async def test_corpus_mail_that_breaks_the_stdlib_parser_is_accepted(inbox: RecordingInbox) -> None:
    raw = _crlf((CORPUS / "charset-apple-mail-many-charsets.eml").read_bytes())
    async with running_channel(inbox, channel_settings(max_message_bytes=2_000_000)) as channel:
        await asyncio.to_thread(_send, channel.port, raw, mail_from="boris@example.rs")
    contact = inbox.contacts[0]
    assert contact.subject == "test čćž"
    assert "Објашњење.jpg" in [a.filename for a in contact.attachments]


async def test_bounce_is_ingested_and_reported_as_a_failed_delivery(inbox: RecordingInbox) -> None:
    raw = _crlf((CORPUS / "bounce-postfix-dsn.eml").read_bytes())
    async with running_channel(inbox) as channel:
        await asyncio.to_thread(_send, channel.port, raw, mail_from="<>")
    contact = inbox.contacts[0]
    assert contact.meta["auto"] == "bounce"
    assert contact.meta["suppress_ack"] == "1"
    [report] = inbox.deliveries
    assert report.recipient == "nepostoji@example.rs"
    assert report.state == DeliveryState.FAILED
    assert report.provider_ref == OUR_ID
    assert "5.1.1" in report.detail


async def test_null_envelope_sender_suppresses_the_acknowledgement(inbox: RecordingInbox) -> None:
    async with running_channel(inbox) as channel:
        await asyncio.to_thread(_send, channel.port, citizen_mail(), mail_from="")
    contact = inbox.contacts[0]
    assert contact.meta["suppress_ack"] == "1"
    assert contact.meta["auto"] == ""


async def test_auto_reply_is_classified_and_ack_suppressed(inbox: RecordingInbox) -> None:
    raw = citizen_mail(
        "I am out of the office until Monday.",
        subject="Automatic reply: Vaša prijava",
        extra_headers={"Auto-Submitted": "auto-replied"},
    )
    async with running_channel(inbox) as channel:
        await asyncio.to_thread(_send, channel.port, raw)
    assert inbox.contacts[0].meta["auto"] == "auto-replied"
    assert inbox.contacts[0].meta["suppress_ack"] == "1"


async def test_sessions_per_ip_are_capped(inbox: RecordingInbox) -> None:
    async with running_channel(inbox, channel_settings(max_sessions_per_ip=2)) as channel:

        def probe() -> bytes:
            first, second = smtp_client(channel.port), smtp_client(channel.port)
            with socket.create_connection(("127.0.0.1", channel.port), timeout=5) as third:
                greeting = third.recv(200)
            first.quit()
            second.quit()
            return greeting

        greeting = await asyncio.to_thread(probe)
        assert greeting.startswith(b"421")
        await asyncio.sleep(0.1)
        await asyncio.to_thread(_send, channel.port, citizen_mail())
    assert len(inbox.contacts) == 1


async def test_start_on_a_taken_port_raises_unavailable_and_shows_down(inbox: RecordingInbox) -> None:
    # Another process may free the port: the supervisor retries (channels.base.listen_failed).
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        channel = MailChannel(channel_settings(listen_port=port))
        with pytest.raises(ChannelUnavailable):
            await channel.start(inbox)
        assert channel.status().state == ChannelState.DOWN
        await channel.stop()


async def test_start_on_an_address_this_host_lacks_raises_misconfigured(inbox: RecordingInbox) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): no interface has it, so the bind can never succeed here.
    channel = MailChannel(channel_settings(listen_host="192.0.2.1"))
    with pytest.raises(ChannelMisconfigured):
        await channel.start(inbox)
    assert channel.status().state == ChannelState.MISCONFIGURED
    await channel.stop()


async def test_stop_is_idempotent_and_closes_open_sessions(inbox: RecordingInbox) -> None:
    channel = MailChannel(channel_settings())
    await channel.start(inbox)
    client = await asyncio.to_thread(smtp_client, channel.port)
    await channel.stop()
    await channel.stop()

    def next_command() -> None:
        client.noop()

    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError, OSError)):
        await asyncio.to_thread(next_command)


async def test_session_deadline_closes_a_slow_client(inbox: RecordingInbox) -> None:
    async with running_channel(inbox, channel_settings(session_deadline_s=0.5)) as channel:

        def trickle() -> type[BaseException] | None:
            client = smtp_client(channel.port)
            try:
                for _ in range(20):
                    client.noop()
                    import time

                    time.sleep(0.1)
            except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                return type(exc)
            finally:
                client.close()
            return None

        error = await asyncio.to_thread(trickle)
    assert error is not None


async def test_internal_error_outside_data_answers_421_not_500(
    inbox: RecordingInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_channel(inbox) as channel:

        def broken(address: str) -> bool:
            raise RuntimeError("secret internal detail")

        monkeypatch.setattr(channel, "accepts", broken)

        def probe() -> tuple[int, bytes]:
            with smtp_client(channel.port) as client:
                client.mail("petar@example.org")
                return client.rcpt("sistem48@grad.test")

        code, text = await asyncio.to_thread(probe)
    assert code == 421
    assert b"secret" not in text


async def test_aiosmtpd_command_log_is_kept_below_info(inbox: RecordingInbox) -> None:
    import logging

    async with running_channel(inbox):
        assert not logging.getLogger("mail.log").isEnabledFor(logging.INFO)

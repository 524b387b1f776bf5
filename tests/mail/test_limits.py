"""Per-client SMTP limits: connection and message rates per address, address harvesting cut off,
and the trusted relay (the municipal MX) exempt from all of them."""

from __future__ import annotations

import asyncio
import smtplib

import pytest

from tests.mail.conftest import RecordingInbox, channel_settings, citizen_mail, running_channel, smtp_client

pytestmark = pytest.mark.anyio

UNTRUSTED = {"trusted_relays": []}  # the tests connect from 127.0.0.1, trusted by default


def _connect_codes(port: int, count: int) -> list[int]:
    codes = []
    for _ in range(count):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                codes.append(client.noop()[0])
        except smtplib.SMTPConnectError as exc:
            codes.append(exc.smtp_code)
        except smtplib.SMTPServerDisconnected:
            codes.append(421)
    return codes


async def test_a_client_over_its_connections_per_minute_gets_421(inbox: RecordingInbox) -> None:
    settings = channel_settings(**UNTRUSTED, connections_per_minute=3)
    async with running_channel(inbox, settings) as channel:
        codes = await asyncio.to_thread(_connect_codes, channel.port, 5)
    assert codes == [250, 250, 250, 421, 421]


async def test_the_trusted_relay_is_not_limited(inbox: RecordingInbox) -> None:
    settings = channel_settings(connections_per_minute=3, messages_per_hour=2)
    async with running_channel(inbox, settings) as channel:
        codes = await asyncio.to_thread(_connect_codes, channel.port, 5)

        def send_five() -> None:
            with smtp_client(channel.port) as client:
                for n in range(5):
                    raw = citizen_mail(message_id=f"<relay-{n}@example.org>")
                    client.sendmail("petar@example.org", ["sistem48@grad.test"], raw)

        await asyncio.to_thread(send_five)
    assert codes == [250] * 5
    assert len(inbox.contacts) == 5


async def test_a_client_over_its_messages_per_hour_gets_451_and_loses_nothing(inbox: RecordingInbox) -> None:
    settings = channel_settings(**UNTRUSTED, messages_per_hour=2)
    async with running_channel(inbox, settings) as channel:

        def send_three() -> smtplib.SMTPSenderRefused:
            with smtp_client(channel.port) as client:
                for n in range(2):
                    raw = citizen_mail(message_id=f"<rate-{n}@example.org>")
                    client.sendmail("petar@example.org", ["sistem48@grad.test"], raw)
                with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                    client.sendmail("petar@example.org", ["sistem48@grad.test"], citizen_mail())
                # A temporary refusal: the session goes on (RSET, NOOP work), the sender retries later.
                assert client.noop()[0] == 250
                return refused.value

        refused = await asyncio.to_thread(send_three)
    assert refused.smtp_code == 451
    assert b"4.7.1" in refused.smtp_error
    assert len(inbox.contacts) == 2
    assert channel.status().metrics["rate_limited"] == 1


async def test_guessing_addresses_is_cut_off_after_a_few_unknown_recipients(inbox: RecordingInbox) -> None:
    settings = channel_settings(**UNTRUSTED, max_unknown_recipients=3)
    async with running_channel(inbox, settings) as channel:

        def harvest() -> list[int]:
            codes = []
            client = smtp_client(channel.port)
            client.mail("spammer@example.net")
            for name in ("admin", "info", "office", "gradonacelnik", "sistem48"):
                try:
                    codes.append(client.rcpt(f"{name}@grad.test")[0])
                except smtplib.SMTPServerDisconnected:
                    codes.append(-1)
            client.close()
            return codes

        codes = await asyncio.to_thread(harvest)
    # After the cut-off even the real address is not confirmed: the connection is gone.
    assert codes[:3] == [550, 550, 550]
    assert codes[3] == 421
    assert codes[4] == -1
    assert inbox.contacts == []

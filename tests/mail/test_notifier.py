"""MailNotifier against a real aiosmtpd relay that collects what it is sent."""

from __future__ import annotations

import email
import socket
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from channels.base import Attachment, ChannelKind, DeliveryFailed, Notification
from mail.notifier import MailNotifier
from mail.parse import parse_message
from mail.settings import MailRelaySettings, MailSettings
from tests.mail.conftest import CollectingRelay, running_relay

pytestmark = pytest.mark.anyio

FIXED_NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _notification(**overrides: object) -> Notification:
    values: dict[str, object] = {
        "outbox_id": 7,
        "channel": ChannelKind.EMAIL,
        "recipient": "petar@example.org",
        "body": "Vaša prijava je primljena pod brojem S48-2026-000123.",
        "subject": "[S48-2026-000123] Prijava primljena",
        "ticket_reference": "S48-2026-000123",
        "automatic": True,
        "in_reply_to": "<citizen-1@example.org>",
        "references": ("<older@example.org>", "<citizen-1@example.org>"),
        "message_id": "<S48-2026-000123.abc.0123456789@grad.test>",
    }
    values.update(overrides)
    return Notification(**values)  # type: ignore[arg-type]


def _notifier(relay_settings: MailRelaySettings) -> MailNotifier:
    settings = MailSettings(
        from_address="sistem48@grad.test",
        from_name="Sistem 48",
        relay=relay_settings,
    )
    return MailNotifier(settings, clock=lambda: FIXED_NOW)


def _received(relay: CollectingRelay) -> EmailMessage:
    [(_, _, raw)] = relay.received
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


async def test_acknowledgement_headers_arrive_at_the_relay() -> None:
    relay = CollectingRelay()
    async with running_relay(relay) as relay_settings:
        receipt = await _notifier(relay_settings).send(
            _notification(meta={"reply_to": "sistem48+t1-abc@grad.test"})
        )
    mail_from, rcpt_tos, _ = relay.received[0]
    msg = _received(relay)
    assert mail_from == "sistem48@grad.test"
    assert rcpt_tos == ["petar@example.org"]
    assert msg["Message-ID"] == "<S48-2026-000123.abc.0123456789@grad.test>"
    assert msg["In-Reply-To"] == "<citizen-1@example.org>"
    assert msg["References"] == "<older@example.org> <citizen-1@example.org>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Reply-To"] == "sistem48+t1-abc@grad.test"
    assert msg["From"] == "Sistem 48 <sistem48@grad.test>"
    assert msg["Date"].datetime == FIXED_NOW
    assert receipt.provider_ref == "S48-2026-000123.abc.0123456789@grad.test"


async def test_our_acknowledgement_is_classified_as_automatic_when_it_comes_back() -> None:
    relay = CollectingRelay()
    async with running_relay(relay) as relay_settings:
        await _notifier(relay_settings).send(_notification())
    parsed = parse_message(relay.received[0][2])
    assert parsed.auto == "auto-replied"
    assert parsed.suppress_ack


async def test_a_persons_reply_is_not_marked_automatic() -> None:
    relay = CollectingRelay()
    async with running_relay(relay) as relay_settings:
        await _notifier(relay_settings).send(_notification(automatic=False, message_id=None))
    msg = _received(relay)
    assert msg["Auto-Submitted"] is None
    assert msg["X-Auto-Response-Suppress"] is None
    assert msg["Message-ID"].endswith("@grad.test>")


async def test_cyrillic_subject_and_body_round_trip() -> None:
    relay = CollectingRelay()
    subject = "[S48-2026-000123] Ваша пријава је примљена — Чачак"
    body = "Поштовани,\nваша пријава о рупи у улици Кнеза Милоша је примљена.\nЂорђе Жујовић"
    async with running_relay(relay) as relay_settings:
        await _notifier(relay_settings).send(_notification(subject=subject, body=body))
    raw = relay.received[0][2]
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = _received(relay)
    assert msg["Subject"] == subject
    part = msg.get_body(("plain",))
    assert part is not None
    assert part.get_content().replace("\r\n", "\n").rstrip("\n") == body
    assert part.get_content_charset() == "utf-8"
    parsed = parse_message(raw)
    assert parsed.subject == subject
    assert parsed.body == body


async def test_attachments_are_sent_with_their_type_and_name() -> None:
    relay = CollectingRelay()
    photo = Attachment("posle-popravke.jpg", "image/jpeg", b"\xff\xd8\xff\xe0fake-jpeg-bytes")
    async with running_relay(relay) as relay_settings:
        await _notifier(relay_settings).send(_notification(attachments=(photo,)))
    parsed = parse_message(relay.received[0][2])
    [received] = parsed.attachments
    assert received.filename == "posle-popravke.jpg"
    assert received.content_type == "image/jpeg"
    assert received.data == photo.data


@pytest.mark.parametrize(
    ("where", "reply", "permanent"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy, try later", False),
        ("rcpt", "550 5.1.1 No such user", True),
        ("data", "451 4.3.0 Temporary local problem", False),
        ("data", "554 5.7.1 Rejected as spam", True),
    ],
)
async def test_relay_codes_map_to_temporary_or_permanent_failure(
    where: str, reply: str, permanent: bool
) -> None:
    relay = CollectingRelay(
        rcpt_reply=reply if where == "rcpt" else None, data_reply=reply if where == "data" else None
    )
    async with running_relay(relay) as relay_settings:
        with pytest.raises(DeliveryFailed) as failure:
            await _notifier(relay_settings).send(_notification())
    assert failure.value.permanent is permanent
    assert relay.received == []


async def test_unreachable_relay_is_a_temporary_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryFailed) as failure:
        await _notifier(MailRelaySettings(host="127.0.0.1", port=port, timeout_s=2)).send(_notification())
    assert failure.value.permanent is False


async def test_missing_relay_password_is_a_temporary_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SISTEM48_TEST_NO_SUCH_PASSWORD", raising=False)
    settings = MailRelaySettings(port=1, username="gateway", password_env="SISTEM48_TEST_NO_SUCH_PASSWORD")
    with pytest.raises(DeliveryFailed) as failure:
        await _notifier(settings).send(_notification())
    assert failure.value.permanent is False
    assert "SISTEM48_TEST_NO_SUCH_PASSWORD" in failure.value.reason


async def test_header_injection_is_refused_permanently_without_sending() -> None:
    relay = CollectingRelay()
    async with running_relay(relay) as relay_settings:
        with pytest.raises(DeliveryFailed) as failure:
            await _notifier(relay_settings).send(
                _notification(recipient="petar@example.org\r\nBcc: everyone@example.org")
            )
    assert failure.value.permanent is True
    assert "cannot be built" in failure.value.reason
    assert relay.received == []


def test_directory_delivery_writes_one_eml_per_message(tmp_path: Path) -> None:
    import asyncio
    import email
    import email.policy

    from channels.base import ChannelKind, Notification
    from mail.notifier import MailNotifier
    from mail.settings import MailRelaySettings, MailSettings

    settings = MailSettings(relay=MailRelaySettings(deliver_to="directory", directory=tmp_path / "out"))
    n = Notification(
        outbox_id=7,
        channel=ChannelKind.EMAIL,
        recipient="pera@example.rs",
        body="Пријава је примљена.",
        subject="[S48-2026-000001] Prijava primljena",
        message_id="<S48-2026-000001.ab.cd@sistem48.localhost>",
    )
    receipt = asyncio.run(MailNotifier(settings).send(n))
    files = list((tmp_path / "out").glob("*.eml"))
    assert len(files) == 1 and receipt is not None
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "pera@example.rs" and "Пријава" in msg.get_body().get_content()  # type: ignore[union-attr]
    assert receipt.provider_ref == "S48-2026-000001.ab.cd@sistem48.localhost"

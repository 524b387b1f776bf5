"""The parser never raises on hostile input, and STARTTLS works with configured cert/key paths."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import ChannelMisconfigured, ChannelState
from mail.channel import MailChannel
from mail.intake import contact_from_bytes
from mail.parse import parse_message
from tests.mail.conftest import (
    CORPUS,
    RecordingInbox,
    channel_settings,
    citizen_mail,
    running_channel,
)

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SEEDS = [p.read_bytes()[:6000] for p in sorted(CORPUS.glob("*.eml"))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes_never_make_the_parser_raise(raw: bytes) -> None:
    contact = contact_from_bytes(raw, received_at=NOW, mail_from="<>")
    assert contact.raw == raw
    assert contact.external_id


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.integers(min_value=0, max_value=5999),
    st.binary(min_size=1, max_size=40),
)
def test_corrupted_corpus_mail_never_makes_the_parser_raise(seed: bytes, at: int, junk: bytes) -> None:
    at = min(at, len(seed))
    parsed = parse_message(seed[:at] + junk + seed[at + len(junk) :])
    assert isinstance(parsed.body, str)
    assert isinstance(parsed.subject, str)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=sistem48.localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.anyio
async def test_starttls_is_offered_and_mail_is_accepted_over_tls(
    inbox: RecordingInbox, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    settings_ = channel_settings(tls_cert=cert, tls_key=key)
    async with running_channel(inbox, settings_) as channel:

        def send() -> str:
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            with smtplib.SMTP("127.0.0.1", channel.port, timeout=10) as client:
                client.ehlo("client.test")
                assert client.has_extn("starttls")
                client.starttls(context=context)
                client.ehlo("client.test")
                client.sendmail("petar@example.org", ["sistem48@grad.test"], citizen_mail())
                assert client.sock is not None
                return str(client.sock.version())  # type: ignore[attr-defined]

        version = await asyncio.to_thread(send)
    assert version.startswith("TLS")
    assert len(inbox.contacts) == 1


@pytest.mark.anyio
async def test_unreadable_certificate_is_misconfigured(inbox: RecordingInbox, tmp_path: Path) -> None:
    channel = MailChannel(
        channel_settings(tls_cert=tmp_path / "missing.pem", tls_key=tmp_path / "missing.key")
    )
    with pytest.raises(ChannelMisconfigured):
        await channel.start(inbox)
    assert channel.status().state == ChannelState.MISCONFIGURED

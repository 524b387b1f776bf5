"""PII never reaches the logs at INFO or above: a whole flow through the real gateway (a mail over
SMTP, an SMS through the Gammu dummy modem, operator replies over the REST API, the outbox sending
acknowledgements and replies by mail and SMS) with every record captured and searched."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from gateway.app import build_gateway, create_app
from gateway.auth import create_token
from sms.simulator import inject_incoming, list_sent
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.conftest import make_config
from tests.core.helpers import spool_settled

ADDRESS = "sistem48@sistem48.localhost"
MAILER, MAILER_NAME = "zorica.jovanovic@example.rs", "Zorica Jovanović"
TEXTER = "+381641234567"
MAIL_BODY = "Pukla je cev ispred zgrade u Nemanjinoj 14, voda plavi podrum. Zovite me na 0601234567."
SMS_BODY = "Ne radi ulicna rasveta kod skole Sveti Sava vec tri noci"
REPLIES = ("Ekipa vodovoda izlazi na teren do podneva.", "Prijava je prosleđena službi javne rasvete.")


def _send_mail(port: int) -> None:
    m = EmailMessage()
    m["From"] = f"{MAILER_NAME} <{MAILER}>"
    m["To"] = ADDRESS
    m["Subject"] = "Pukla cev u podrumu"
    m.set_content(MAIL_BODY)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(m)


def _forbidden() -> list[str]:
    """What may not appear: full numbers in any spelling, addresses, names and message texts."""
    numbers = [TEXTER, TEXTER.lstrip("+"), "0641234567", "0601234567", "+381601234567"]
    phrases = [MAIL_BODY[:40], "Nemanjinoj 14", SMS_BODY[:30], "Sveti Sava", *REPLIES]
    return [*numbers, MAILER, "zorica.jovanovic", MAILER_NAME, *phrases]


def test_a_whole_mail_sms_and_reply_flow_logs_no_pii_at_info(
    tmp_path: Path, db_url: str, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_config(tmp_path, db_url)
    cfg.mail.enabled = True
    cfg.mail.listen_port = 0
    cfg.sms.enabled = True
    cfg.sms.send_per_minute = 600
    cfg.sms.quiet_hours_start = cfg.sms.quiet_hours_end = None
    gw = build_gateway(cfg, clock=clock, roles={"mail", "sms", "outbox"})
    modem = Path(gw.config.sms.device)
    caplog.set_level(logging.INFO)

    outbox = gw.outbox
    assert outbox is not None

    async def drain() -> None:
        while await outbox.run_once():
            pass

    async def scenario() -> None:
        await gw.start()
        try:
            mail_channel = next(ch for ch in gw.channels if hasattr(ch, "port"))
            sms_channel = next(ch for ch in gw.channels if hasattr(ch, "inner"))
            await asyncio.to_thread(_send_mail, mail_channel.port)
            await spool_settled(gw)
            inject_incoming(modem, TEXTER, SMS_BODY)
            await sms_channel.inner.poll_once()
            await drain()
            with session_scope(gw.engine, write=True) as s:
                token = create_token(s, name="o", role="operator")
                refs = [t.reference for t in s.exec(select(Ticket).order_by(col(Ticket.id))).all()]
            assert len(refs) == 2
            transport = httpx.ASGITransport(app=create_app(gw.config, gateway=gw))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as api:
                for ref, text in zip(refs, REPLIES, strict=True):
                    r = await api.post(
                        f"/api/v1/tickets/{ref}/reply",
                        json={"text": text},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert r.status_code == 202, r.text
                    r = await api.get(f"/api/v1/tickets/{ref}", headers={"Authorization": f"Bearer {token}"})
                    assert r.status_code == 200
            await drain()
        finally:
            await gw.stop()

    asyncio.run(scenario())

    # The flow really ran: both acknowledgements and both replies left by their channel.
    with session_scope(gw.engine) as s:
        sent = [(o.channel, o.kind) for o in s.exec(select(OutboxMessage)).all() if o.state == "sent"]
    assert sorted(sent) == [("email", "ack"), ("email", "reply"), ("sms", "ack"), ("sms", "reply")]
    assert [m.recipient for m in list_sent(modem)] == [TEXTER, TEXTER]

    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert records, "nothing was logged at INFO: the check below would prove nothing"
    leaks = []
    for record in records:
        text = record.getMessage() + (record.exc_text or "") + str(record.args or "")
        leaks += [f"{record.name}: {text[:200]!r} shows {s!r}" for s in _forbidden() if s in text]
    assert leaks == [], "\n".join(leaks)

"""The short status link in every acknowledgement: one SMS part in both scripts, and it opens."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from gateway.config import load_config
from gateway.notify import SMS_SHORT_TEMPLATES, SMS_TEMPLATES, sms_body
from gateway.signing import Signer
from gateway.statuslink import status_token, status_url
from sms.codec import count_parts
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.core.helpers import mail, sms, voicemail
from tests.open311.conftest import EMAIL, PHONE, Env

ACKS = [kind for kind in SMS_TEMPLATES if "{url}" in SMS_TEMPLATES[kind]]
SIGNER = Signer(b"k" * 32)


def longest_values(prefix: str) -> dict[str, str]:
    cfg = load_config(None)
    ref = f"{prefix}-2026-999999"
    return {"ref": ref, "url": status_url(cfg.gateway.public_base_url, SIGNER, ref, "p" * 12)}


def test_every_template_with_a_link_is_an_acknowledgement_that_has_a_short_fallback() -> None:
    assert sorted(ACKS) == ["ack", "ack_voice"]
    assert set(ACKS) <= set(SMS_SHORT_TEMPLATES)
    for kind in ACKS:
        assert "{url}" in SMS_SHORT_TEMPLATES[kind]


@pytest.mark.parametrize("script", ["latin", "cyrillic"])
@pytest.mark.parametrize("kind", ACKS)
@pytest.mark.parametrize("prefix", ["S48", "SMEDER"])
def test_acknowledgement_with_link_fits_one_part_under_the_default_policy(
    kind: str, script: str, prefix: str
) -> None:
    policy = load_config(None).sms.encoding_policy
    values = longest_values(prefix)
    body = sms_body(kind, script, **values)
    count = count_parts(body, policy)
    assert count.parts == 1, (body, count)
    assert values["url"] in body and values["ref"] in body
    if script == "latin":
        assert count.encoding == "gsm7"  # no diacritic turns it into UCS-2
        assert f"prijava {values['ref']}" in body  # the full text, not the fallback
    else:
        assert "римљена" in body  # Cyrillic words, the link untouched


def test_status_token_is_eight_url_safe_characters_bound_to_the_secret() -> None:
    token = status_token(SIGNER, "S48-2026-000001", "abcdefghijkl")
    assert len(token) == 8 and token.replace("-", "").replace("_", "").isalnum()
    assert token != status_token(Signer(b"j" * 32), "S48-2026-000001", "abcdefghijkl")
    assert token != status_token(SIGNER, "S48-2026-000002", "abcdefghijkl")
    assert token == status_token(SIGNER, "s48-2026-000001", "abcdefghijkl")


def acks(env: Env, reference: str) -> list[OutboxMessage]:
    with session_scope(env.gw.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        return list(
            s.exec(
                select(OutboxMessage).where(
                    OutboxMessage.ticket_id == ticket.id, col(OutboxMessage.kind).like("ack%")
                )
            ).all()
        )


def link_path(body: str) -> str:
    base = "http://127.0.0.1:8048"
    start = body.index(base) + len(base)
    return body[start:].split()[0]


@pytest.mark.parametrize("text", ["Ne radi svetiljka u ulici Kralja Petra", "Не ради светиљка код школе"])
def test_sms_acknowledgement_link_opens_the_status_page(env: Env, text: str) -> None:
    ref = env.gw.inbox.ingest_sync(sms(env.gw, PHONE, text)).reference
    (ack,) = acks(env, ref)
    assert ack.channel == "sms" and count_parts(ack.body, "keep_script").parts == 1
    path = link_path(ack.body)
    assert path.startswith(f"/s/{ref}/")
    page = env.client.get(path)
    assert page.status_code == 200 and ref in page.text


def test_voicemail_acknowledgement_to_a_mobile_caller_carries_the_link(env: Env) -> None:
    ref = env.gw.inbox.ingest_sync(voicemail(env.gw, PHONE, b"RIFF....WAVE")).reference
    (ack,) = acks(env, ref)
    assert ack.kind == "ack_voice" and ack.channel == "sms"
    assert count_parts(ack.body, "keep_script").parts == 1
    assert env.client.get(link_path(ack.body)).status_code == 200


def test_email_acknowledgement_carries_the_same_short_link(env: Env) -> None:
    ref = env.gw.inbox.ingest_sync(mail(env.gw, EMAIL, "Ne radi svetiljka")).reference
    (ack,) = acks(env, ref)
    path = link_path(ack.body)
    assert path.startswith(f"/s/{ref}/") and "?t=" not in path
    assert env.client.get(path).status_code == 200


def test_a_wrong_short_token_looks_exactly_like_an_unknown_reference(env: Env) -> None:
    ref = env.gw.inbox.ingest_sync(sms(env.gw, PHONE, "Ne radi svetiljka")).reference
    path = link_path(acks(env, ref)[0].body)
    token = path.rsplit("/", 1)[1]
    wrong = env.client.get(f"/s/{ref}/{token[:-1]}{'A' if token[-1] != 'A' else 'B'}")
    unknown = env.client.get(f"/s/S48-2026-999999/{token}")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.content == unknown.content

"""The citizen's status page: what it shows, in which script, what it hides, and how it refuses."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from gateway.tickets import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import Ticket
from tests.core.helpers import mail, sms
from tests.open311.conftest import EMAIL, NAME, PHONE, Env


def reported(env: Env, contact: Any) -> Ticket:
    reference = env.gw.inbox.ingest_sync(contact).reference
    with session_scope(env.gw.engine, write=True) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        env.gw.tickets.transition(s, row, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        env.gw.tickets.transition(s, row, Status.ASSIGNED, SYSTEM, Change())
        env.gw.tickets.transition(s, row, Status.RESOLVED, SYSTEM, Change(note="Zamenjena sijalica."))
        s.flush()
        s.expunge(row)
        return row


def test_status_page_shows_status_dates_and_public_notes_without_pii(env: Env) -> None:
    body = f"Ne radi svetiljka. Moj broj 064 123 4567, {EMAIL}. {NAME}"
    t = reported(env, mail(env.gw, EMAIL, body, subject=f"Svetiljka — {NAME}", sender_name=NAME))
    r = env.client.get(f"/s/{t.reference}", params={"t": t.public_token})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert t.reference in page and "Rešena" in page and "Zamenjena sijalica." in page
    assert "24.11.2026." in page  # the dates, in Belgrade time
    for secret in (EMAIL, "064 123 4567", "Perić", "Ne radi svetiljka"):
        assert secret not in page
    assert "<script" not in page
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "'unsafe-inline'" not in csp
    assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"


def test_cyrillic_reporters_get_a_cyrillic_page(env: Env) -> None:
    t = reported(env, sms(env.gw, PHONE, "Не ради улична светиљка у улици Краља Петра"))
    page = env.client.get(f"/s/{t.reference}", params={"t": t.public_token}).text
    assert "Решена" in page and "Ваша пријава" in page and "Rešena" not in page
    assert t.reference in page  # values are never transliterated


def test_wrong_or_missing_token_looks_exactly_like_an_unknown_reference(env: Env) -> None:
    t = reported(env, sms(env.gw, PHONE, "Ne radi svetiljka"))
    unknown = env.client.get("/s/S48-2026-999999", params={"t": t.public_token})
    other = "y" if t.public_token.endswith("x") else "x"  # a token ending in "x" would stay right
    wrong = env.client.get(f"/s/{t.reference}", params={"t": t.public_token[:-1] + other})
    missing = env.client.get(f"/s/{t.reference}")
    assert unknown.status_code == wrong.status_code == missing.status_code == 404
    assert unknown.content == wrong.content == missing.content
    drop = {"date", "content-length"}
    assert {k: v for k, v in unknown.headers.items() if k not in drop} == {
        k: v for k, v in wrong.headers.items() if k not in drop
    }


def test_more_than_thirty_lookups_a_minute_from_one_address_are_refused(env: Env) -> None:
    t = reported(env, sms(env.gw, PHONE, "Ne radi svetiljka"))
    codes = [env.client.get(f"/s/S48-2026-{n:06d}", params={"t": "x"}).status_code for n in range(30)]
    assert codes == [404] * 30
    refused = env.client.get(f"/s/{t.reference}", params={"t": t.public_token})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    env.gw.clock.advance(seconds=61)
    assert env.client.get(f"/s/{t.reference}", params={"t": t.public_token}).status_code == 200

"""The web UI over HTTP (both databases): session cookie, CSRF, lockout, security headers, the PII
rule for utilities, escaping of citizen text, and the operator/utility actions."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from gateway.app import create_app
from storage.db import session_scope
from storage.models import AttachmentRow, OutboxMessage, PiiAccess, Ticket
from tests.core.helpers import mail, sms
from tests.web.conftest import EMAIL, NAME, PASSWORD, PHONE, add_staff, add_transcript, voicemail

XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">'


@pytest.fixture
def client(gw: Any) -> Iterator[TestClient]:
    add_staff(gw)
    with TestClient(create_app(gw.config, gateway=gw), follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def login(c: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = c.get("/login")
    return c.post("/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)})


def test_login_sets_a_new_httponly_samesite_session_and_logout_ends_it(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    before = client.cookies.get("s48_session")
    cookie_header = page.headers["set-cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=lax" in cookie_header and "Secure" not in cookie_header
    r = client.post("/login", data={"username": "operater", "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/inbox"
    after = client.cookies.get("s48_session")
    assert before and after and after != before
    # the pre-login session id and CSRF token do not survive the login (no session fixation)
    assert before.split(".")[0] != after.split(".")[0]
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    assert csrf_of(inbox.text) != csrf_of(page.text)
    r = client.post("/logout", data={"csrf": csrf_of(inbox.text)})
    assert r.status_code == 303
    assert client.get("/inbox").status_code == 303


def test_secure_cookie_flag_follows_the_config(gw: Any) -> None:
    gw.config.http.secure_cookies = True
    with TestClient(create_app(gw.config, gateway=gw), base_url="https://testserver") as c:
        assert "Secure" in c.get("/login").headers["set-cookie"]


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(client: TestClient, gw: Any) -> None:
    page = client.get("/login")
    assert client.post("/login", data={"username": "operater", "password": PASSWORD}).status_code == 403
    r = client.post("/login", data={"username": "operater", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403
    assert login(client, "operater").status_code == 303
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu")).reference
    for data in ({"text": "x"}, {"text": "x", "csrf": csrf_of(page.text)}):
        assert client.post(f"/tickets/{ref}/note", data=data).status_code == 403
    # the cookie session does not let a cross-site form drive the JSON API either
    r = client.post(f"/api/v1/tickets/{ref}/notes", json={"text": "x"})
    assert r.status_code == 403
    good = csrf_of(client.get("/inbox").text)
    r = client.post(f"/api/v1/tickets/{ref}/notes", json={"text": "x"}, headers={"X-CSRF-Token": good})
    assert r.status_code == 201


def test_repeated_wrong_passwords_lock_the_account(client: TestClient, gw: Any) -> None:
    n = gw.config.http.login_max_failures
    for _ in range(n):
        r = login(client, "operater", "wrong-password")
        assert r.status_code == 401 and "Pogrešno" in r.text
    r = login(client, "operater")
    assert r.status_code == 401 and "zaključan" in r.text
    gw.clock.advance(minutes=gw.config.http.login_lockout_minutes + 1)
    assert login(client, "operater").status_code == 303


def test_every_page_carries_a_strict_content_security_policy(client: TestClient) -> None:
    login(client, "operater")
    for path in ("/login", "/inbox", "/review", "/dashboard", "/work-orders"):
        r = client.get(path)
        assert r.status_code == 200, path
        policy = r.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "<script>" not in r.text  # all JS lives in static files
        assert not re.search(r"\son[a-z]+=", r.text), path  # no inline event handlers


def test_map_tiles_host_is_allowed_only_when_configured(tmp_path: Any, db_url: str, clock: Any) -> None:
    from gateway.app import build_gateway
    from tests.web.conftest import web_config

    cfg = web_config(tmp_path, db_url, http__map_tiles_url="https://tiles.example.rs/{z}/{x}/{y}.png")
    g = build_gateway(cfg, clock=clock, roles=set())
    with TestClient(create_app(cfg, gateway=g)) as c:
        assert (
            "img-src 'self' data: https://tiles.example.rs"
            in c.get("/login").headers["content-security-policy"]
        )
    g.engine.dispose()


def test_utility_sees_its_work_orders_without_any_citizen_pii(client: TestClient, gw: Any) -> None:
    body = f"Ne radi sijalica ispred broja 12. Zovite me na 064 123 4567 ili {EMAIL}. {NAME}"
    ref = gw.inbox.ingest_sync(
        mail(gw, EMAIL, body, subject=f"Sijalica — {NAME}", sender_name=NAME)
    ).reference
    gw.inbox.ingest_sync(sms(gw, PHONE, f"Dopuna za {ref}: i dalje mrak"))
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    assert (
        client.post(f"/tickets/{ref}/validate", data={"csrf": csrf, "category": "javna_rasveta"}).status_code
        == 303
    )
    assert client.post(f"/tickets/{ref}/assign", data={"csrf": csrf, "utility": "rasveta"}).status_code == 303
    operator_view = client.get(f"/tickets/{ref}").text
    assert EMAIL in operator_view and NAME in operator_view  # operators do see the reporter
    with session_scope(gw.engine) as s:
        assert s.exec(select(PiiAccess).where(PiiAccess.what == "ticket detail")).first() is not None

    client.cookies.clear()
    assert login(client, "rasveta").headers["location"] == "/work-orders"
    pages = [client.get("/work-orders").text, client.get(f"/tickets/{ref}").text]
    assert ref in pages[0]
    for html in pages:
        for secret in (EMAIL, PHONE, "064 123 4567", "Pera", "Perić", "pera.peric"):
            assert secret not in html
    assert client.get("/inbox").status_code == 403
    assert client.get("/review").status_code == 403


def test_citizen_html_in_a_mail_and_an_sms_is_shown_escaped(client: TestClient, gw: Any) -> None:
    m = gw.inbox.ingest_sync(mail(gw, EMAIL, f"Prijava {XSS}", subject=XSS)).reference
    s_ref = gw.inbox.ingest_sync(sms(gw, PHONE, f"Rupa {XSS}")).reference
    login(client, "operater")
    for path in ("/inbox", f"/tickets/{m}", f"/tickets/{s_ref}", "/inbox/rows"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path


def test_operator_reply_by_sms_queues_an_outbox_row_and_shows_the_part_count(
    client: TestClient, gw: Any
) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu kod škole")).reference
    login(client, "operater")
    page = client.get(f"/tickets/{ref}").text
    assert 'data-sms-counter="sms-count"' in page and "(gsm7, 0)" in page
    r = client.post(f"/tickets/{ref}/reply", data={"csrf": csrf_of(page), "text": "Ekipa izlazi danas."})
    assert r.status_code == 303
    with session_scope(gw.engine) as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "reply")).all()
    assert [(o.channel, o.recipient) for o in rows] == [("sms", PHONE)]
    assert "Ekipa izlazi danas." in client.get(f"/tickets/{ref}").text


def test_refused_transition_shows_the_reason_instead_of_changing_state(client: TestClient, gw: Any) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    r = client.post(f"/tickets/{ref}/transition", data={"csrf": csrf, "to": "forwarded"})
    assert r.status_code == 422 and "Navedite kome je prosleđeno." in r.text  # the reason, in Serbian
    r = client.post(
        f"/tickets/{ref}/transition", data={"csrf": csrf, "to": "forwarded", "forwarded_to": "EPS"}
    )
    assert r.status_code == 303
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
    assert (t.status, t.forwarded_to) == ("forwarded", "EPS")


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(buf, "JPEG")
    return buf.getvalue()


def test_utility_resolves_its_work_order_with_an_after_photo(client: TestClient, gw: Any) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi sijalica u parku")).reference
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    client.post(f"/tickets/{ref}/validate", data={"csrf": csrf, "category": "javna_rasveta"})
    client.post(f"/tickets/{ref}/assign", data={"csrf": csrf, "utility": "rasveta"})
    client.cookies.clear()
    login(client, "rasveta")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    r = client.post(f"/tickets/{ref}/progress", data={"csrf": csrf, "to": "in_progress"})
    assert r.status_code == 303
    r = client.post(
        f"/tickets/{ref}/progress",
        data={"csrf": csrf, "to": "resolved", "note": "Zamenjena sijalica"},
        files={"photo": ("posle.jpg", _jpeg(), "image/jpeg")},
    )
    assert r.status_code == 303, r.text
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        photo = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == t.id)).one()
    assert (t.status, t.resolution_note) == ("resolved", "Zamenjena sijalica")
    assert (photo.kind, photo.phase, photo.content_type) == ("photo", "after", "image/jpeg")
    assert gw.blobs.get(photo.sha256)[:2] == b"\xff\xd8"
    assert f"/api/v1/tickets/{ref}/attachments/{photo.id}" in client.get(f"/tickets/{ref}").text


def test_review_page_lists_words_with_their_start_times_and_marks(
    client: TestClient, gw: Any, spoken_wav: bytes
) -> None:
    ref = voicemail(gw, PHONE, spoken_wav)
    add_transcript(gw, ref)
    login(client, "operater")
    html = client.get("/review").text
    assert f'id="vm-{ref}"' in html and PHONE in html
    assert 'class="w low" data-start="0.80"' in html
    assert f'src="/api/v1/voicemails/{ref}/audio"' in html
    # the browser's <audio> element fetches the WAV with the cookie session
    audio = client.get(f"/api/v1/voicemails/{ref}/audio", headers={"Range": "bytes=0-3"})
    assert audio.status_code == 206 and audio.content == b"RIFF"


def test_dashboard_counts_open_and_overdue_work_and_volumes(client: TestClient, gw: Any) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi sijalica u parku")).reference
    gw.inbox.ingest_sync(mail(gw, EMAIL, "Smeće nije odneto"))
    login(client, "operater")
    csrf = csrf_of(client.get(f"/tickets/{ref}").text)
    client.post(f"/tickets/{ref}/validate", data={"csrf": csrf, "category": "javna_rasveta"})
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        t.overdue = True
        s.add(t)
    html = client.get("/dashboard").text
    assert re.search(r"<td>[^<]*</td><td>1</td><td class=\"warn\">1</td>", html)
    assert 'class="bar ch-sms"' in html and 'class="bar ch-email"' in html


def test_review_loads_the_queue_in_batches_and_takes_actions_from_htmx(
    client: TestClient, gw: Any, spoken_wav: bytes
) -> None:
    refs = [voicemail(gw, f"+3816011100{i:02d}", spoken_wav) for i in range(23)]
    login(client, "operater")
    first = client.get("/review").text
    assert "(23," in first and first.count('class="vm card"') == 20
    more = re.search(r'hx-get="(/review\?after=[^"]+)"', first)
    assert more
    rest = client.get(more.group(1).replace("&amp;", "&")).text
    assert [r for r in refs if f'id="vm-{r}"' in rest] == refs[20:]
    token = {"X-CSRF-Token": csrf_of(first), "HX-Request": "true"}
    r = client.post(f"/review/{refs[0]}/callback", headers=token)
    assert r.status_code == 200 and 'class="vm card done"' in r.text
    r = client.post(f"/review/{refs[1]}/discard", data={"reason": "prank"}, headers=token)
    assert r.status_code == 200
    r = client.post(f"/review/{refs[2]}/attach", data={"into": "S48-2026-999999"}, headers=token)
    assert r.status_code == 422 and "no ticket" in r.text
    with session_scope(gw.engine) as s:
        rows = {t.reference: t for t in s.exec(select(Ticket)).all()}
    assert rows[refs[0]].needs_callback and rows[refs[0]].status == "received"
    assert rows[refs[1]].status == "discarded" and rows[refs[2]].status == "received"


def test_inbox_puts_unvalidated_first_and_lists_missed_calls_in_full_for_operators(
    client: TestClient, gw: Any
) -> None:
    from datetime import timedelta

    from channels.base import CallOutcome, CallRecord

    older = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu")).reference
    gw.clock.advance(minutes=5)
    newer = gw.inbox.ingest_sync(mail(gw, EMAIL, "Smeće nije odneto")).reference
    gw.clock.advance(minutes=5)
    newest = gw.inbox.ingest_sync(sms(gw, "+381649990000", "Ne radi semafor")).reference
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == newest)).one()
        from gateway.tickets import SYSTEM, Change, Status

        gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="saobracajna_signalizacija"))
    gw.inbox.record_call_sync(
        CallRecord(
            "missed-1", "+381647778899", "100", gw.clock() - timedelta(hours=8), 1.5, CallOutcome.MISSED, True
        )
    )
    login(client, "operater")
    html = client.get("/inbox").text
    order = [html.index(r) for r in (newer, older, newest)]
    assert order == sorted(order)  # received ones first, newest first; then the validated one
    assert 'href="tel:+381647778899"' in html  # the operator dials it (utilities never see this page)
    assert 'hx-trigger="every 5s"' in html
    only_mail = client.get("/inbox/rows", params={"channel": "email"}).text
    assert newer in only_mail and older not in only_mail


def test_language_switch_to_english_and_back(client: TestClient) -> None:
    login(client, "operater")
    assert "Prijemno sanduče" in client.get("/inbox").text
    r = client.get("/lang/en", headers={"referer": "http://testserver/inbox"})
    assert r.status_code == 303 and r.headers["location"] == "/inbox"
    assert "Inbox" in client.get("/inbox").text
    client.get("/lang/sr")
    assert "Prijemno sanduče" in client.get("/inbox").text


def test_map_appears_only_with_a_tile_server_and_coordinates(tmp_path: Any, db_url: str, clock: Any) -> None:
    from gateway.app import build_gateway
    from gateway.tickets import SYSTEM
    from tests.web.conftest import web_config

    seen = {}
    for tiles in (None, "https://tiles.example.rs/{z}/{x}/{y}.png"):
        cfg = web_config(tmp_path / ("tiles" if tiles else "offline"), db_url, http__map_tiles_url=tiles)
        g = build_gateway(cfg, clock=clock, roles=set())
        if tiles is None:
            add_staff(g)  # the same database serves both configurations
        ref = g.inbox.ingest_sync(sms(g, PHONE, "Rupa na putu")).reference
        with session_scope(g.engine, write=True) as s:
            t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
            g.tickets.update_details(s, t, SYSTEM, lat=44.8, lon=20.46)
        with TestClient(create_app(cfg, gateway=g), follow_redirects=False) as c:
            login(c, "operater")
            seen[tiles] = c.get(f"/tickets/{ref}").text
        g.engine.dispose()
    offline, online = seen.values()
    assert 'id="map"' not in offline and "/static/leaflet.js" not in offline
    assert 'id="map"' in online and "/static/leaflet.js" in online
    assert 'data-lat="44.8"' in online and 'data-tiles="https://tiles.example.rs/{z}/{x}/{y}.png"' in online


def test_dashboard_shows_the_health_of_a_running_smtp_listener(
    tmp_path: Any, db_url: str, clock: Any
) -> None:
    from gateway.app import build_gateway
    from tests.web.conftest import web_config

    cfg = web_config(tmp_path, db_url, mail__listen_port=0, mail__listen_host="127.0.0.1")
    g = build_gateway(cfg, clock=clock, roles={"mail"})
    add_staff(g)
    with TestClient(create_app(cfg, gateway=g), follow_redirects=False) as c:
        login(c, "operater")
        html = c.get("/dashboard").text
    g.engine.dispose()
    assert re.search(r'<li class="state-up"><b>mail</b>: up', html), html[html.find("health") :][:400]
    health = html[html.find('class="health">') + 15 :].split("</ul>")[0]
    assert "=" not in re.sub(r"<[^>]+>", "", health)  # raw channel metrics are for /metrics only


def test_channel_metrics_are_on_the_admins_health_page_not_the_dashboard(
    tmp_path: Any, db_url: str, clock: Any
) -> None:
    from gateway.app import build_gateway
    from tests.web.conftest import web_config

    cfg = web_config(tmp_path, db_url, mail__listen_port=0, mail__listen_host="127.0.0.1")
    g = build_gateway(cfg, clock=clock, roles={"mail"})
    add_staff(g)
    with TestClient(create_app(cfg, gateway=g), follow_redirects=False) as c:
        names = [k for st in g.supervisor.statuses() for k in st.metrics]
        login(c, "admin")
        health = c.get("/admin/health")
        dashboard = c.get("/dashboard").text
        c.post("/logout", data={"csrf": csrf_of(dashboard)})
        login(c, "operater")
        refused = c.get("/admin/health").status_code
    g.engine.dispose()
    assert health.status_code == 200 and 'href="/admin/health"' in dashboard
    assert names and all(name in health.text for name in names)
    assert not any(f"{name}=" in dashboard or f">{name}<" in dashboard for name in names)
    assert refused == 403


def test_a_removed_or_re_roled_user_loses_the_open_session(client: TestClient, gw: Any) -> None:
    from storage.models import StaffUser

    login(client, "rasveta")
    assert client.get("/work-orders").status_code == 200
    with session_scope(gw.engine, write=True) as s:
        user = s.exec(select(StaffUser).where(StaffUser.username == "rasveta")).one()
        user.utility = "vodovod"
        s.add(user)
    r = client.get("/work-orders")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")

"""Web session security over HTTP (both databases): session fixation, what logout can and cannot do
with a stateless signed cookie, CSRF, brute force (also in parallel), and the utility principal never
receiving the reporter's name, number or address from anything it may call."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from gateway.app import build_gateway, create_app
from gateway.auth import add_user
from storage.db import session_scope
from storage.models import StaffUser
from tests.core.helpers import sms
from tests.core.test_auth_matrix import (
    MATRIX,
    UTILITY,
    make_principals,
    seed,
    send,
    use_cheap_argon2,
)
from tests.web.conftest import EMAIL, NAME, PASSWORD, PHONE, add_staff, web_config

COOKIE = "s48_session"


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_argon2(monkeypatch)  # except in the parallel guessing test, which needs the real cost


@pytest.fixture
def app(gw: Any, cheap_argon2: None) -> Any:
    add_staff(gw)
    return create_app(gw.config, gateway=gw)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def sq_gw(tmp_path: Path, sqlite_template: Path, clock: Any, cheap_argon2: None) -> Iterator[Any]:
    """SQLite only, for the tests about cookies and tokens, which never reach a database difference."""
    db = tmp_path / "web.db"
    shutil.copy(sqlite_template, db)
    g = build_gateway(web_config(tmp_path, f"sqlite:///{db}"), clock=clock, roles=set())
    yield g
    g.engine.dispose()


@pytest.fixture
def sq_app(sq_gw: Any) -> Any:
    add_staff(sq_gw)
    return create_app(sq_gw.config, gateway=sq_gw)


@pytest.fixture
def sq_client(sq_app: Any) -> Iterator[TestClient]:
    with TestClient(sq_app, follow_redirects=False) as c:
        yield c


def csrf_in(app: Any, cookie: str) -> str:
    ws = app.state.web_codec.decode(cookie)
    assert ws is not None
    return str(ws.csrf)


def login(c: TestClient, app: Any, username: str, password: str = PASSWORD) -> Any:
    if COOKIE not in c.cookies:
        c.get("/login")
    csrf = csrf_in(app, c.cookies[COOKIE])
    return c.post("/login", data={"username": username, "password": password, "csrf": csrf})


def as_cookie(c: TestClient, value: str, path: str) -> Any:
    """A request carrying exactly this cookie, whatever the client's jar holds."""
    c.cookies.clear()
    return c.get(path, headers={"Cookie": f"{COOKIE}={value}"})


# -- session fixation ------------------------------------------------------------------------
def test_a_cookie_planted_before_login_stays_anonymous_after_it(sq_client: TestClient, sq_app: Any) -> None:
    sq_client.get("/login")
    planted = sq_client.cookies[COOKIE]  # what an attacker could have put into the victim's browser
    assert login(sq_client, sq_app, "operater").status_code == 303
    session = sq_client.cookies[COOKIE]
    old, new = sq_app.state.web_codec.decode(planted), sq_app.state.web_codec.decode(session)
    assert (new.sid, new.csrf) != (old.sid, old.csrf) and new.user == "operater"
    assert as_cookie(sq_client, session, "/inbox").status_code == 200
    r = as_cookie(sq_client, planted, "/inbox")
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/inbox")


def test_a_cookie_edited_to_claim_a_user_or_role_is_ignored(sq_client: TestClient, sq_app: Any) -> None:
    assert login(sq_client, sq_app, "rasveta").status_code == 303
    body, mac = sq_client.cookies[COOKIE].rsplit(".", 1)
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data.update(u="admin", r="admin", t=None)
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=") + "." + mac
    r = as_cookie(sq_client, forged, "/dashboard")
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/dashboard")
    assert as_cookie(sq_client, forged, "/api/v1/calls").status_code == 401


# -- logout ----------------------------------------------------------------------------------
def test_logout_voids_every_cookie_of_the_user_even_a_copied_one(
    sq_client: TestClient, sq_app: Any, sq_gw: Any
) -> None:
    """Sessions are signed cookies; logout records a cut-off on the user (`sessions_valid_from`) that
    `user_still_valid` checks on every request, so a copy taken before the logout is refused too."""
    assert login(sq_client, sq_app, "operater").status_code == 303
    stolen = sq_client.cookies[COOKIE]
    sq_gw.clock.advance(minutes=5)
    r = sq_client.post("/logout", data={"csrf": csrf_in(sq_app, stolen)})
    assert r.status_code == 303
    assert sq_app.state.web_codec.decode(sq_client.cookies[COOKIE]).user is None
    assert sq_client.get("/inbox").status_code == 303  # the browser itself is logged out

    assert as_cookie(sq_client, stolen, "/inbox").status_code == 303  # the copied cookie is dead
    assert as_cookie(sq_client, stolen, "/api/v1/calls").status_code == 401
    assert login(sq_client, sq_app, "operater").status_code == 303  # a new login works at once
    assert sq_client.get("/inbox").status_code == 200


def test_removing_or_re_roling_a_user_ends_their_open_sessions_at_once(
    client: TestClient, app: Any, gw: Any
) -> None:
    assert login(client, app, "operater").status_code == 303
    operator = client.cookies[COOKIE]
    client.cookies.clear()
    assert login(client, app, "admin").status_code == 303
    admin = client.cookies[COOKIE]
    with session_scope(gw.engine, write=True) as s:
        user = s.exec(select(StaffUser).where(StaffUser.username == "operater")).one()
        user.role, user.utility = "utility", "rasveta"
        s.add(user)
        s.delete(s.exec(select(StaffUser).where(StaffUser.username == "admin")).one())
    assert as_cookie(client, operator, "/inbox").status_code == 303
    assert as_cookie(client, admin, "/dashboard").status_code == 303


# -- CSRF ------------------------------------------------------------------------------------
def test_unsafe_requests_need_this_sessions_csrf_token(
    sq_client: TestClient, sq_app: Any, sq_gw: Any
) -> None:
    ref = sq_gw.inbox.ingest_sync(sms(sq_gw, PHONE, "Rupa na putu kod škole")).reference
    # an attacker's own valid token, from their own session, is no good in the victim's
    other = TestClient(sq_app, follow_redirects=False)
    other.get("/login")
    foreign = csrf_in(sq_app, other.cookies[COOKIE])

    assert sq_client.post("/login", data={"username": "operater", "password": PASSWORD}).status_code == 403
    assert login(sq_client, sq_app, "operater").status_code == 303
    mine = csrf_in(sq_app, sq_client.cookies[COOKIE])
    for token in (None, "", "forged", foreign):
        form = {"text": "beleška"} | ({"csrf": token} if token is not None else {})
        assert sq_client.post(f"/tickets/{ref}/note", data=form).status_code == 403, token
        headers = {"X-CSRF-Token": token} if token else {}
        r = sq_client.post(f"/api/v1/tickets/{ref}/notes", json={"text": "x"}, headers=headers)
        assert r.status_code == 403, token
        assert sq_client.post("/logout", data=form).status_code == 403
    assert sq_client.post(f"/tickets/{ref}/note", data={"text": "beleška", "csrf": mine}).status_code == 303
    r = sq_client.post(f"/api/v1/tickets/{ref}/notes", json={"text": "x"}, headers={"X-CSRF-Token": mine})
    assert r.status_code == 201


def test_the_session_cookie_is_httponly_and_samesite_lax(sq_client: TestClient, sq_app: Any) -> None:
    """No Origin check is implemented: the synchronizer token above is the guard, and SameSite=Lax
    keeps browsers from sending the cookie on another site's POST at all."""
    r = login(sq_client, sq_app, "operater")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


# -- brute force -----------------------------------------------------------------------------
def test_wrong_passwords_lock_the_account_and_the_lock_ends_on_time(
    client: TestClient, app: Any, gw: Any
) -> None:
    n, minutes = gw.config.http.login_max_failures, gw.config.http.login_lockout_minutes
    for _ in range(n - 1):
        assert "Pogrešno" in login(client, app, "operater", "pogresna-lozinka").text
    assert login(client, app, "operater").status_code == 303  # a success resets the count
    client.cookies.clear()
    for _ in range(n):
        r = login(client, app, "operater", "pogresna-lozinka")
        assert r.status_code == 401 and "Pogrešno" in r.text
    locked_right, locked_wrong = login(client, app, "operater"), login(client, app, "operater", "x" * 12)
    assert locked_right.status_code == locked_wrong.status_code == 401
    assert "zaključan" in locked_right.text and "zaključan" in locked_wrong.text  # no oracle
    gw.clock.advance(minutes=minutes - 1)
    assert login(client, app, "operater").status_code == 401
    gw.clock.advance(minutes=1, seconds=1)
    assert login(client, app, "operater").status_code == 303


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(sq_client: TestClient, sq_app: Any) -> None:
    wrong, unknown = (
        login(sq_client, sq_app, "operater", "pogresna-lozinka"),
        login(sq_client, sq_app, "niko", "x" * 12),
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.text == unknown.text


def test_parallel_guesses_cannot_outrun_the_lockout(tmp_path: Path, db_url: str, clock: Any) -> None:
    """Eight guesses at once against a limit of three: exactly three are checked, the rest are told
    the account is locked, and the right password is refused afterwards. The real argon2 cost on
    purpose: the time a hash takes is the window in which unlocked parallel checks overtook the count
    (PostgreSQL, before check_password locked the user row: all eight were checked, none locked)."""
    gw = build_gateway(web_config(tmp_path, db_url, http__login_max_failures=3), clock=clock, roles=set())
    with session_scope(gw.engine, write=True) as s:
        add_user(s, username="operater", password=PASSWORD, role="operator")
    app = create_app(gw.config, gateway=gw)
    clients = [TestClient(app, follow_redirects=False) for _ in range(8)]
    for c in clients:
        c.get("/login")
    start, answers = threading.Barrier(len(clients)), []

    def guess(c: TestClient) -> None:
        start.wait()
        answers.append(login(c, app, "operater", "pogresna-lozinka").text)

    threads = [threading.Thread(target=guess, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sum("Pogrešno" in a for a in answers) == 3
        assert sum("zaključan" in a for a in answers) == 5
        assert login(clients[0], app, "operater").status_code == 401
    finally:
        gw.engine.dispose()


# -- the utility principal and PII -----------------------------------------------------------
def test_utility_never_receives_reporter_pii_from_anything_it_may_call(gw: Any, cheap_argon2: None) -> None:
    app = create_app(gw.config, gateway=gw)
    secrets = (NAME, "Pera", "Perić", "Peric", EMAIL, "pera.peric", PHONE, "0641234567", "064 123 4567")
    seen: list[str] = []
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        p = make_principals(gw, app, (UTILITY,))
        seeded = seed(gw)
        for case in MATRIX:
            if UTILITY not in case.allowed:
                continue
            fresh = seeded.fresh(case)
            url = seeded.fill(case.url or case.route, fresh)
            body = case.body and {
                k: seeded.fill(v, fresh) if isinstance(v, str) else v for k, v in case.body.items()
            }
            via = "cookie" if case.kind == "web" else ("api_key" if case.kind == "open311w" else "bearer")
            r = send(client, case, url, body, UTILITY, via, p)
            assert r.status_code < 500, (url, r.status_code)
            text = r.content.decode("utf-8", "replace") + json.dumps(dict(r.headers), ensure_ascii=False)
            seen.append(url)
            leaks = [s for s in secrets if s in text]
            assert leaks == [], f"{case.method} {url} shows the utility {leaks}"
    assert any("/attachments/" in u for u in seen) and any(u.startswith("/tickets/") for u in seen)


# -- redirects -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "https://evil.example/"],
)
def test_login_never_redirects_off_the_site(sq_client: TestClient, sq_app: Any, target: str) -> None:
    """Browsers drop raw tabs and newlines inside a URL ("/<TAB>/evil.example" is "//evil.example"),
    so the Location is read the way a browser would; the redirect percent-encodes them, which keeps
    such a target a local path."""
    sq_client.get("/login")
    csrf = csrf_in(sq_app, sq_client.cookies[COOKIE])
    form = {"username": "operater", "password": PASSWORD, "csrf": csrf, "next": target}
    r = sq_client.post("/login", data=form)
    assert r.status_code == 303
    as_browser_reads_it = "".join(ch for ch in r.headers["location"] if ch not in "\t\n\r")
    assert as_browser_reads_it.startswith("/") and as_browser_reads_it[1:2] not in ("/", "\\")

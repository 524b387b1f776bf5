"""The staff UI in headless Chromium (Debian's, driven by Playwright) against uvicorn on 127.0.0.1
and a temp SQLite database: review queue with seek and shortcuts, assign, SMS reply, the utility's
PII-free view, inert XSS, CSRF, lockout; screenshots of the main pages."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Dialog, Page, sync_playwright
from sqlmodel import select

from gateway.app import build_gateway, create_app
from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.conftest import Clock
from tests.core.helpers import mail, sms
from tests.web.conftest import EMAIL, NAME, PASSWORD, PHONE, add_staff, add_transcript, voicemail, web_config

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
XSS = '<script>alert("x")</script><img src=x onerror="alert(1)">'
SHOTS = (
    Path(os.environ.get("SISTEM48_SCREENSHOTS_DIR", ""))
    if os.environ.get("SISTEM48_SCREENSHOTS_DIR")
    else None
)


@dataclass
class Site:
    url: str
    gw: Any
    browser: Browser
    shots: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    db = tmp / "sistem48.db"
    shutil.copy(sqlite_template, db)
    clock = Clock(datetime(2026, 11, 24, 6, 30, tzinfo=UTC))  # Tuesday 07:30 in Belgrade
    gw = build_gateway(web_config(tmp, f"sqlite:///{db}"), clock=clock, roles=set())
    add_staff(gw)
    app = create_app(gw.config, gateway=gw)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    shots = SHOTS or tmp / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        yield Site(f"http://127.0.0.1:{port}", gw, browser, shots)
        browser.close()
    server.should_exit = True
    thread.join(10)
    sock.close()
    gw.engine.dispose()


@pytest.fixture
def page(site: Site) -> Iterator[Page]:
    context = site.browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    yield pg
    context.close()
    # our own pages must run clean under the CSP: no blocked inline script/style, no JS errors
    # 401/403 are the login and role checks, 422 a refused form shown again with its reason
    assert [p for p in problems if not any(code in p for code in ("401", "403", "422"))] == []


def login(site: Site, page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto(site.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def status_of(gw: Any, ref: str) -> str:
    with session_scope(gw.engine) as s:
        return s.exec(select(Ticket.status).where(Ticket.reference == ref)).one()


def test_morning_review_seek_validate_and_discard_with_the_keyboard(
    site: Site, page: Page, spoken_wav: bytes
) -> None:
    gw = site.gw
    gw.inbox.ingest_sync(sms(gw, PHONE, "Ranije: rupa na putu"))
    first = voicemail(gw, PHONE, spoken_wav, duration=2.9)
    add_transcript(gw, first)
    second = voicemail(gw, "+381607654321", spoken_wav)
    add_transcript(gw, second, words=[("hm", 0.1, 0.3, 0.2, True)], has_speech=False)
    third = voicemail(gw, "+381607654322", spoken_wav)
    login(site, page, "operater")
    assert page.url.endswith("/inbox")
    page.goto(site.url + "/review")
    card = page.locator(f"#vm-{first}")
    assert card.locator("button.w.low").inner_text() == "ulična"
    page.screenshot(path=str(site.shots / "morning_review.png"), full_page=True)

    # the recording loads through the Range-capable endpoint, and a word seeks to its start time
    card.locator("audio").evaluate("a => { a.preload = 'auto'; a.load(); }")
    # polled from here: page.wait_for_function would eval a string, which our CSP forbids
    deadline = time.monotonic() + 10
    while card.locator("audio").evaluate("a => a.readyState") < 1:
        assert time.monotonic() < deadline, "the recording did not load"
        page.wait_for_timeout(50)
    duration = card.locator("audio").evaluate("a => a.duration")
    assert 2.0 < duration < 10.0
    card.locator("button.w", has_text="ulična").click()
    t = card.locator("audio").evaluate("a => a.currentTime")
    assert 0.79 <= t < 1.6
    card.locator("button.w", has_text="kralja").click()
    assert 1.99 <= card.locator("audio").evaluate("a => a.currentTime") < 2.8

    # j/k move through the queue, d discards after a confirmation (silent pre-selected for "no
    # speech"), v validates once a category is chosen (there is no default one)
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.locator(f"#vm-{first}").focus()
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.ref") == second
    page.keyboard.press("d")
    page.wait_for_selector(f"#vm-{second}.done")
    assert asked == ["Odbaciti ovu prijavu?"]
    page.select_option(f"#vm-{first} select[name=category]", index=1)  # the ★ suggestion
    page.locator(f"#vm-{first}").focus()
    page.keyboard.press("v")
    page.wait_for_selector(f"#vm-{first}.done")
    assert status_of(gw, first) == "open"
    assert status_of(gw, second) == "discarded"

    # space plays and pauses the focused card's recording; c asks for a call back
    page.locator(f"#vm-{third}").focus()
    audio = page.locator(f"#vm-{third} audio")
    page.keyboard.press(" ")
    deadline = time.monotonic() + 10
    while audio.evaluate("a => a.paused || a.currentTime === 0"):
        assert time.monotonic() < deadline, "space did not start playback"
        page.wait_for_timeout(50)
    page.keyboard.press(" ")
    assert audio.evaluate("a => a.paused") is True
    page.keyboard.press("c")
    page.wait_for_selector(f"#vm-{third}.done")
    with session_scope(gw.engine) as s:
        flagged = s.exec(select(Ticket.needs_callback).where(Ticket.reference == third)).one()
    assert flagged is True and status_of(gw, third) == "received"
    with session_scope(gw.engine) as s:
        reason = s.exec(select(Ticket.discard_reason).where(Ticket.reference == second)).one()
    assert reason == "silent"


def test_assign_and_reply_by_sms_with_a_live_part_count(site: Site, page: Page) -> None:
    gw = site.gw
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi sijalica kod škole")).reference
    login(site, page, "operater")
    page.goto(f"{site.url}/inbox")
    page.click(f"text={ref}")
    page.select_option("form[action$='/validate'] select[name=category]", "javna_rasveta")
    page.click("form[action$='/validate'] button[type=submit]")
    page.wait_for_load_state()
    page.select_option("#assign-form select[name=utility]", "rasveta")
    page.click("#assign-form button[type=submit]")
    page.wait_for_load_state()
    assert status_of(gw, ref) == "assigned"

    area = page.locator("#reply-form textarea")
    frame = len(f"Sistem48 ({ref}): ")  # the gateway sends the reply inside this prefix
    area.fill("Ekipa izlazi danas.")
    assert page.locator("#sms-count").inner_text().startswith(f"1 (gsm7, {19 + frame})")
    area.fill("Ћирилица " * 5)  # 45 UCS-2 units: one part alone, two with the prefix
    assert page.locator("#sms-count").inner_text().startswith(f"2 (ucs2, {45 + frame})")
    area.fill("Ekipa izlazi danas. Hvala na prijavi!")
    page.screenshot(path=str(site.shots / "ticket.png"), full_page=True)
    page.click("#reply-form button[type=submit]")
    page.wait_for_load_state()
    with session_scope(gw.engine) as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "reply")).one()
    assert (row.channel, row.recipient) == ("sms", PHONE)
    assert "Hvala na prijavi!" in page.content()


def test_utility_login_shows_no_citizen_pii_anywhere(site: Site, page: Page) -> None:
    gw = site.gw
    body = f"Ne radi sijalica. Zovite me na 064 123 4567 ili {EMAIL}. {NAME}"
    ref = gw.inbox.ingest_sync(mail(gw, EMAIL, body, subject=f"Svetlo — {NAME}", sender_name=NAME)).reference
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        from gateway.tickets import SYSTEM, Change, Status

        gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        gw.tickets.transition(s, t, Status.ASSIGNED, SYSTEM, Change(utility="rasveta"))
    login(site, page, "rasveta")
    assert page.url.endswith("/work-orders")
    page.screenshot(path=str(site.shots / "work_orders.png"), full_page=True)
    listing = page.content()
    page.click(f"text={ref}")
    page.wait_for_load_state()
    detail = page.content()
    assert ref in listing and "Ne radi sijalica" in detail
    for html in (listing, detail):
        for secret in (EMAIL, PHONE, "064 123 4567", "Pera", "Perić", "pera.peric"):
            assert secret not in html


def test_script_in_a_mail_body_and_an_sms_stays_inert(site: Site, page: Page) -> None:
    gw = site.gw
    m = gw.inbox.ingest_sync(mail(gw, "zlonamerni@example.rs", f"Prijava {XSS}", subject=XSS)).reference
    s_ref = gw.inbox.ingest_sync(sms(gw, "+381639998877", f"Rupa {XSS}")).reference
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    login(site, page, "operater")
    for path in ("/inbox", f"/tickets/{m}", f"/tickets/{s_ref}"):
        page.goto(site.url + path)
        page.wait_for_timeout(300)
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert page.evaluate("[...document.scripts].filter(s => s.textContent.includes('alert')).length") == 0
        assert "<script>alert" in page.locator("main").inner_text()  # shown as text
    assert dialogs == []


def test_forms_without_or_with_a_wrong_csrf_token_get_403(site: Site, page: Page) -> None:
    gw = site.gw
    ref = gw.inbox.ingest_sync(sms(gw, "+381631112233", "Rupa")).reference
    login(site, page, "operater")
    r = page.request.post(f"{site.url}/tickets/{ref}/note", form={"text": "bez tokena"})
    assert r.status == 403
    r = page.request.post(f"{site.url}/tickets/{ref}/note", form={"text": "pogrešan", "csrf": "x" * 32})
    assert r.status == 403
    page.goto(f"{site.url}/tickets/{ref}")
    page.fill("form[action$='/note'] textarea", "sa tokenom")
    page.click("form[action$='/note'] button[type=submit]")
    page.wait_for_load_state()
    assert "sa tokenom" in page.content()


def test_lockout_after_repeated_wrong_passwords(site: Site, page: Page) -> None:
    n = site.gw.config.http.login_max_failures
    page.goto(site.url + "/login")
    page.screenshot(path=str(site.shots / "login.png"), full_page=True)
    for _ in range(n):
        login(site, page, "admin", "pogresna-lozinka")
        assert "Pogrešno korisničko ime ili lozinka" in page.content()
    login(site, page, "admin")
    assert "zaključan" in page.content() and page.url.endswith("/login")


def test_inbox_refreshes_itself_and_dashboard_renders(site: Site, page: Page) -> None:
    gw = site.gw
    login(site, page, "operater")
    page.goto(site.url + "/inbox")
    late = gw.inbox.ingest_sync(sms(gw, "+381645556677", "Nova prijava stigla tokom rada")).reference
    page.wait_for_selector(f"text={late}", timeout=9_000)  # htmx polls every 5 s
    page.screenshot(path=str(site.shots / "inbox.png"), full_page=True)
    page.goto(site.url + "/dashboard")
    assert page.locator("svg rect.bar").count() > 0
    page.screenshot(path=str(site.shots / "dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/inbox")
    page.screenshot(path=str(site.shots / "inbox_phone.png"), full_page=True)
    for name in ("inbox", "dashboard", "inbox_phone"):
        assert (site.shots / f"{name}.png").stat().st_size > 5_000

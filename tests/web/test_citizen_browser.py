"""Citizen pages in headless Chromium on a phone-sized viewport, against a running gateway whose SMS
channel and outbox worker use the Gammu dummy modem: the link from the acknowledgement SMS (read
back with `sistem48 modem sent`) opens the status page, and "not fixed" reopens the ticket."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from sqlmodel import select

from gateway.app import build_gateway, create_app
from gateway.tickets import SYSTEM, Change, Status
from sms.simulator import inject_incoming
from storage.db import session_scope
from storage.models import Message, Ticket
from tests.conftest import Clock, make_config

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PHONE = "+381641234567"
PHONE_VIEWPORT = {"width": 390, "height": 844}
SHOTS = Path(os.environ["SISTEM48_SCREENSHOTS_DIR"]) if os.environ.get("SISTEM48_SCREENSHOTS_DIR") else None


@dataclass
class Site:
    url: str
    gw: Any
    browser: Browser
    shots: Path
    config_file: Path


def write_config(path: Path, cfg: Any) -> None:
    """The few settings `sistem48 modem sent` needs, as an operator's TOML file would have them."""
    path.write_text(
        f'[gateway]\ndata_dir = "{cfg.gateway.data_dir}"\npublic_base_url = "{cfg.gateway.public_base_url}"\n'
        f'[database]\nurl = "{cfg.database.url}"\n[sms]\nenabled = true\ndevice = "{cfg.sms.device}"\n',
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("citizen")
    db = tmp / "sistem48.db"
    shutil.copy(sqlite_template, db)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    cfg = make_config(tmp, f"sqlite:///{db}")
    cfg.gateway.public_base_url = url
    cfg.sms.enabled = True
    cfg.sms.poll_interval_s = 0.2
    cfg.sms.send_per_minute = 600
    cfg.sms.quiet_hours_start = cfg.sms.quiet_hours_end = None
    clock = Clock(datetime(2026, 11, 24, 9, 30, tzinfo=UTC))  # Tuesday 10:30 in Belgrade
    gw = build_gateway(cfg, clock=clock, roles={"sms", "outbox"})
    config_file = tmp / "sistem48.toml"
    write_config(config_file, cfg)
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, gateway=gw), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    shots = SHOTS or tmp / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        yield Site(url, gw, browser, shots, config_file)
        browser.close()
    server.should_exit = True
    thread.join(10)
    sock.close()
    gw.engine.dispose()


@pytest.fixture
def phone(site: Site) -> Iterator[Page]:
    context = site.browser.new_context(viewport=PHONE_VIEWPORT, java_script_enabled=False)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    assert problems == []  # nothing blocked by the page's own CSP (style hash, images)


def modem_sent(site: Site) -> list[str]:
    """What `sistem48 modem sent` prints, one line per SMS."""
    cli = Path(sys.executable).with_name("sistem48")
    done = subprocess.run(
        [str(cli), "modem", "sent", "--config", str(site.config_file)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.splitlines()


def ack_line(site: Site, number: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [line for line in modem_sent(site) if f"→ {number}:" in line]
        if lines:
            return lines[-1]
        time.sleep(0.3)
    raise AssertionError("no acknowledgement SMS was sent through the modem")


def ticket_of(site: Site, reference: str) -> Ticket:
    with session_scope(site.gw.engine) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        s.expunge(row)
        return row


def test_citizen_follows_the_sms_link_and_presses_not_fixed(site: Site, phone: Page) -> None:
    gw = site.gw
    text = "Ne radi ulična svetiljka ispred škole u Karađorđevoj 12"
    inject_incoming(Path(gw.config.sms.device), PHONE, text)
    line = ack_line(site, PHONE)
    link = re.search(r"(http://127\.0\.0\.1:\d+/s/\S+)", line)
    assert link is not None, line
    reference = link.group(1).split("/")[4]
    assert reference in line and "Status:" in line

    phone.goto(link.group(1))
    assert phone.locator("h1").inner_text().startswith("Vaša prijava")
    assert reference in phone.locator("h1").inner_text()
    assert phone.locator(".badge").inner_text() == "Primljena"
    # styled: the page's own stylesheet applies (allowed by its CSP hash), and nothing overflows
    assert phone.locator("header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 79, 138)"
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    phone.screenshot(path=str(site.shots / "status_received_phone.png"), full_page=True)

    with session_scope(gw.engine, write=True) as s:  # staff work through the ticket meanwhile
        row = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        row.location_text = "Karađorđeva 12"
        s.add(row)
        gw.tickets.transition(s, row, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        gw.tickets.transition(s, row, Status.ASSIGNED, SYSTEM, Change())
        gw.tickets.transition(s, row, Status.RESOLVED, SYSTEM, Change(note="Zamenjena sijalica."))

    phone.goto(link.group(1))
    assert phone.locator(".badge").inner_text() == "Rešena"
    assert "Javna rasveta" in phone.inner_text("main") and "Karađorđeva 12" in phone.inner_text("main")
    button = phone.get_by_role("button", name="Nije otklonjeno")
    box = button.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 44  # a thumb can hit it
    phone.screenshot(path=str(site.shots / "status_resolved_phone.png"), full_page=True)

    phone.fill("textarea[name=comment]", "Sijalica i dalje ne svetli.")
    button.click()
    phone.wait_for_load_state()
    assert phone.url.endswith("?ok=1")
    assert "ponovo otvorena" in phone.locator("[role=status]").inner_text()
    assert phone.locator(".badge").inner_text() == "Prihvaćena"
    assert "Prijavili ste da problem nije otklonjen" in phone.inner_text("main")
    phone.screenshot(path=str(site.shots / "status_reopened_phone.png"), full_page=True)
    assert ticket_of(site, reference).status == "open"
    with session_scope(gw.engine) as s:
        said = s.exec(select(Message.body).where(Message.channel == "web")).all()
    assert said == ["NIJE: Sijalica i dalje ne svetli."]


def test_citizen_without_javascript_reports_with_a_photo_and_gets_an_sms(
    site: Site, phone: Page, tmp_path: Path
) -> None:
    from tests.open311.conftest import GPS, photo_with_exif

    number = "+381652223344"
    picture = tmp_path / "rupa.jpg"
    picture.write_bytes(photo_with_exif())
    phone.goto(site.url + "/prijava")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    trap = phone.locator("#website").bounding_box()  # the honeypot stays out of a person's way
    assert trap is not None and trap["x"] + trap["width"] <= 0
    phone.screenshot(path=str(site.shots / "report_form_phone.png"), full_page=True)
    phone.fill("#description", "Velika rupa na kolovozu, auto je oštetio gumu.")
    phone.select_option("#category", label="Udarna rupa na kolovozu ili trotoaru")
    phone.set_input_files("#photos", str(picture))
    phone.fill("#phone", "065 222 3344")
    phone.check("input[name=via][value=sms]")
    phone.get_by_role("button", name="Pošalji prijavu").click()
    phone.wait_for_load_state()

    reference = phone.locator("#reference").inner_text()
    assert re.fullmatch(r"S48-2026-\d{6}", reference)
    status_link = phone.locator("#status-link").get_attribute("href")
    assert status_link is not None and f"/s/{reference}/" in status_link
    assert "+381…44" in phone.inner_text("main")
    phone.screenshot(path=str(site.shots / "report_thanks_phone.png"), full_page=True)

    line = ack_line(site, number)
    assert status_link in line and reference in line
    t = ticket_of(site, reference)
    assert (t.channel, t.category, (t.lat, t.lon)) == ("web", "udarna_rupa", GPS)
    phone.goto(status_link)
    assert phone.locator(".badge").inner_text() == "Primljena"

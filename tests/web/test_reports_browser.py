"""A manager in headless Chromium: opens last month's report, downloads its CSV (the figures equal a
count made directly in the database) and prints it (no navigation, no period forms on paper)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

from gateway.app import build_gateway, create_app
from tests.conftest import Clock
from tests.web.conftest import PASSWORD, add_staff, web_config
from tests.web.report_data import OCTOBER, direct_counts, seed_october

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SHOTS = Path(os.environ["SISTEM48_SCREENSHOTS_DIR"]) if os.environ.get("SISTEM48_SCREENSHOTS_DIR") else None


@pytest.fixture
def manager(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Page, str, Any, Path]]:
    db = tmp_path / "sistem48.db"
    shutil.copy(sqlite_template, db)
    clock = Clock(datetime(2026, 10, 5, 8, 0, tzinfo=UTC))
    gw = build_gateway(web_config(tmp_path, f"sqlite:///{db}"), clock=clock, roles=set())
    add_staff(gw)
    seed_october(gw, clock)
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # "last month" is October
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(gw.config, gateway=gw), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    shots = SHOTS or tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(10_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(url + "/login")
        page.fill("input[name=username]", "nacelnik")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        yield page, url, gw, shots
        browser.close()
        assert problems == []  # the page runs clean under the staff UI's CSP (no inline styles)
    server.should_exit = True
    thread.join(10)
    sock.close()
    gw.engine.dispose()


def test_manager_exports_last_month_and_the_csv_equals_a_direct_count(manager: Any) -> None:
    page, url, gw, shots = manager
    assert page.url == url + "/reports"  # a manager's home
    page.get_by_role("link", name="Prošli mesec").click()
    page.wait_for_load_state()
    assert "2026-10" in page.locator("h1").inner_text()
    page.screenshot(path=str(shots / "reports_month.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#csv-table")
    download = info.value
    assert download.suggested_filename == "sistem48-2026-10-tabela.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    table = {(r["grouping"], r["code"]): r for r in csv.DictReader(io.StringIO(text))}
    direct = direct_counts(gw, *OCTOBER)
    for code, counts in direct.items():
        row = table[("utility", code)]
        got = [int(row[k]) for k in ("received", "validated", "forwarded", "resolved_within_24h",
                                     "resolved_within_48h", "overdue_now", "reopened")]  # fmt: skip
        assert got == [
            counts[k] for k in ("received", "validated", "forwarded", "r24", "r48", "overdue", "reopened")
        ]
    assert int(table[("total", "")]["received"]) == sum(c["received"] for c in direct.values()) == 8
    # what the page shows is what the file says
    shown = page.locator("#table-utility tr[data-code=rasveta] td").all_inner_texts()
    assert shown[1] == table[("utility", "rasveta")]["received"]


def test_the_printout_has_no_navigation(manager: Any) -> None:
    page, url, _gw, shots = manager
    page.goto(url + "/reports?month=2026-10")
    assert page.locator("header.top nav").is_visible()
    page.emulate_media(media="print")
    for selector in ("header.top", "header.top nav", ".period"):
        assert page.locator(selector).evaluate("e => getComputedStyle(e).display") == "none", selector
    assert page.locator("#table-utility").is_visible() and page.locator(".hbars").is_visible()
    page.screenshot(path=str(shots / "reports_print.png"), full_page=True)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    page.emulate_media(media="screen")
    # chart values are written next to each bar, not only in a tooltip
    values = page.locator(".hbars .hb-value").all_inner_texts()
    assert values and all(v.isdigit() for v in values)

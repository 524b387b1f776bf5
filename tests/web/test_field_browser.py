"""The utility's field page on a phone (390×844) in headless Chromium: resolving with before and
after photos, a refused save that keeps the chosen photos, and "not ours" with a reason."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page
from sqlmodel import select

from gateway.tickets import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import AttachmentRow, Ticket
from tests.core.helpers import sms
from tests.web.test_browser import Site, login, page, site, status_of

__all__ = ["page", "site"]


def photo(path: Path, colour: str) -> Path:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def work_order(site: Site, text: str) -> str:
    gw = site.gw
    ref = gw.inbox.ingest_sync(sms(gw, "+381641313000", text)).reference
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        gw.tickets.transition(s, t, Status.ASSIGNED, SYSTEM, Change(utility="rasveta"))
    return str(ref)


def test_a_field_worker_resolves_with_photos_on_a_phone_and_an_error_keeps_them(
    site: Site, page: Page, tmp_path: Path
) -> None:
    ref = work_order(site, "Ne radi svetiljka na stubu 14")
    page.set_viewport_size({"width": 390, "height": 844})
    login(site, page, "rasveta")
    page.goto(f"{site.url}/tickets/{ref}")
    form = page.locator("#resolve-form")
    assert form.locator("textarea[name=note]").get_attribute("required") is not None  # marked before submit
    form.locator("input[name=photo]").set_input_files(str(photo(tmp_path / "posle.jpg", "green")))
    form.locator("input[name=photo_before]").set_input_files(str(photo(tmp_path / "pre.jpg", "red")))
    form.locator("textarea[name=note]").fill("   ")  # passes the browser, not the server
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#kept-photos")
    assert "posle.jpg" in page.locator("#kept-photos").inner_text()
    assert "Opišite kako je rešeno." in page.locator(".flash.error").inner_text()
    page.screenshot(path=str(site.shots / "field_error_keeps_photos.png"), full_page=True)
    page.locator("#resolve-form textarea[name=note]").fill("Zamenjena svetiljka")
    page.locator("#resolve-form button[type=submit]").click()
    page.wait_for_load_state()
    assert status_of(site.gw, ref) == "resolved"
    with session_scope(site.gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        rows = s.exec(select(AttachmentRow).where(AttachmentRow.ticket_id == t.id)).all()
    assert sorted((a.phase, a.filename) for a in rows) == [("after", "posle.jpg"), ("before", "pre.jpg")]
    page.screenshot(path=str(site.shots / "field_resolved.png"), full_page=True)


def test_a_field_worker_returns_a_work_order_that_is_not_theirs(site: Site, page: Page) -> None:
    ref = work_order(site, "Pukla cev ispred škole")
    page.set_viewport_size({"width": 390, "height": 844})
    login(site, page, "rasveta")
    page.goto(f"{site.url}/tickets/{ref}")
    page.screenshot(path=str(site.shots / "field_page.png"), full_page=True)
    page.locator("#not-ours-form input[name=note]").fill("Ovo je vodovod, ne rasveta")
    page.locator("#not-ours-form button[type=submit]").click()
    page.wait_for_load_state()
    assert status_of(site.gw, ref) == "open"

"""An operator on a headset records a phone report in headless Chromium with the keyboard only:
caller first (earlier tickets appear), text, the suggested category by arrow key, address, reply
channel, Ctrl+Enter; screenshots of the page."""

from __future__ import annotations

from playwright.sync_api import Page
from sqlmodel import select

from storage.db import session_scope
from storage.models import OutboxMessage, Ticket
from tests.core.helpers import sms
from tests.web.test_browser import Site, login, page, site

__all__ = ["page", "site"]

CALLER = "+381645550011"


def test_an_operator_records_a_phone_report_with_the_keyboard_only(site: Site, page: Page) -> None:
    gw = site.gw
    earlier = gw.inbox.ingest_sync(sms(gw, CALLER, "Rupa na putu u Zmaj Jovinoj")).reference
    login(site, page, "operater")
    page.goto(site.url + "/tickets/new")
    assert page.evaluate("document.activeElement.name") == "phone"  # caller number first
    kb = page.keyboard
    kb.type("064 555 0011")
    page.wait_for_selector(f"#caller >> text={earlier}")
    kb.press("Tab")  # e-mail
    kb.press("Tab")  # name
    kb.type("Jovana Jović")
    kb.press("Tab")
    assert page.evaluate("document.activeElement.name") == "description"
    kb.type("Ne radi ulična rasveta ispred škole, ceo blok je u mraku")
    page.wait_for_selector("#suggestion")
    assert page.locator("#category").input_value() == ""  # suggested, never pre-chosen
    kb.press("Tab")
    assert page.evaluate("document.activeElement.name") == "category"
    kb.press("ArrowDown")  # the ★ suggestion right under the empty choice
    assert page.locator("#category").input_value() == "javna_rasveta"
    kb.press("Tab")
    kb.type("Vojvode Mišića 12")
    kb.press("Tab")  # photos (none from the phone)
    kb.press("Tab")
    assert page.evaluate("document.activeElement.name") == "reply_via"
    kb.press("ArrowDown")  # SMS
    page.screenshot(path=str(site.shots / "new_report.png"), full_page=True)
    kb.press("Control+Enter")
    page.wait_for_url("**/tickets/S48-*")
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).order_by(Ticket.id.desc())).first()  # type: ignore[union-attr]
        assert t is not None
        ack = s.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == t.id)).one()
    assert (t.channel, t.category, t.location_text) == ("phone", "javna_rasveta", "Vojvode Mišića 12")
    assert (ack.channel, ack.recipient) == ("sms", CALLER)
    assert page.url.endswith(t.reference)
    page.screenshot(path=str(site.shots / "new_report_saved.png"), full_page=True)


def test_the_new_report_page_on_a_phone_and_a_refused_save_keeps_the_typing(site: Site, page: Page) -> None:
    login(site, page, "operater")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/tickets/new")
    page.fill("input[name=phone]", "0601234999")
    page.fill("textarea[name=description]", "Prijava bez kategorije")
    # the browser stops an empty required category; the server refuses it too (when forced)
    page.click("#new-report button[type=submit]")
    assert page.url.endswith("/tickets/new")
    assert page.locator("#category").evaluate("s => s.validity.valueMissing") is True
    page.screenshot(path=str(site.shots / "new_report_phone.png"), full_page=True)

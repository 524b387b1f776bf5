"""The operator's safe actions in headless Chromium: the review cannot validate a blank voicemail,
discard and merge on the ticket page ask for a ticked confirmation and can be undone, a correction
after validation lands in the timeline; screenshots of each state."""

from __future__ import annotations

from playwright.sync_api import Page
from sqlmodel import select

from storage.db import session_scope
from storage.models import Ticket
from tests.core.helpers import sms
from tests.web.conftest import PHONE, voicemail
from tests.web.test_browser import Site, login, page, site, status_of

__all__ = ["page", "site"]


def test_the_review_cannot_validate_a_blank_voicemail_from_the_keyboard(
    site: Site, page: Page, spoken_wav: bytes
) -> None:
    gw = site.gw
    blank = voicemail(gw, "+381601234000", spoken_wav)  # no transcript, no text, no location
    login(site, page, "operater")
    page.goto(site.url + "/review")
    card = page.locator(f"#vm-{blank}")
    assert card.locator("select[name=category]").input_value() == ""
    card.focus()
    page.keyboard.press("v")
    page.wait_for_timeout(500)
    assert status_of(gw, blank) == "received" and "done" not in (card.get_attribute("class") or "")
    # choosing a category is not enough: the text of the report is required too
    card.locator("select[name=category]").select_option(index=2)
    card.focus()
    page.keyboard.press("v")
    page.wait_for_timeout(500)
    assert status_of(gw, blank) == "received"
    assert card.locator("textarea[name=description]").evaluate("t => t.validity.valueMissing") is True
    page.screenshot(path=str(site.shots / "review_blank_refused.png"), full_page=True)
    card.locator("textarea[name=description]").fill("Curi voda ispred zgrade, Kralja Petra 3")
    card.focus()
    page.keyboard.press("v")
    page.wait_for_selector(f"#vm-{blank}.done")
    assert status_of(gw, blank) == "open"


def test_discard_on_the_ticket_page_needs_confirmation_and_is_undone(site: Site, page: Page) -> None:
    gw = site.gw
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu kod pijace")).reference
    login(site, page, "operater")
    page.goto(f"{site.url}/tickets/{ref}")
    assert page.locator("select[name=to]").count() == 0  # explicit buttons only
    page.screenshot(path=str(site.shots / "ticket_actions.png"), full_page=True)
    form = page.locator("#discard-form")
    form.locator("input[name=note]").fill("greška")
    form.locator("button[type=submit]").click()
    page.wait_for_timeout(300)
    assert status_of(gw, ref) == "received"  # the unticked confirmation stopped it
    form.locator("input[name=confirm]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#undo-form")
    assert status_of(gw, ref) == "discarded"
    page.screenshot(path=str(site.shots / "ticket_undo.png"), full_page=True)
    page.click("#undo-form button[type=submit]")
    page.wait_for_selector("#discard-form")
    assert status_of(gw, ref) == "received"
    assert "poništeno" in page.locator(".timeline").inner_text()


def test_merge_needs_confirmation_and_a_correction_after_validation_is_in_the_timeline(
    site: Site, page: Page
) -> None:
    gw = site.gw
    original = gw.inbox.ingest_sync(sms(gw, PHONE, "Ne radi svetlo u parku")).reference
    dup = gw.inbox.ingest_sync(sms(gw, "+381601112299", "Park je u mraku")).reference
    login(site, page, "operater")
    page.goto(f"{site.url}/tickets/{dup}")
    merge = page.locator("#merge-form")
    merge.locator("input[name=duplicate_of]").fill(original)
    merge.locator("button[type=submit]").click()
    page.wait_for_timeout(300)
    assert status_of(gw, dup) == "received"
    merge.locator("input[name=confirm]").check()
    merge.locator("button[type=submit]").click()
    page.wait_for_selector("#undo-form")
    assert status_of(gw, dup) == "duplicate"
    assert page.locator("#merged-into").inner_text() == original  # linked both ways
    page.screenshot(path=str(site.shots / "ticket_merged.png"), full_page=True)

    page.goto(f"{site.url}/tickets/{original}")
    assert page.locator("#merged-here").inner_text() == dup
    page.select_option("#validate-form select[name=category]", "javna_rasveta")
    page.click("#validate-form button[type=submit]")
    page.wait_for_selector("#correct-form")
    page.fill("#correct-form input[name=location_text]", "Park Kralja Petra")
    page.click("#correct-form button[type=submit]")
    page.wait_for_selector("text=lokacija: - → Park Kralja Petra")
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == original)).one()
    assert t.location_text == "Park Kralja Petra"
    page.screenshot(path=str(site.shots / "ticket_corrected.png"), full_page=True)

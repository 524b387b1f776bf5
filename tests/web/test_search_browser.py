"""Search in headless Chromium as an operator uses it: the inbox search box finds a caller by each
spelling of the number and a street across Cyrillic and Latin; screenshot of the result."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.core.helpers import mail, sms
from tests.web.test_browser import Site, login, page, site

__all__ = ["page", "site"]

CALLER = "+381647770011"


def search(page: Page, q: str) -> list[str]:
    page.fill("form.filters input[name=q]", q)
    page.press("form.filters input[name=q]", "Enter")
    page.wait_for_load_state()
    return page.locator("#inbox-live table.list tbody td:nth-child(2) a").all_inner_texts()


def test_search_finds_a_caller_by_each_phone_spelling_and_a_street_across_scripts(
    site: Site, page: Page
) -> None:
    gw = site.gw
    by_phone = gw.inbox.ingest_sync(sms(gw, CALLER, "Rupa na putu ispred pošte")).reference
    street = gw.inbox.ingest_sync(
        mail(gw, "mila@example.rs", "Не ради светло у улици Николе Тесле 9", sender_name="Мила Милић")
    ).reference
    login(site, page, "operater")
    page.goto(site.url + "/inbox")
    for spelling in ("+381647770011", "0647770011", "064 777 0011"):
        assert search(page, spelling) == [by_phone], spelling
    assert search(page, "Nikole Tesle") == [street]
    assert search(page, "mila milic") == [street]
    page.screenshot(path=str(site.shots / "search.png"), full_page=True)

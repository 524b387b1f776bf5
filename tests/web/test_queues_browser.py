"""Queues in headless Chromium: the overdue queue lists only late tickets with their deadline, and
a call-back flagged in the review is dialled from the inbox and ticked off with "called back"."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page
from sqlmodel import select

from gateway.tickets import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import Ticket
from tests.core.helpers import sms
from tests.web.conftest import voicemail
from tests.web.test_browser import Site, login, page, site

__all__ = ["page", "site"]


def test_the_overdue_queue_and_the_called_back_button(site: Site, page: Page, spoken_wav: bytes) -> None:
    gw = site.gw
    late = gw.inbox.ingest_sync(sms(gw, "+381641212000", "Kasni: rupa kod mosta")).reference
    fresh = gw.inbox.ingest_sync(sms(gw, "+381641212001", "Nova: grana na putu")).reference
    with session_scope(gw.engine, write=True) as s:
        for ref, due in ((late, gw.clock() - timedelta(hours=1)), (fresh, gw.clock() + timedelta(days=2))):
            t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
            gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
            t.due_at = due
            s.add(t)
    caller = "+381641212999"
    flagged = voicemail(gw, caller, spoken_wav)
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == flagged)).one()
        gw.tickets.mark_callback(s, t, SYSTEM, True)
    login(site, page, "operater")
    page.goto(site.url + "/inbox")
    page.select_option("form.filters select[name=queue]", "overdue")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    listed = page.locator("#inbox-live table.list tbody td:nth-child(2) a").all_inner_texts()
    assert late in listed and fresh not in listed
    dial = page.locator(f"#callbacks a.dial[href='tel:{caller}']")
    assert dial.inner_text() == caller
    page.screenshot(path=str(site.shots / "queues.png"), full_page=True)
    dial.locator("xpath=..").locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(f"a.dial[href='tel:{caller}']").count() == 0
    with session_scope(gw.engine) as s:
        assert s.exec(select(Ticket.needs_callback).where(Ticket.reference == flagged)).one() is False

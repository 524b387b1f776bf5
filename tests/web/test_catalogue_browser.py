"""The admin's catalogue and tokens pages, the street suggestions and the utility's reopened jobs in
headless Chromium: a keyword added in the UI routes the next SMS and mail of the same running gateway;
a token is created (shown once) and revoked after a confirmation; both report forms offer the
register's streets; a job the citizen says is not fixed stays on the utility's list with their words."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page
from sqlmodel import select

from gateway.ticket_states import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import Ticket
from tests.core.helpers import mail, sms
from tests.web.test_browser import Site, login, page, site

__all__ = ["page", "site"]


def category_of(gw: Any, ref: str) -> str | None:
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        return t.category or t.suggested_category


def test_a_keyword_added_in_the_ui_applies_to_the_next_sms_and_mail_without_a_restart(
    site: Site, page: Page
) -> None:
    gw = site.gw
    assert gw.config.category("komunalni_red") is None
    login(site, page, "admin")
    page.click("nav >> text=Katalog")
    page.screenshot(path=str(site.shots / "admin_catalogue.png"), full_page=True)
    # A new category with a mistake first: the form keeps what was typed and says what is wrong.
    form = page.locator("#add-category")
    form.locator("input[name=code]").fill("komunalni_red")
    form.locator("input[name=name]").fill("Grafiti i komunalni red")
    form.locator("select[name=utility]").select_option("komunalna_inspekcija")
    form.locator("input[name=sla_hours]").fill("48")
    form.locator("textarea[name=keywords]").fill("grafit\nšaranje")
    page.evaluate("document.querySelector('#add-category input[name=sla_hours]').removeAttribute('min')")
    form.locator("input[name=sla_hours]").fill("0")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#add-category .err")
    page.screenshot(path=str(site.shots / "admin_catalogue_error.png"), full_page=True)
    assert page.locator("#add-category textarea[name=keywords]").input_value() == "grafit\nšaranje"
    page.fill("#add-category input[name=sla_hours]", "48")
    page.click("#add-category button[type=submit]")
    page.wait_for_selector("#category-komunalni_red")
    assert "Važi odmah" in page.content()

    after = gw.inbox.ingest_sync(sms(gw, "+381641000002", "Novi grafit na fasadi")).reference
    by_mail = gw.inbox.ingest_sync(mail(gw, "gradjanin@example.rs", "Grafiti po celom prolazu")).reference
    assert category_of(gw, str(after)) == "komunalni_red" and category_of(gw, str(by_mail)) == "komunalni_red"

    # Editing a keyword of an existing category, keyboard only.
    page.click("#category-smece >> text=Izmeni")
    page.screenshot(path=str(site.shots / "admin_catalogue_edit.png"), full_page=True)
    page.focus("#edit-category textarea[name=keywords]")
    page.keyboard.press("Control+End")
    page.keyboard.type("\nodbačen nameštaj")
    page.keyboard.press("Tab")  # to the checkbox
    page.keyboard.press("Tab")  # to Save
    page.keyboard.press("Enter")
    page.wait_for_selector("#category-smece >> text=odbačen nameštaj")
    couch = gw.inbox.ingest_sync(sms(gw, "+381641000003", "Odbačen nameštaj kraj kontejnera")).reference
    assert category_of(gw, str(couch)) == "smece"


def test_tokens_page_creates_a_token_shown_once_and_revokes_it_after_confirmation(
    site: Site, page: Page
) -> None:
    login(site, page, "admin")
    page.click("nav >> text=API tokeni")
    page.fill("#add-token input[name=name]", "Gradska aplikacija")
    page.select_option("#add-token select[name=role]", "app")
    page.click("#add-token button[type=submit]")
    secret = page.locator("#new-token .secret").inner_text().strip()
    assert secret.startswith("s48_")
    page.screenshot(path=str(site.shots / "admin_tokens_created.png"), full_page=True)
    page.goto(site.url + "/admin/tokens")
    assert secret not in page.content()
    row = page.locator("tr", has_text="Gradska aplikacija")
    row.locator("text=Opozovi").click()
    page.wait_for_selector("#confirm-revoke")
    page.screenshot(path=str(site.shots / "admin_tokens_revoke.png"), full_page=True)
    page.click("#confirm-revoke button[type=submit]")
    page.wait_for_selector("tr:has-text('Gradska aplikacija') >> text=opozvan")
    r = page.request.get(site.url + "/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"})
    assert r.status == 401


def test_both_report_forms_suggest_streets_from_the_register(site: Site, page: Page) -> None:
    login(site, page, "operater")
    page.goto(site.url + "/tickets/new")
    page.focus("input[name=location_text]")
    page.keyboard.type("Njeg")
    options = page.evaluate(
        "[...document.querySelector('input[name=location_text]').list.options].map(o => o.value)"
    )
    assert "Njegoševa" in options
    public = site.browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    p = public.new_page()
    p.goto(site.url + "/prijava")
    assert p.locator("input#address").get_attribute("list") == "streets"
    assert p.locator("datalist#streets option[value='Njegoševa']").count() == 1
    p.screenshot(path=str(site.shots / "report_form_streets_phone.png"), full_page=True)
    public.close()


def test_the_utility_sees_a_reopened_job_with_the_citizens_words(site: Site, page: Page) -> None:
    gw = site.gw
    ref = str(gw.inbox.ingest_sync(sms(gw, "+381641000031", "Ne radi sijalica, Zmaj Jovina 3")).reference)
    with session_scope(gw.engine, write=True) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        gw.tickets.transition(s, t, Status.OPEN, SYSTEM, Change(category="javna_rasveta"))
        gw.tickets.transition(s, t, Status.ASSIGNED, SYSTEM, Change(utility="rasveta"))
        gw.tickets.transition(s, t, Status.RESOLVED, SYSTEM, Change(note="Zamenjena sijalica"))
    gw.inbox.ingest_sync(sms(gw, "+381641000031", f"NIJE {ref} svetlo opet ne radi od sinoć"))
    login(site, page, "rasveta")
    page.goto(site.url + "/work-orders")
    row = page.locator("tr", has=page.locator(f"a[href='/tickets/{ref}']"))
    assert "ponovo otvoreno" in row.inner_text() and "„svetlo opet ne radi od sinoć“" in row.inner_text()
    page.screenshot(path=str(site.shots / "work_orders_reopened.png"), full_page=True)

"""Staff administration in headless Chromium: an admin disables a user whose open session stops
working at once (and who cannot sign in again), re-enables, resets a password and adds a user."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.web.conftest import PASSWORD
from tests.web.test_browser import Site, login, page, site

__all__ = ["page", "site"]


def test_an_admin_disables_a_user_whose_open_session_then_stops_working(site: Site, page: Page) -> None:
    operator = site.browser.new_context(viewport={"width": 1280, "height": 900})
    op = operator.new_page()
    op.goto(site.url + "/login")
    op.fill("input[name=username]", "operater")
    op.fill("input[name=password]", PASSWORD)
    op.click("button[type=submit]")
    op.wait_for_url("**/inbox")

    login(site, page, "admin")
    page.goto(site.url + "/admin/users")
    page.screenshot(path=str(site.shots / "admin_users.png"), full_page=True)
    page.click("#user-operater form[action$='/disable'] button")
    page.wait_for_selector("#user-operater >> text=isključen")

    op.goto(site.url + "/inbox")
    assert "/login" in op.url  # the open session ended
    op.fill("input[name=username]", "operater")
    op.fill("input[name=password]", PASSWORD)
    op.click("button[type=submit]")
    op.wait_for_load_state()
    assert "/login" in op.url and "Pogrešno korisničko ime ili lozinka" in op.content()

    page.click("#user-operater form[action$='/enable'] button")
    page.fill("#user-operater form[action$='/password'] input[name=password]", "nova-lozinka-123")
    page.click("#user-operater form[action$='/password'] button")
    page.wait_for_load_state()
    op.goto(site.url + "/login")
    op.fill("input[name=username]", "operater")
    op.fill("input[name=password]", "nova-lozinka-123")
    op.click("button[type=submit]")
    op.wait_for_url("**/inbox")
    operator.close()

    page.fill("#add-user input[name=username]", "dezurna")
    page.fill("#add-user input[name=password]", "dezurna-lozinka-1")
    page.select_option("#add-user select[name=role]", "operator")
    page.click("#add-user button[type=submit]")
    page.wait_for_selector("#user-dezurna")
    page.fill("#add-user input[name=username]", "dezurna")  # again: one line, no traceback
    page.fill("#add-user input[name=password]", "dezurna-lozinka-1")
    page.select_option("#add-user select[name=role]", "operator")
    page.click("#add-user button[type=submit]")
    page.wait_for_selector("text=Korisnik sa tim imenom već postoji.")

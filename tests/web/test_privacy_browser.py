"""A citizen's data request in headless Chromium: an admin looks a number up in another spelling,
downloads both exports, is refused an erasure whose confirmation differs, erases it, and reads the
audit log filtered by staff user and by citizen, page by page."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page
from sqlmodel import select

from gateway.citizens import record_pii_access
from storage.db import session_scope
from storage.models import CitizenIdentity, Ticket
from tests.core.helpers import sms
from tests.web.test_browser import Site, login, page, site

__all__ = ["page", "site"]


def test_an_admin_exports_and_then_erases_a_citizens_data_and_reads_the_audit_log(
    site: Site, page: Page, tmp_path: Path
) -> None:
    gw = site.gw
    ref = gw.inbox.ingest_sync(
        sms(gw, "+381641239999", "Rupa u Ulici Kralja Petra, zovite 0641239999")
    ).reference
    gw.inbox.ingest_sync(sms(gw, "+381651110000", "Ne radi svetlo"))
    with session_scope(gw.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        citizen_id = ticket.citizen_id
    login(site, page, "operater")
    page.goto(site.url + f"/tickets/{ref}")  # the operator sees the reporter: an audit row
    page.context.clear_cookies()

    login(site, page, "admin")
    page.goto(site.url + "/admin/privacy")
    page.fill("#privacy-lookup input[name=q]", "064 123 9999")
    page.click("#privacy-lookup button[type=submit]")
    page.wait_for_selector("#privacy-result")
    assert "+381641239999" in page.inner_text("#privacy-result")
    assert "Ne radi svetlo" not in page.content()  # somebody else's
    page.screenshot(path=str(site.shots / "privacy_lookup.png"), full_page=True)

    with page.expect_download() as got:
        page.click("#export-json button")
    data = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
    assert [t["reference"] for t in data["tickets"]] == [ref]
    with page.expect_download() as got:
        page.click("#export-html button")
    assert "Kralja Petra" in Path(got.value.path()).read_text(encoding="utf-8")

    page.fill("#privacy-erase input[name=confirm]", "0641239998")
    page.click("#privacy-erase button[type=submit]")
    page.wait_for_selector("#privacy-error")
    assert "nothing was erased" in page.inner_text(
        "#privacy-error"
    ) or "ništa nije obrisano" in page.inner_text("#privacy-error")
    with session_scope(gw.engine) as s:
        assert (
            s.exec(select(CitizenIdentity).where(CitizenIdentity.value == "+381641239999")).first()
            is not None
        )

    page.fill("#privacy-erase input[name=confirm]", "0641239999")
    page.click("#privacy-erase button[type=submit]")
    page.wait_for_selector("#privacy-erased")
    page.screenshot(path=str(site.shots / "privacy_erased.png"), full_page=True)
    with session_scope(gw.engine) as s:
        assert s.exec(select(CitizenIdentity).where(CitizenIdentity.value == "+381641239999")).first() is None
        kept = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        assert "Kralja Petra" in kept.description and "0641239999" not in kept.description

    with session_scope(gw.engine, write=True) as s:
        for i in range(60):  # more than one page of the viewer
            record_pii_access(s, "operator:operater", None, citizen_id, f"voicemail review {i}")
    page.goto(site.url + "/admin/audit")
    page.select_option("#audit-filter select[name=actor]", "operator:operater")
    page.fill("#audit-filter input[name=citizen]", f"#{citizen_id}")
    page.click("#audit-filter button[type=submit]")
    page.wait_for_selector("#page-next")
    rows = page.inner_text("#audit-rows")
    assert "admin:admin" not in rows and "voicemail review 59" in rows
    page.screenshot(path=str(site.shots / "admin_audit.png"), full_page=True)
    page.click("#page-next")
    page.wait_for_load_state()
    rows = page.inner_text("#audit-rows")
    assert "ticket detail" in rows and "2 / 2" in page.inner_text("#audit-pager")

    page.goto(site.url + "/admin/audit")
    page.select_option("#audit-filter select[name=actor]", "admin:admin")
    page.click("#audit-filter button[type=submit]")
    page.wait_for_load_state()
    rows = page.inner_text("#audit-rows")
    assert "erasure" in rows and "privacy request export json" in rows
    assert "identities=1" in page.inner_text("#removals")  # the erasure's counts, never content

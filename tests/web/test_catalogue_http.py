"""The catalogue in the database (both databases): seeded from the TOML once, an admin's save applies
to the running gateway and, through the version row, to a second process; a category with tickets is
only disabled (hidden from forms), wrong input comes back in the form with what was typed."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from gateway.app import build_gateway
from gateway.catalogue import CatalogueError
from storage.db import session_scope
from storage.models import CatalogueCategory, Ticket
from tests.core.helpers import mail, sms
from tests.web.conftest import PHONE, web_config
from tests.web.test_web_http import client, csrf_of, login

__all__ = ["client"]


def category_of(gw: Any, ref: str) -> str | None:
    with session_scope(gw.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        return t.category or t.suggested_category


def test_a_keyword_added_in_the_ui_routes_the_next_sms_and_mail_without_a_restart(
    client: TestClient, gw: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = gw.inbox.ingest_sync(sms(gw, PHONE, "Ima jedan trotinet bačen na trotoaru")).reference
    assert category_of(gw, str(before)) is None
    login(client, "admin")
    page = client.get("/admin/catalogue/category/smece")
    assert page.status_code == 200 and 'name="keywords"' in page.text
    words = gw.config.category("smece").keywords
    with caplog.at_level(logging.INFO, logger="gateway.catalogue"):
        r = client.post(
            "/admin/catalogue/category",
            data={
                "csrf": csrf_of(page.text),
                "code": "smece",
                "name": "Smeće i otpad",
                "utility": "cistoca",
                "sla_hours": "24",
                "keywords": "\n".join([*words, "trotinet"]),
                "enabled": "1",
            },
        )
    assert r.status_code == 303
    assert any("admin changed category smece" in m for m in caplog.messages)  # the audit line
    after_sms = gw.inbox.ingest_sync(sms(gw, "+381641111222", "Opet trotinet na trotoaru")).reference
    after_mail = gw.inbox.ingest_sync(mail(gw, "druga@example.rs", "Trotinet ispred zgrade")).reference
    assert category_of(gw, str(after_sms)) == "smece" and category_of(gw, str(after_mail)) == "smece"
    assert gw.config.category("smece").sla_hours == 24 and gw.config.category("smece").name == "Smeće i otpad"


def test_a_second_process_picks_up_the_change_from_the_version_row(
    gw: Any, tmp_path: Path, clock: Any
) -> None:
    other = build_gateway(web_config(tmp_path / "other", gw.config.database_url()), clock=clock, roles=set())
    try:
        assert other.config.category("smece").keywords == gw.config.category("smece").keywords
        gw.catalogue.save_category(
            "admin",
            code="trotineti",
            name="Trotineti",
            utility="komunalna_milicija",
            sla_hours="48",
            keywords=["trotinet"],
            enabled=True,
            new=True,
        )
        assert other.config.category("trotineti") is None  # not yet checked
        assert other.catalogue.refresh() is True
        assert other.config.category("trotineti") is not None
        assert other.catalogue.refresh() is False  # same version: one read, nothing reloaded
        ref = other.inbox.ingest_sync(sms(other, PHONE, "Trotinet na pešačkom prelazu")).reference
        assert category_of(other, str(ref)) == "trotineti"
    finally:
        other.engine.dispose()


def test_the_toml_seeds_only_the_first_start(gw: Any, tmp_path: Path, clock: Any) -> None:
    gw.catalogue.save_escalation("admin", ["koordinator@grad.example.rs"])
    cfg = web_config(tmp_path / "again", gw.config.database_url())
    assert cfg.sla.escalation_emails != ["koordinator@grad.example.rs"]
    again = build_gateway(cfg, clock=clock, roles=set())
    try:
        assert again.config.sla.escalation_emails == ["koordinator@grad.example.rs"]
    finally:
        again.engine.dispose()


def test_a_category_with_tickets_is_only_disabled_and_then_hidden_from_forms(
    client: TestClient, gw: Any
) -> None:
    ref = gw.inbox.ingest_sync(sms(gw, PHONE, "Pukla cev kod škole")).reference
    assert category_of(gw, str(ref)) == "vodovod_kvar"
    login(client, "admin")
    page = client.get("/admin/catalogue/category/vodovod_kvar?delete=1")
    assert "Da, obriši" in page.text
    r = client.post("/admin/catalogue/category/vodovod_kvar/delete", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 422 and "ne može se obrisati, samo isključiti" in r.text
    with session_scope(gw.engine) as s:
        assert s.get(CatalogueCategory, "vodovod_kvar") is not None
    cat = gw.config.category("vodovod_kvar")
    r = client.post(
        "/admin/catalogue/category",
        data={
            "csrf": csrf_of(page.text),
            "code": "vodovod_kvar",
            "name": cat.name,
            "utility": cat.utility,
            "sla_hours": str(cat.sla_hours),
            "keywords": "\n".join(cat.keywords),
        },
    )
    assert r.status_code == 303 and gw.config.category("vodovod_kvar").enabled is False
    assert 'value="vodovod_kvar"' not in client.get("/tickets/new").text
    assert 'value="vodovod_kvar"' not in client.get("/prijava").text
    assert "vodovod_kvar" in client.get("/admin/catalogue").text  # still listed for the admin
    later = gw.inbox.ingest_sync(sms(gw, "+381641111333", "Pukla cev opet")).reference
    assert category_of(gw, str(later)) != "vodovod_kvar"
    gw.catalogue.save_category(
        "admin",
        code="probna",
        name="Proba",
        utility="putevi",
        sla_hours="48",
        keywords=[],
        enabled=True,
        new=True,
    )
    gw.catalogue.delete_category("admin", "probna")  # never used by a ticket: it may go
    assert gw.config.category("probna") is None


def test_wrong_input_is_shown_in_the_form_with_what_was_typed(client: TestClient, gw: Any) -> None:
    login(client, "admin")
    page = client.get("/admin/catalogue")
    csrf = csrf_of(page.text)
    r = client.post(
        "/admin/catalogue/category",
        data={
            "csrf": csrf,
            "new": "1",
            "code": "Rupe Na Putu",
            "name": "Rupe",
            "utility": "putevi",
            "sla_hours": "24",
            "keywords": "rupa\nudarna rupa",
        },
    )
    assert r.status_code == 422 and "Šifra: 2–40 malih slova" in r.text
    assert 'value="Rupe Na Putu"' in r.text and "udarna rupa" in r.text and 'aria-invalid="true"' in r.text
    r = client.post(
        "/admin/catalogue/utility",
        data={"csrf": csrf, "new": "1", "code": "mostovi", "name": "Mostovi", "emails": "nije adresa"},
    )
    assert r.status_code == 422 and "Neispravna adresa e-pošte." in r.text and "nije adresa" in r.text
    r = client.post(
        "/admin/catalogue/category",
        data={
            "csrf": csrf,
            "new": "1",
            "code": "rupe",
            "name": "Rupe",
            "utility": "putevi",
            "sla_hours": "0",
        },
    )
    assert r.status_code == 422 and "Rok: ceo broj sati" in r.text
    with pytest.raises(CatalogueError):
        gw.catalogue.save_category(
            "admin",
            code="smece",
            name="x",
            utility="putevi",
            sla_hours="5",
            keywords=[],
            enabled=True,
            new=True,
        )
    assert gw.config.category("rupe") is None and gw.config.utility("mostovi") is None


def test_only_an_admin_sees_the_catalogue(client: TestClient) -> None:
    login(client, "operater")
    assert client.get("/admin/catalogue").status_code == 403
    assert client.get("/admin/tokens").status_code == 403


def test_a_running_process_reloads_by_itself_within_its_check_interval(
    gw: Any, tmp_path: Path, clock: Any
) -> None:
    other = build_gateway(web_config(tmp_path / "worker", gw.config.database_url()), clock=clock, roles=set())
    other.catalogue.check_every_s = 0.1

    async def scenario() -> bool:
        await other.start()
        try:
            await asyncio.to_thread(
                gw.catalogue.save_category,
                "admin",
                code="golubovi",
                name="Golubovi",
                utility="komunalna_inspekcija",
                sla_hours="48",
                keywords=["golub"],
                enabled=True,
                new=True,
            )
            for _ in range(50):
                if other.config.category("golubovi") is not None:
                    return True
                await asyncio.sleep(0.1)
            return False
        finally:
            await other.stop()

    assert asyncio.run(scenario()) is True

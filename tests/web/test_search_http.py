"""Staff search over HTTP (both databases): a reporter by each phone spelling, by e-mail and by
name, a street across Cyrillic and Latin and with or without diacritics, a reference exactly."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.search import identity_key
from tests.core.helpers import mail, sms
from tests.web.conftest import EMAIL, NAME, PHONE
from tests.web.test_web_http import client, login

__all__ = ["client"]


def found(client: TestClient, q: str) -> set[str]:
    html = client.get("/inbox", params={"q": q}).text
    return set(re.findall(r'href="/tickets/(S48-\d{4}-\d{6})"', html))


@pytest.fixture
def seeded(client: TestClient, gw: Any) -> dict[str, str]:
    refs = {
        "sms": gw.inbox.ingest_sync(sms(gw, PHONE, "Rupa na putu kod pijace")).reference,
        "mail": gw.inbox.ingest_sync(
            mail(gw, EMAIL, "Ne radi svetlo u ulici Николе Тесле 5", sender_name=NAME)
        ).reference,
        "other": gw.inbox.ingest_sync(
            sms(gw, "+381607654321", "Šahta bez poklopca, Đure Đakovića 3. Zovite 011 3334444")
        ).reference,
    }
    login(client, "operater")
    return refs


SPELLINGS = ["+381641234567", "0641234567", "064 123 4567", "064/123-45-67", "00381641234567"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_caller_is_found_by_every_spelling_of_the_number(
    client: TestClient, seeded: dict[str, str], spelling: str
) -> None:
    assert found(client, spelling) == {seeded["sms"]}


def test_a_reporter_is_found_by_e_mail_and_by_name_in_either_script(
    client: TestClient, seeded: dict[str, str]
) -> None:
    for q in (EMAIL, EMAIL.upper(), NAME, "pera peric", "Пера Перић"):
        assert found(client, q) == {seeded["mail"]}, q


def test_a_street_is_found_across_scripts_and_without_diacritics(
    client: TestClient, seeded: dict[str, str]
) -> None:
    for q in ("Nikole Tesle", "николе тесле", "NIKOLE TESLE 5"):
        assert found(client, q) == {seeded["mail"]}, q
    for q in ("Đure Đakovića", "djure djakovica", "Ђуре Ђаковића", "sahta"):
        assert found(client, q) == {seeded["other"]}, q
    assert found(client, "0113334444") == {seeded["other"]}  # a number written in the text


def test_a_reference_finds_exactly_its_ticket(client: TestClient, seeded: dict[str, str]) -> None:
    assert found(client, seeded["mail"].lower()) == {seeded["mail"]}
    assert found(client, "Tesle pijace") == set()  # every word must match


def test_identity_key_reads_what_a_person_types() -> None:
    assert identity_key("064 123 4567", "RS") == ("phone", PHONE)
    assert identity_key(" Pera.Peric@Example.RS ", "RS") == ("email", "pera.peric@example.rs")
    assert identity_key("Nikole Tesle 5", "RS") is None
    assert identity_key("2026", "RS") is None


def test_the_search_index_follows_an_edited_text_and_old_rows_are_still_found(
    client: TestClient, seeded: dict[str, str], gw: Any
) -> None:
    import sqlalchemy as sa
    from sqlmodel import select

    from gateway.tickets import SYSTEM
    from storage.db import session_scope
    from storage.models import Ticket

    with session_scope(gw.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == seeded["sms"])).one()
        gw.tickets.update_details(s, ticket, SYSTEM, description="Oboreno drvo u Ulici Vojvode Mišića")
    assert found(client, "vojvode misica") == {seeded["sms"]}
    assert found(client, "pijace") == set()  # the old words left the index with the old text
    with session_scope(gw.engine, write=True) as s:  # a row from before the folded text existed
        s.execute(sa.update(Ticket).where(Ticket.reference == seeded["other"]).values(search_text=None))  # type: ignore[arg-type]
    assert found(client, "Šahta") == {seeded["other"]}
    assert found(client, "Đure Đakovića") == {seeded["other"]}

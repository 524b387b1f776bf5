"""Street suggestions from the register on both report forms (both databases): a plain HTML
<datalist> tied to the address field, so it works without JavaScript; Cyrillic on the Cyrillic form."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.web.test_web_http import client, login

__all__ = ["client"]


def suggestions(html: str, field: str) -> list[str]:
    assert re.search(rf'<input[^>]*name="{field}"[^>]*list="streets"', html), "field not tied to the list"
    box = re.search(r'<datalist id="streets">(.*?)</datalist>', html, re.S)
    assert box is not None
    return re.findall(r'<option value="([^"]*)">', box.group(1))


def test_the_operators_address_field_suggests_the_registers_streets(client: TestClient) -> None:
    login(client, "operater")
    names = suggestions(client.get("/tickets/new").text, "location_text")
    assert "Njegoševa" in names and "Ulica kralja Petra I" in names and "Zmaj Jovina" in names
    assert names == sorted(set(names), key=names.index)  # once each


def test_the_public_form_suggests_streets_in_the_citizens_script(client: TestClient, gw: Any) -> None:
    latin = suggestions(client.get("/prijava").text, "address")
    assert "Njegoševa" in latin and "Dunavska" in latin
    cyrillic = suggestions(client.get("/prijava?pismo=cir").text, "address")
    assert "Његошева" in cyrillic and "Дунавска" in cyrillic
    gw.config.streets.enabled = False
    assert suggestions(client.get("/prijava").text, "address") == []

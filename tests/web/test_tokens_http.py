"""The admin's API tokens page (both databases): the secret is shown once and never listed, revoking
needs a confirmation step and the token stops working at once; last use is shown."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.web.test_web_http import client, csrf_of, login

__all__ = ["client"]


def test_a_token_is_shown_once_works_and_stops_working_when_revoked(client: TestClient, gw: Any) -> None:
    login(client, "admin")
    page = client.get("/admin/tokens")
    assert page.status_code == 200 and "nikad" in page.text  # the fixture's tokens were never used
    r = client.post(
        "/admin/tokens", data={"csrf": csrf_of(page.text), "name": "Aplikacija grada", "role": "operator"}
    )
    assert r.status_code == 200
    secret = re.search(r'<p class="secret">(s48_[^<]+)</p>', r.text)
    assert secret is not None
    token = secret.group(1)
    listed = client.get("/admin/tokens").text
    assert token not in listed and "Aplikacija grada" in listed
    api = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    row = re.search(r'<tr id="token-(\d+)">\s*<td>Aplikacija grada</td>', client.get("/admin/tokens").text)
    assert row is not None
    token_id = row.group(1)
    ask = client.get(f"/admin/tokens?revoke={token_id}")
    assert "Da, opozovi" in ask.text and f'action="/admin/tokens/{token_id}/revoke"' in ask.text
    assert 'id="confirm-revoke"' not in client.get("/admin/tokens").text  # no one-click revoke
    r = client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf": csrf_of(ask.text)})
    assert r.status_code == 303
    assert client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    after = client.get("/admin/tokens").text
    assert re.search(rf'<tr id="token-{token_id}">.*?opozvan', after, re.S)


def test_a_token_without_a_name_or_with_a_utility_role_and_no_utility_is_refused_in_the_form(
    client: TestClient,
) -> None:
    login(client, "admin")
    csrf = csrf_of(client.get("/admin/tokens").text)
    r = client.post("/admin/tokens", data={"csrf": csrf, "name": " ", "role": "operator"})
    assert r.status_code == 422 and "Upišite naziv tokena." in r.text and "s48_" not in r.text
    r = client.post("/admin/tokens", data={"csrf": csrf, "name": "Služba", "role": "utility"})
    assert r.status_code == 422 and 'value="Služba"' in r.text and "i tada je obavezna" in r.text
    r = client.post(
        "/admin/tokens", data={"csrf": csrf, "name": "Služba", "role": "utility", "utility": "rasveta"}
    )
    assert r.status_code == 200 and '<p class="secret">s48_' in r.text

"""The data request pages over HTTP on SQLite and PostgreSQL: the erasure form refuses a differing
confirmation and erases with a matching one in another spelling; the export is a JSON download."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from gateway.app import create_app
from storage.db import session_scope
from storage.models import CitizenIdentity, OutboxMessage
from tests.core.helpers import sms
from tests.web.conftest import add_staff
from tests.web.test_web_http import csrf_of, login


@pytest.fixture
def admin(gw: Any) -> Iterator[TestClient]:
    add_staff(gw)
    with TestClient(create_app(gw.config, gateway=gw)) as c:
        login(c, "admin")
        yield c


def test_erasure_by_form_needs_the_number_again_and_cancels_queued_replies(
    gw: Any, admin: TestClient
) -> None:
    gw.inbox.ingest_sync(sms(gw, "0641234567", "Rupa na putu"))
    csrf = csrf_of(admin.get("/admin/privacy").text)
    found = admin.post("/admin/privacy", data={"q": "+381 64 123 4567", "csrf": csrf})
    assert found.status_code == 200 and "+381641234567" in found.text
    exported = admin.post("/admin/privacy/export", data={"q": "0641234567", "fmt": "json", "csrf": csrf})
    assert exported.headers["content-disposition"].startswith("attachment")
    assert json.loads(exported.text)["messages"][0]["body"] == "Rupa na putu"

    refused = admin.post(
        "/admin/privacy/erase", data={"q": "0641234567", "confirm": "0641234560", "csrf": csrf}
    )
    assert refused.status_code == 422
    with session_scope(gw.engine) as s:
        assert s.exec(select(CitizenIdentity)).one().value == "+381641234567"

    done = admin.post(
        "/admin/privacy/erase", data={"q": "0641234567", "confirm": "381641234567", "csrf": csrf}
    )
    assert done.status_code == 200 and 'id="privacy-erased"' in done.text
    with session_scope(gw.engine) as s:
        assert s.exec(select(CitizenIdentity)).all() == []
        ack = s.exec(select(OutboxMessage)).one()  # the acknowledgement had not left yet
        assert ack.state == "cancelled" and ack.recipient == "[obrisano]" and ack.body == ""
    gone = admin.post("/admin/privacy", data={"q": "0641234567", "csrf": csrf})
    assert gone.status_code == 404

"""REST API: auth and roles, errors as JSON, the ticket workflow, and the PII rule for utilities."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.auth import create_token
from storage.db import session_scope
from tests.core.helpers import mail, sms

PHONE, EMAIL, NAME = "+381641234567", "pera.peric@example.rs", "Pera Perić"


@pytest.fixture
def api(gateway: Any) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    gateway.config.sms.enabled = True
    gateway.config.mail.enabled = True
    with session_scope(gateway.engine, write=True) as s:
        tokens = {
            "admin": create_token(s, name="a", role="admin"),
            "operator": create_token(s, name="o", role="operator"),
            "rasveta": create_token(s, name="r", role="utility", utility="rasveta"),
            "vodovod": create_token(s, name="v", role="utility", utility="vodovod"),
        }
    headers = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    with TestClient(create_app(gateway.config, gateway=gateway)) as client:
        yield client, headers


def _assigned_ticket_with_pii(gw: Any, client: TestClient, h: dict[str, dict[str, str]]) -> str:
    body = f"Ne radi sijalica ispred broja 12. Zovite me na 064 123 4567 ili {EMAIL}. {NAME}"
    ref = gw.inbox.ingest_sync(
        mail(gw, EMAIL, body, subject=f"Sijalica — {NAME}", sender_name=NAME)
    ).reference
    gw.inbox.ingest_sync(sms(gw, PHONE, f"Dopuna za {ref}: i dalje mrak"))
    r = client.post(
        f"/api/v1/tickets/{ref}/validate", json={"category": "javna_rasveta"}, headers=h["operator"]
    )
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/tickets/{ref}/assign", json={}, headers=h["operator"])
    assert r.status_code == 200, r.text
    return ref


def test_no_token_is_401_with_json_body(api: Any) -> None:
    client, _ = api
    r = client.get("/api/v1/tickets")
    assert r.status_code == 401 and r.json()["detail"] == "missing bearer token"
    r = client.get("/api/v1/tickets", headers={"Authorization": "Bearer s48_nope"})
    assert r.status_code == 401 and "unknown" in r.json()["detail"]


def test_utility_may_not_use_operator_endpoints(api: Any, gateway: Any) -> None:
    client, h = api
    ref = _assigned_ticket_with_pii(gateway, client, h)
    for method, path, body in [
        ("post", "/api/v1/tickets", {"description": "x"}),
        ("post", f"/api/v1/tickets/{ref}/validate", {}),
        ("post", f"/api/v1/tickets/{ref}/assign", {}),
        ("post", f"/api/v1/tickets/{ref}/reply", {"text": "x"}),
        ("post", f"/api/v1/tickets/{ref}/merge", {"into": ref}),
        ("post", f"/api/v1/tickets/{ref}/notes", {"text": "x"}),
        ("get", "/api/v1/calls", None),
    ]:
        r = client.request(method, path, json=body, headers=h["rasveta"])
        assert r.status_code == 403, (path, r.status_code)
        assert "may not" in r.json()["detail"]


def test_operator_workflow_create_validate_assign_resolve_close(api: Any, gateway: Any) -> None:
    client, h = api
    r = client.post(
        "/api/v1/tickets",
        headers=h["operator"],
        json={
            "description": "Rupa na kolovozu kod škole",
            "phone": "0641112233",
            "location_text": "Kralja Petra 5",
        },
    )
    assert r.status_code == 201, r.text
    ref = r.json()["reference"]
    assert r.json()["status"] == "received" and r.json()["suggested_category"] == "udarna_rupa"
    assert (
        client.post(f"/api/v1/tickets/{ref}/validate", json={}, headers=h["operator"]).json()["status"]
        == "open"
    )
    assert (
        client.post(f"/api/v1/tickets/{ref}/assign", json={}, headers=h["operator"]).json()["utility"]
        == "putevi"
    )
    r = client.post(
        f"/api/v1/tickets/{ref}/transition",
        json={"to": "resolved", "note": "zakrpljeno"},
        headers=h["admin"],
    )
    assert r.json()["status"] == "resolved"
    detail = client.post(
        f"/api/v1/tickets/{ref}/transition", json={"to": "closed"}, headers=h["admin"]
    ).json()
    assert [e["to_status"] for e in detail["events"] if e["kind"] == "status"] == [
        "received",
        "open",
        "assigned",
        "resolved",
        "closed",
    ]
    assert {o["kind"] for o in detail["outbound"]} >= {
        "ack",
        "open",
        "assigned",
        "resolved",
        "closed",
    }


def test_invalid_transition_is_409_and_unknown_ticket_404(api: Any, gateway: Any) -> None:
    client, h = api
    ref = gateway.inbox.ingest_sync(sms(gateway, PHONE, "rupa")).reference
    r = client.post(f"/api/v1/tickets/{ref}/transition", json={"to": "closed"}, headers=h["operator"])
    assert r.status_code == 409 and "not allowed" in r.json()["detail"]
    r = client.get("/api/v1/tickets/S48-2026-999999", headers=h["operator"])
    assert r.status_code == 404 and "no ticket" in r.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/tickets", {"description": ""}),
        ("/api/v1/tickets", {"description": "x", "lat": 45.0}),
        ("/api/v1/tickets", {"description": "x", "surprise": 1}),
        ("/api/v1/tickets", {"description": "x", "category": "nope"}),
        ("/api/v1/tickets/REF/transition", {"to": "flying"}),
        ("/api/v1/tickets/REF/transition", {"to": "waiting"}),
        ("/api/v1/tickets/REF/validate", {"category": "nope"}),
        ("/api/v1/tickets/REF/transition", {"to": "forwarded"}),
    ],
)
def test_bad_input_is_422_with_a_message_never_500(
    api: Any, gateway: Any, path: str, body: dict[str, Any]
) -> None:
    client, h = api
    ref = gateway.inbox.ingest_sync(sms(gateway, PHONE, "zdravo")).reference
    r = client.post(path.replace("REF", ref), json=body, headers=h["operator"])
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_malformed_json_is_422(api: Any) -> None:
    client, h = api
    r = client.post(
        "/api/v1/tickets",
        content=b"{not json",
        headers={**h["operator"], "Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_reply_goes_out_on_the_citizens_channel(api: Any, gateway: Any) -> None:
    client, h = api
    ref = gateway.inbox.ingest_sync(sms(gateway, PHONE, "Pukla cev")).reference
    r = client.post(f"/api/v1/tickets/{ref}/reply", json={"text": "Ekipa je na putu."}, headers=h["operator"])
    assert r.status_code == 202 and r.json()["channel"] == "sms"


def test_merge_marks_duplicate_of_original(api: Any, gateway: Any) -> None:
    client, h = api
    a = gateway.inbox.ingest_sync(sms(gateway, PHONE, "Pukla cev")).reference
    b = gateway.inbox.ingest_sync(sms(gateway, "+381651234567", "Pukla cev kod pošte")).reference
    r = client.post(f"/api/v1/tickets/{b}/merge", json={"into": a}, headers=h["operator"])
    assert r.status_code == 200 and r.json()["status"] == "duplicate"


def test_list_filters_and_text_search(api: Any, gateway: Any) -> None:
    client, h = api
    gateway.inbox.ingest_sync(sms(gateway, PHONE, "Pukla cev u Dunavskoj"))
    gateway.inbox.ingest_sync(sms(gateway, "+381651234567", "Sijalica ne radi"))
    r = client.get("/api/v1/tickets", params={"q": "dunavsk", "status": "received"}, headers=h["operator"])
    assert r.json()["total"] == 1
    r = client.get("/api/v1/tickets", params={"channel": "sms", "limit": 1}, headers=h["operator"])
    assert r.json()["total"] == 2 and len(r.json()["items"]) == 1


def test_utility_sees_only_its_own_work_orders_and_no_pii_anywhere(api: Any, gateway: Any) -> None:
    client, h = api
    ref = _assigned_ticket_with_pii(gateway, client, h)
    responses = [
        client.get("/api/v1/tickets", headers=h["rasveta"]),
        client.get(f"/api/v1/tickets/{ref}", headers=h["rasveta"]),
        client.post(
            f"/api/v1/tickets/{ref}/transition",
            json={"to": "in_progress", "note": "ekipa izašla"},
            headers=h["rasveta"],
        ),
        client.get("/api/v1/categories", headers=h["rasveta"]),
        client.get("/api/v1/utilities", headers=h["rasveta"]),
    ]
    for r in responses:
        assert r.status_code == 200, r.text
        text = json.dumps(r.json(), ensure_ascii=False)
        for secret in (
            PHONE,
            "064 123 4567",
            EMAIL,
            "Perić",
            "citizen_id",
            "reporter",
            "identities",
        ):
            assert secret not in text, (r.url, secret)
    assert client.get("/api/v1/tickets", headers=h["rasveta"]).json()["total"] == 1
    assert client.get("/api/v1/tickets", headers=h["vodovod"]).json()["total"] == 0
    assert client.get(f"/api/v1/tickets/{ref}", headers=h["vodovod"]).status_code == 404
    r = client.post(
        f"/api/v1/tickets/{ref}/transition",
        json={"to": "resolved", "note": "x"},
        headers=h["vodovod"],
    )
    assert r.status_code == 404


def test_operator_view_of_reporter_is_audit_logged(api: Any, gateway: Any) -> None:
    from sqlmodel import select

    from storage.models import PiiAccess

    client, h = api
    ref = gateway.inbox.ingest_sync(sms(gateway, PHONE, "Pukla cev")).reference
    detail = client.get(f"/api/v1/tickets/{ref}", headers=h["operator"]).json()
    assert detail["reporter"]["identities"][0]["value"] == PHONE
    with session_scope(gateway.engine) as s:
        assert [a.actor for a in s.exec(select(PiiAccess)).all()] == ["operator:o"]


def test_healthz_and_metrics(api: Any, gateway: Any) -> None:
    client, _ = api
    gateway.inbox.ingest_sync(sms(gateway, PHONE, "Pukla cev"))
    from channels.base import ChannelKind, RawInbound

    gateway.inbox.spool_many_sync([RawInbound(ChannelKind.EMAIL, b"Subject: x\r\n\r\ny", gateway.clock())])
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["database"] == "up"
    assert r.json()["mail_spool"] == {"queued": 1}  # accepted, not parsed yet: shown, not lost
    text = client.get("/metrics").text
    assert 'sistem48_tickets{status="received"} 1.0' in text
    assert 'sistem48_mail_spool{state="queued"} 1.0' in text


def test_returned_call_leaves_the_call_back_list(api: Any, gateway: Any) -> None:
    from channels.base import CallOutcome, CallRecord

    client, h = api
    gateway.inbox.record_call_sync(
        CallRecord("call-7", "0641234567", "48", gateway.clock(), 1.0, CallOutcome.MISSED, True)
    )
    assert (
        len(client.get("/api/v1/calls", params={"callback": True}, headers=h["operator"]).json()["items"])
        == 1
    )
    r = client.post("/api/v1/calls/call-7/called-back", json={"note": "javio se"}, headers=h["operator"])
    assert r.status_code == 200 and r.json()["needs_callback"] is False
    assert client.get("/api/v1/calls", params={"callback": True}, headers=h["operator"]).json()["items"] == []
    assert client.post("/api/v1/calls/nope/called-back", json={}, headers=h["operator"]).status_code == 404


def test_nul_bytes_and_huge_ids_are_refused_not_crashed_on(api: Any, gateway: Any) -> None:
    client, h = api
    ref = gateway.inbox.ingest_sync(sms(gateway, PHONE, "Pukla cev")).reference
    for r in (
        client.get("/api/v1/tickets", params={"category": "a\x00b"}, headers=h["operator"]),
        client.get(f"/api/v1/tickets/{ref}/attachments/323097938620415680", headers=h["operator"]),
        client.post(f"/api/v1/tickets/{ref}/notes", json={"text": "x\x00y"}, headers=h["operator"]),
    ):
        # SQLite stores NUL, PostgreSQL refuses it (422): either way a JSON answer, never a 500.
        assert r.status_code in (200, 201, 404, 422), (r.url, r.status_code, r.text)
        assert r.json()

"""Open311 GeoReport v2 conformance: every endpoint in JSON and XML against the spec's own example
documents (wiki.open311.org/GeoReport_v2), errors in the spec's format, and no reporter PII in GETs."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select

from gateway.tickets import SYSTEM, Change, Status
from storage.db import session_scope
from storage.models import CitizenIdentity, Message, OutboxMessage, Ticket
from tests.open311.conftest import CAMERA, EMAIL, GPS, NAME, PHONE, Env, photo_with_exif

V2 = "/open311/v2"

# The spec's example documents (wiki.open311.org/GeoReport_v2), in tests/open311/spec/, verbatim except
# that its unquoted leading-zero numbers (001, 006), which are not valid JSON, are quoted.
SPEC = Path(__file__).parent / "spec"
SPEC_SERVICES_JSON = (SPEC / "services.json").read_text()
SPEC_SERVICES_XML = (SPEC / "services.xml").read_text()
SPEC_DEFINITION_JSON = (SPEC / "service_definition.json").read_text()
SPEC_DEFINITION_XML = (SPEC / "service_definition.xml").read_text()
SPEC_POST_JSON = (SPEC / "post_request.json").read_text()
SPEC_POST_XML = (SPEC / "post_request.xml").read_text()
SPEC_TOKEN_JSON = (SPEC / "token.json").read_text()
SPEC_TOKEN_XML = (SPEC / "token.xml").read_text()
SPEC_REQUESTS_JSON = (SPEC / "requests.json").read_text()
SPEC_REQUESTS_XML = (SPEC / "requests.xml").read_text()
SPEC_ERRORS_JSON = (SPEC / "errors.json").read_text()
SPEC_ERRORS_XML = (SPEC / "errors.xml").read_text()


def json_shape(doc: Any) -> Any:
    """Field names (and nesting) of a JSON document, values dropped."""
    if isinstance(doc, list):
        return [json_shape(doc[0])] if doc else []
    if isinstance(doc, dict):
        return {k: json_shape(v) if isinstance(v, dict | list) else None for k, v in doc.items()}
    return None


def xml_shape(text: str | bytes) -> tuple[str, list[tuple[str, list[str]]]]:
    """Root tag, and for its first item the item tag and its child tags."""
    root = ET.fromstring(text)
    items = list(root)
    if root.tag in ("service_definition",):
        return root.tag, [("", [c.tag for c in root])]
    return root.tag, [(items[0].tag, [c.tag for c in items[0]])] if items else []


def same_json_shape(ours: Any, spec: str, *, ignore: frozenset[str] = frozenset()) -> None:
    mine, theirs = json_shape(ours), json_shape(json.loads(spec))
    if ignore:
        theirs = _drop(theirs, ignore)
        mine = _drop(mine, ignore)
    assert mine == theirs


def _drop(shape: Any, keys: frozenset[str]) -> Any:
    if isinstance(shape, list):
        return [_drop(s, keys) for s in shape]
    if isinstance(shape, dict):
        return {k: _drop(v, keys) for k, v in shape.items() if k not in keys}
    return shape


def post_request(env: Env, fmt: str = "json", **fields: Any) -> Any:
    data = {
        "api_key": env.keys["app"],
        "service_code": "javna_rasveta",
        "lat": "44.8125",
        "long": "20.4612",
        "description": "Ne radi ulična svetiljka kod broja 12.",
        **fields,
    }
    files = fields.pop("files", None)
    data.pop("files", None)
    return env.client.post(f"{V2}/requests.{fmt}", data=data, files=files)


def ticket(env: Env, reference: str) -> Ticket:
    with session_scope(env.gw.engine) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        s.expunge(row)
        return row


def move(env: Env, reference: str, *steps: tuple[Status, Change]) -> None:
    with session_scope(env.gw.engine, write=True) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == reference)).one()
        for to, change in steps:
            env.gw.tickets.transition(s, row, to, SYSTEM, change)


# -- services --------------------------------------------------------------------------------------
def test_services_list_matches_the_spec_example_in_json_and_xml(env: Env) -> None:
    r = env.client.get(f"{V2}/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    same_json_shape(services, SPEC_SERVICES_JSON)
    lights = next(s for s in services if s["service_code"] == "javna_rasveta")
    assert lights["group"] == "Javna rasveta" and lights["metadata"] is False
    assert len(services) == len(env.gw.config.categories)

    r = env.client.get(f"{V2}/services.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert xml_shape(r.content) == xml_shape(SPEC_SERVICES_XML)
    assert ET.fromstring(r.content).find("service/metadata").text == "false"  # type: ignore[union-attr]


def test_service_definition_has_the_spec_shape_and_unknown_codes_are_spec_404s(env: Env) -> None:
    r = env.client.get(f"{V2}/services/javna_rasveta.json")
    assert r.status_code == 200
    assert set(r.json()) == set(json.loads(SPEC_DEFINITION_JSON)) and r.json()["attributes"] == []
    r = env.client.get(f"{V2}/services/javna_rasveta.xml")
    root = ET.fromstring(r.content)
    assert root.tag == "service_definition"
    assert [c.tag for c in root] == [c.tag for c in ET.fromstring(SPEC_DEFINITION_XML)]

    for fmt in ("json", "xml"):
        r = env.client.get(f"{V2}/services/nema_toga.{fmt}")
        assert r.status_code == 404
        if fmt == "json":
            same_json_shape(r.json(), SPEC_ERRORS_JSON)
            assert r.json()[0]["code"] == 404
        else:
            assert xml_shape(r.content) == xml_shape(SPEC_ERRORS_XML)


# -- POST requests ---------------------------------------------------------------------------------
def test_post_request_opens_a_ticket_like_any_other_contact(env: Env) -> None:
    r = post_request(
        env, email=EMAIL.upper(), phone="064 123 4567", first_name="Pera", last_name="Perić", account_id="A-7"
    )
    assert r.status_code == 201, r.text
    same_json_shape(r.json(), SPEC_POST_JSON)
    reference = r.json()[0]["service_request_id"]
    assert r.json()[0]["account_id"] == "A-7"
    row = ticket(env, reference)
    assert (row.channel, row.category, row.status) == ("web", "javna_rasveta", "received")
    assert (row.lat, row.lon) == (44.8125, 20.4612)
    with session_scope(env.gw.engine) as s:
        ids = {(i.kind, i.value) for i in s.exec(select(CitizenIdentity)).all()}
        ack = s.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == row.id)).one()
    assert ids == {("email", EMAIL), ("phone", PHONE)}
    assert (ack.kind, ack.channel, ack.recipient) == ("ack", "email", EMAIL)


def test_post_request_answers_in_xml_with_the_spec_shape(env: Env) -> None:
    r = post_request(env, "xml", email=EMAIL)
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/xml")
    assert xml_shape(r.content) == xml_shape(SPEC_POST_XML)
    assert ET.fromstring(r.content).findtext("request/service_request_id", "").startswith("S48-")


def test_anonymous_post_still_becomes_a_ticket(env: Env) -> None:
    r = post_request(env, address_string="Knez Mihailova 5")
    assert r.status_code == 201, r.text
    row = ticket(env, r.json()[0]["service_request_id"])
    assert row.citizen_id is None and row.location_text == "Knez Mihailova 5"
    assert row.category == "javna_rasveta"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_without_a_valid_app_key_is_a_spec_403(env: Env, fmt: str) -> None:
    for key in ("", "s48_wrong", env.keys["rasveta"]):
        r = post_request(env, fmt, api_key=key)
        assert r.status_code == 403, r.text
        if fmt == "json":
            same_json_shape(r.json(), SPEC_ERRORS_JSON)
            assert r.json()[0]["code"] == 403
        else:
            assert xml_shape(r.content) == xml_shape(SPEC_ERRORS_XML)
            assert ET.fromstring(r.content).findtext("error/code") == "403"
    with session_scope(env.gw.engine) as s:
        assert s.exec(select(Ticket)).all() == []


def test_post_with_bad_fields_is_a_spec_400_and_registers_nothing(env: Env) -> None:
    cases = [
        ({"service_code": ""}, 400),
        ({"service_code": "nema_toga"}, 404),
        ({"lat": "sever"}, 400),
        ({"lat": "95", "long": "20"}, 400),
        ({"long": ""}, 400),  # lat without long
        ({"lat": "", "long": ""}, 400),  # no location at all
        ({"email": "not-an-address"}, 400),
    ]
    for fields, code in cases:
        r = post_request(env, **fields)
        assert r.status_code == code, (fields, r.text)
        assert r.json()[0]["code"] == code and r.json()[0]["description"]
    with session_scope(env.gw.engine) as s:
        assert s.exec(select(Ticket)).all() == []


# -- GET requests ----------------------------------------------------------------------------------
def validated(env: Env, **fields: Any) -> str:
    reference: str = post_request(env, email=EMAIL, **fields).json()[0]["service_request_id"]
    move(env, reference, (Status.OPEN, Change(category=fields.get("service_code", "javna_rasveta"))))
    return reference


def test_get_request_by_id_has_the_spec_fields_and_statuses(env: Env) -> None:
    reference = validated(env)
    move(env, reference, (Status.ASSIGNED, Change()))
    r = env.client.get(f"{V2}/requests/{reference}.json")
    assert r.status_code == 200
    same_json_shape(r.json(), SPEC_REQUESTS_JSON)
    item = r.json()[0]
    row = ticket(env, reference)
    assert item["status"] == "open" and item["agency_responsible"] == "Javna rasveta"
    assert item["service_code"] == "javna_rasveta" and item["lat"] == 44.8125 and item["long"] == 20.4612
    assert row.due_at is not None
    assert item["expected_datetime"] == row.due_at.astimezone(env.gw.config.tz()).isoformat()
    assert item["requested_datetime"].endswith("+01:00")  # Belgrade in November

    move(env, reference, (Status.RESOLVED, Change(note="Zamenjena sijalica.")))
    r = env.client.get(f"{V2}/requests/{reference}.xml")
    assert xml_shape(r.content) == xml_shape(SPEC_REQUESTS_XML)
    root = ET.fromstring(r.content)
    assert root.findtext("request/status") == "closed"
    assert root.findtext("request/status_notes") == "Zamenjena sijalica."

    r = env.client.get(f"{V2}/requests/S48-2026-999999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_list_filters_by_id_code_status_and_dates(env: Env) -> None:
    a = validated(env)
    env.gw.clock.advance(days=1)
    b = validated(env, service_code="vodovod_kvar")
    draft = post_request(env).json()[0]["service_request_id"]  # not validated: not in lists
    move(env, b, (Status.RESOLVED, Change(note="Popravljeno.")))

    def ids(**params: str) -> list[str]:
        r = env.client.get(f"{V2}/requests.json", params=params)
        assert r.status_code == 200, r.text
        return [x["service_request_id"] for x in r.json()]

    assert ids() == [b, a]
    assert sorted(ids(service_request_id=f"{a},{draft}")) == sorted([a, draft])
    assert ids(service_code="vodovod_kvar") == [b]
    assert ids(status="open") == [a] and ids(status="closed") == [b]
    day_two = env.gw.clock() - timedelta(hours=1)
    assert ids(start_date=day_two.isoformat()) == [b]
    assert ids(end_date=day_two.isoformat()) == [a]
    assert ids(page_size="1") == [b] and ids(page_size="1", page="2") == [a]
    assert ids(start_date=(env.gw.clock() - timedelta(days=200)).isoformat(), end_date="") == []


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-01-01T00:00:00+01:00", "end_date": "2026-11-01T00:00:00+01:00"},
        {"start_date": "yesterday"},
        {"end_date": "2026-11-01T00:00:00"},
        {"status": "pending"},
        {"page_size": "1001"},
        {"page": "0"},
    ],
)
def test_bad_list_parameters_are_spec_400s(env: Env, params: dict[str, str]) -> None:
    r = env.client.get(f"{V2}/requests.json", params=params)
    assert r.status_code == 400
    same_json_shape(r.json(), SPEC_ERRORS_JSON)
    r = env.client.get(f"{V2}/requests.xml", params=params)
    assert r.status_code == 400 and xml_shape(r.content) == xml_shape(SPEC_ERRORS_XML)


def test_get_responses_carry_no_reporter_pii(env: Env) -> None:
    text = f"Mrak ispred zgrade. Javite se na 064 123 4567 ili {EMAIL}. Pozdrav, {NAME}"
    reference = validated(
        env, description=text, phone="0641234567", first_name="Pera", last_name="Perić",
        address_string=f"Ulica 5, stan kod {EMAIL}",
    )  # fmt: skip
    documents = [
        env.client.get(f"{V2}/requests.json").text,
        env.client.get(f"{V2}/requests.xml").text,
        env.client.get(f"{V2}/requests/{reference}.json").text,
        env.client.get(f"{V2}/requests/{reference}.xml").text,
    ]
    for doc in documents:
        assert reference in doc
        for secret in (EMAIL, "064 123 4567", "0641234567", PHONE, "Perić", "Pera"):
            assert secret not in doc, (secret, doc)
        assert "Mrak ispred zgrade" in doc and "[telefon skriven]" in doc


def test_tokens_name_the_request_at_once(env: Env) -> None:
    reference = post_request(env, email=EMAIL).json()[0]["service_request_id"]
    with session_scope(env.gw.engine) as s:
        external = s.exec(select(Message.external_id).where(Message.channel == "web")).one()
    token = external.removeprefix("open311:")
    r = env.client.get(f"{V2}/tokens/{token}.json")
    assert r.status_code == 200
    same_json_shape(r.json(), SPEC_TOKEN_JSON)
    assert r.json() == [{"service_request_id": reference, "token": token}]
    r = env.client.get(f"{V2}/tokens/{token}.xml")
    assert xml_shape(r.content) == xml_shape(SPEC_TOKEN_XML)
    r = env.client.get(f"{V2}/tokens/nepostoji.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_unknown_resources_and_formats_are_spec_errors(env: Env) -> None:
    r = env.client.get(f"{V2}/services.html")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = env.client.get(f"{V2}/discovery.xml")
    assert r.status_code == 404 and xml_shape(r.content) == xml_shape(SPEC_ERRORS_XML)


# -- photos ------------------------------------------------------------------------------------------
def test_posted_photo_is_served_at_media_url_without_exif(env: Env) -> None:
    photo = photo_with_exif()
    r = post_request(env, email=EMAIL, files={"media": ("IMG_Pera_Peric.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    reference = r.json()[0]["service_request_id"]
    media_url = env.client.get(f"{V2}/requests/{reference}.json").json()[0]["media_url"]
    assert media_url.startswith(env.gw.config.gateway.public_base_url + V2 + "/media/")
    path = media_url.removeprefix(env.gw.config.gateway.public_base_url)
    served = env.client.get(path)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.content[:2] == b"\xff\xd8"
    assert CAMERA.encode() not in served.content and b"Exif" not in served.content
    assert CAMERA.encode() in photo  # the original did carry it

    forged = path[: -len(".jpg") - 4] + "0000.jpg"
    assert env.client.get(forged).status_code == 404
    assert env.client.get(path.replace(reference, "S48-2026-999999")).status_code == 404


def test_a_photo_part_without_content_type_is_judged_by_its_bytes_and_stripped(env: Env) -> None:
    # What Python requests sends for files={"media": f}: the part has a file name and no type.
    photo = photo_with_exif()
    boundary = "b7c3e1d0a9f8"
    fields = {
        "api_key": env.keys["app"], "service_code": "javna_rasveta", "lat": "44.8125",
        "long": "20.4612", "description": "Ne radi svetiljka.", "email": EMAIL,
    }  # fmt: skip
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="IMG_0001"\r\n\r\n'
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = env.client.post(
        f"{V2}/requests.json",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 201, r.text
    reference = r.json()[0]["service_request_id"]
    path = env.client.get(f"{V2}/requests/{reference}.json").json()[0]["media_url"]
    served = env.client.get(path.removeprefix(env.gw.config.gateway.public_base_url))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert CAMERA.encode() not in served.content and b"Exif" not in served.content
    assert ticket(env, reference).lat is not None


def test_a_png_labelled_jpeg_is_stored_as_the_png_it_is(env: Env) -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    r = post_request(env, email=EMAIL, files={"media": ("slika.jpg", out.getvalue(), "image/jpeg")})
    assert r.status_code == 201, r.text
    reference = r.json()[0]["service_request_id"]
    path = env.client.get(f"{V2}/requests/{reference}.json").json()[0]["media_url"]
    served = env.client.get(path.removeprefix(env.gw.config.gateway.public_base_url))
    assert served.headers["content-type"] == "image/png"
    assert served.content.startswith(b"\x89PNG")


def test_non_photo_media_is_refused(env: Env) -> None:
    r = post_request(env, files={"media": ("x.jpg", b"MZ\x90\x00 not a photo", "image/jpeg")})
    assert r.status_code == 400 and "photo" in r.json()[0]["description"]


def test_a_photo_with_gps_is_location_enough(env: Env) -> None:
    files = {"media": ("a.jpg", photo_with_exif(), "image/jpeg")}
    r = post_request(env, lat="", long="", email=EMAIL, files=files)
    assert r.status_code == 201, r.text
    assert (
        ticket(env, r.json()[0]["service_request_id"]).lat,
        ticket(env, r.json()[0]["service_request_id"]).lon,
    ) == GPS


def test_control_characters_in_a_description_are_dropped_on_the_way_in_and_out(env: Env) -> None:
    reference = validated(env, description="Rupa\x0b na putu\x00, velika")
    root = ET.fromstring(env.client.get(f"{V2}/requests/{reference}.xml").content)
    assert root.findtext("request/description") == "Rupa na putu, velika"
    assert (root.findtext("request/service_notice") or "").startswith("Rok za rešavanje: 48 h")
    from gateway.api.open311 import to_xml

    for path in (f"{V2}/requests/{reference}%00.json", f"{V2}/tokens/%00.json"):
        assert env.client.get(path).status_code in (200, 404)
    assert env.client.get(f"{V2}/requests.json", params={"service_request_id": "a\x00"}).json() == []
    made = to_xml("service_requests", "request", [{"description": "a\x01b\x1fc\td"}])
    assert ET.fromstring(made).findtext("request/description") == "abc\td"

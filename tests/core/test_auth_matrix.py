"""Every route of the app against every principal: anonymous gets 401 on a protected route, a wrong
role gets 403, an allowed role gets neither. The routes come from the app itself, so a new endpoint
without an entry in MATRIX fails here until someone decides who may use it."""

from __future__ import annotations

import io
import itertools
import shutil
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import select

from channels.base import Attachment, ChannelKind, InboundContact
from gateway.api.open311 import media_token
from gateway.app import build_gateway, create_app
from gateway.auth import add_user, create_token
from gateway.statuslink import status_token
from gateway.tickets import Actor, Change, Status
from storage.db import session_scope
from storage.models import AttachmentRow, CallLog, Ticket
from tests.core.helpers import mail, sms

ANON, ADMIN, OPERATOR, UTILITY, APP = "anonymous", "admin", "operator", "utility", "app"
MANAGER = "manager"  # read-only: reports and the dashboard, nothing else
EVERYONE = frozenset({ANON, ADMIN, OPERATOR, UTILITY, APP, MANAGER})
READERS = frozenset({ADMIN, OPERATOR, MANAGER})
STAFF = frozenset({ADMIN, OPERATOR, UTILITY})
OPS = frozenset({ADMIN, OPERATOR})
ADMINS = frozenset({ADMIN})
OPEN311_WRITERS = frozenset({ADMIN, APP})

PASSWORD = "lozinka-za-matricu-1"
USERNAMES = {ADMIN: "ana", OPERATOR: "oper", UTILITY: "svetlo", MANAGER: "nacelnik"}
PHONE, EMAIL, NAME = "+381641234567", "pera.peric@example.rs", "Pera Perić"
SEED = Actor("seed", "operator")
_ids = itertools.count(1)


@dataclass(frozen=True)
class Case:
    """One route: who may use it, and a concrete request that exercises it.

    `url` may name seeded data: {ref} (a ticket assigned to the utility, with a photo), {voice}
    (a night voicemail), {att}, {media}, {token}, {call}, and {own}/{draft}/{own_voice}: a fresh
    assigned ticket / received ticket / voicemail made for this case alone, since its requests
    change it."""

    method: str
    route: str  # the path template exactly as the app declares it
    allowed: frozenset[str]
    kind: str  # "api" (bearer or cookie), "web" (cookie), "open311w" (api_key), "public"
    url: str = ""
    body: dict[str, Any] | None = None
    ok: int | None = None  # the status an allowed principal must get, where it is fixed
    anonymous: int = 401


MATRIX: tuple[Case, ...] = (
    # -- framework and static: public by design (the spec lists no secrets) ---------------------
    Case("GET", "/openapi.json", EVERYONE, "public", ok=200),
    Case("GET", "/docs", EVERYONE, "public", ok=200),
    Case("GET", "/docs/oauth2-redirect", EVERYONE, "public", ok=200),
    Case("GET", "/redoc", EVERYONE, "public", ok=200),
    Case("MOUNT", "/static", EVERYONE, "public", url="/static/app.js", ok=200),
    # -- health for the monitoring and the load balancer: no PII, public ---------------------
    Case("GET", "/healthz", EVERYONE, "public", ok=200),
    Case("GET", "/metrics", EVERYONE, "public", ok=200),
    # -- REST API --------------------------------------------------------------------------------
    Case("GET", "/api/v1/tickets", STAFF, "api", ok=200),
    Case("GET", "/api/v1/tickets/{reference}", STAFF, "api", url="/api/v1/tickets/{ref}", ok=200),
    Case(
        "POST",
        "/api/v1/tickets",
        OPS,
        "api",
        body={"description": "Rupa kod škole", "phone": "0641112233"},
        ok=201,
    ),
    Case(
        "POST",
        "/api/v1/tickets/{reference}/validate",
        OPS,
        "api",
        url="/api/v1/tickets/{draft}/validate",
        body={"category": "javna_rasveta"},
    ),
    Case(
        "POST",
        "/api/v1/tickets/{reference}/assign",
        OPS,
        "api",
        url="/api/v1/tickets/{own}/assign",
        body={"utility": "rasveta"},
    ),
    Case(
        "POST",
        "/api/v1/tickets/{reference}/transition",
        STAFF,
        "api",
        url="/api/v1/tickets/{own}/transition",
        body={"to": "in_progress"},
    ),
    Case(
        "POST",
        "/api/v1/tickets/{reference}/reply",
        OPS,
        "api",
        url="/api/v1/tickets/{own}/reply",
        body={"text": "Ekipa izlazi danas."},
        ok=202,
    ),
    Case(
        "POST",
        "/api/v1/tickets/{reference}/merge",
        OPS,
        "api",
        url="/api/v1/tickets/{own}/merge",
        body={"into": "{ref}"},
    ),
    Case(
        "POST",
        "/api/v1/tickets/{reference}/notes",
        OPS,
        "api",
        url="/api/v1/tickets/{own}/notes",
        body={"text": "interna beleška"},
        ok=201,
    ),
    Case(
        "POST",
        "/api/v1/tickets/{reference}/callback",
        OPS,
        "api",
        url="/api/v1/tickets/{own}/callback",
        body={"needed": True},
        ok=200,
    ),
    Case(
        "GET",
        "/api/v1/tickets/{reference}/attachments/{attachment_id}",
        STAFF,
        "api",
        url="/api/v1/tickets/{ref}/attachments/{att}",
        ok=200,
    ),
    Case("GET", "/api/v1/calls", OPS, "api", ok=200),
    Case(
        "POST",
        "/api/v1/calls/{call_id}/called-back",
        OPS,
        "api",
        url="/api/v1/calls/{call}/called-back",
        body={"note": "javio se"},
        ok=200,
    ),
    Case("GET", "/api/v1/categories", STAFF, "api", ok=200),
    Case("GET", "/api/v1/utilities", STAFF, "api", ok=200),
    # -- the mail quarantine: operators look, only an admin re-parses or retries --------------
    Case("GET", "/api/v1/quarantine", OPS, "api", ok=200),
    Case(
        "POST",
        "/api/v1/quarantine/{message_id}/reparse",
        ADMINS,
        "api",
        url="/api/v1/quarantine/9999/reparse",
    ),
    Case(
        "POST",
        "/api/v1/quarantine/spool/{spool_id}/retry",
        ADMINS,
        "api",
        url="/api/v1/quarantine/spool/9999/retry",
    ),
    # -- the morning review API ------------------------------------------------------------------
    Case("GET", "/api/v1/voicemails", OPS, "api", url="/api/v1/voicemails", ok=200),
    Case(
        "GET",
        "/api/v1/voicemails/{reference}/audio",
        OPS,
        "api",
        url="/api/v1/voicemails/{voice}/audio",
        ok=200,
    ),
    Case(
        "POST",
        "/api/v1/voicemails/{reference}/validate",
        OPS,
        "api",
        url="/api/v1/voicemails/{own_voice}/validate",
        body={},
    ),
    Case(
        "POST",
        "/api/v1/voicemails/{reference}/attach",
        OPS,
        "api",
        url="/api/v1/voicemails/{own_voice}/attach",
        body={"into": "{ref}"},
    ),
    Case(
        "POST",
        "/api/v1/voicemails/{reference}/discard",
        OPS,
        "api",
        url="/api/v1/voicemails/{own_voice}/discard",
        body={"reason": "silent"},
    ),
    Case(
        "POST",
        "/api/v1/voicemails/{reference}/callback",
        OPS,
        "api",
        url="/api/v1/voicemails/{own_voice}/callback",
        ok=200,
    ),
    # -- Open311: reading is public (masked work-order text), writing needs an app's api_key ----
    Case("GET", "/open311/v2/services.{fmt}", EVERYONE, "public", url="/open311/v2/services.json", ok=200),
    Case(
        "GET",
        "/open311/v2/services/{code}.{fmt}",
        EVERYONE,
        "public",
        url="/open311/v2/services/javna_rasveta.xml",
        ok=200,
    ),
    Case("GET", "/open311/v2/requests.{fmt}", EVERYONE, "public", url="/open311/v2/requests.json", ok=200),
    Case(
        "POST",
        "/open311/v2/requests.{fmt}",
        OPEN311_WRITERS,
        "open311w",
        url="/open311/v2/requests.json",
        body={"service_code": "javna_rasveta", "lat": "44.8", "long": "20.46", "description": "Mrak"},
        ok=201,
        anonymous=403,  # GeoReport v2: a missing or invalid api_key is 403
    ),
    Case(
        "GET",
        "/open311/v2/requests/{request_id}.{fmt}",
        EVERYONE,
        "public",
        url="/open311/v2/requests/{ref}.json",
        ok=200,
    ),
    Case(
        "GET",
        "/open311/v2/tokens/{token}.{fmt}",
        EVERYONE,
        "public",
        url="/open311/v2/tokens/{token}.json",
        ok=404,
    ),
    Case(
        "GET",
        "/open311/v2/media/{reference}/{name}",
        EVERYONE,
        "public",
        url="/open311/v2/media/{ref}/{media}",
        ok=200,
    ),
    Case("GET", "/open311/v2/{rest:path}", EVERYONE, "public", url="/open311/v2/nothing.json", ok=404),
    Case("POST", "/open311/v2/{rest:path}", EVERYONE, "public", url="/open311/v2/nothing.json", ok=404),
    # -- the citizen's status page: the public token in the URL is the key ---------------------
    Case("GET", "/s/{reference}", EVERYONE, "public", url="/s/{ref}?t={public}", ok=200),
    Case("GET", "/s/{reference}/{token}", EVERYONE, "public", url="/s/{ref}/{status}", ok=200),
    # the form key comes from a view of the page; without it the button answers like a wrong token
    # (404), or 429 once this address used up its presses for the hour
    Case("POST", "/s/{reference}/{token}/nije", EVERYONE, "public", url="/s/{ref}/{status}/nije"),
    # -- the public report form: no login; a POST without the signed form field comes back refused
    # (400), or 429 once the matrix's many requests from one address hit the per-address limit
    Case("GET", "/prijava", EVERYONE, "public", ok=200),
    Case("GET", "/report", EVERYONE, "public", ok=200),
    Case("POST", "/prijava", EVERYONE, "public", body={"description": "x"}),
    Case("POST", "/report", EVERYONE, "public", body={"description": "x"}),
    # -- web UI (cookie session; bearer tokens are not web sessions) ---------------------------
    Case("GET", "/", EVERYONE, "web", ok=303),
    Case("GET", "/login", EVERYONE, "web", ok=200),
    Case("POST", "/login", EVERYONE, "web", body={"username": "oper", "password": PASSWORD}, ok=303),
    Case("POST", "/logout", EVERYONE, "web", ok=303),
    Case("GET", "/lang/{code}", EVERYONE, "web", url="/lang/en", ok=303),
    Case("GET", "/inbox", OPS, "web", ok=200),
    Case("GET", "/inbox/rows", OPS, "web", ok=200),
    Case("GET", "/review", OPS, "web", ok=200),
    Case(
        "POST",
        "/review/{reference}/validate",
        OPS,
        "web",
        url="/review/{own_voice}/validate",
        body={"category": "javna_rasveta"},
    ),
    Case(
        "POST",
        "/review/{reference}/attach",
        OPS,
        "web",
        url="/review/{own_voice}/attach",
        body={"into": "{ref}"},
    ),
    Case(
        "POST",
        "/review/{reference}/discard",
        OPS,
        "web",
        url="/review/{own_voice}/discard",
        body={"reason": "prank"},
    ),
    Case("POST", "/review/{reference}/callback", OPS, "web", url="/review/{own_voice}/callback", ok=200),
    Case("GET", "/dashboard", READERS, "web", ok=200),
    Case("GET", "/reports", READERS, "web", url="/reports?month=2026-11", ok=200),
    Case("GET", "/admin/health", ADMINS, "web", ok=200),
    Case("GET", "/reports/table.csv", READERS, "web", url="/reports/table.csv?quarter=2026-Q4", ok=200),
    Case(
        "GET",
        "/reports/tickets.csv",
        READERS,
        "web",
        url="/reports/tickets.csv?from=2026-11-01&to=2026-11-30",
        ok=200,
    ),
    Case("GET", "/tickets/{reference}", STAFF, "web", url="/tickets/{ref}", ok=200),
    Case(
        "POST",
        "/tickets/{reference}/validate",
        OPS,
        "web",
        url="/tickets/{draft}/validate",
        body={"category": "javna_rasveta"},
    ),
    Case(
        "POST",
        "/tickets/{reference}/assign",
        OPS,
        "web",
        url="/tickets/{own}/assign",
        body={"utility": "rasveta"},
    ),
    Case(
        "POST",
        "/tickets/{reference}/transition",
        OPS,
        "web",
        url="/tickets/{own}/transition",
        body={"to": "waiting", "note": "čeka se EPS"},
    ),
    Case(
        "POST",
        "/tickets/{reference}/reply",
        OPS,
        "web",
        url="/tickets/{own}/reply",
        body={"text": "Ekipa izlazi."},
        ok=303,
    ),
    Case(
        "POST",
        "/tickets/{reference}/note",
        OPS,
        "web",
        url="/tickets/{own}/note",
        body={"text": "interna beleška"},
        ok=303,
    ),
    Case(
        "POST",
        "/tickets/{reference}/progress",
        STAFF,
        "web",
        url="/tickets/{own}/progress",
        body={"to": "in_progress"},
    ),
    Case("GET", "/work-orders", STAFF, "web", ok=200),
    Case(
        "POST",
        "/tickets/{reference}/correct",
        OPS,
        "web",
        url="/tickets/{own}/correct",
        body={"category": "javna_rasveta", "description": "Ne radi sijalica", "location_text": "Trg 1"},
        ok=303,
    ),
    Case("POST", "/tickets/{reference}/undo", OPS, "web", url="/tickets/{own}/undo", ok=422),
    Case("GET", "/tickets/new", OPS, "web", ok=200),
    Case("GET", "/admin/users", ADMINS, "web", ok=200),
    Case(
        "POST",
        "/admin/users",
        ADMINS,
        "web",
        body={"username": "nova", "password": "nova-lozinka-1", "role": "operator"},
    ),
    Case(
        "POST",
        "/admin/users/{username}/{action}",
        ADMINS,
        "web",
        url="/admin/users/nobody/unlock",  # 422 "no user" for the admin, 401/403 for the rest
    ),
    # A citizen's data request and the audit log: administrators only; nobody is erased here (the
    # confirmation differs and the number is unknown: 404 for the admin).
    Case("GET", "/admin/privacy", ADMINS, "web", ok=200),
    Case("POST", "/admin/privacy", ADMINS, "web", body={"q": "0640000001"}, ok=404),
    Case("POST", "/admin/privacy/export", ADMINS, "web", body={"q": "0640000001", "fmt": "json"}, ok=404),
    Case(
        "POST",
        "/admin/privacy/erase",
        ADMINS,
        "web",
        body={"q": "0640000001", "confirm": "0640000002"},
        ok=404,
    ),
    Case("GET", "/admin/audit", ADMINS, "web", url="/admin/audit?actor=ana&page=2", ok=200),
    # the catalogue and tokens pages: the admin's requests are refused forms, so nothing changes
    Case("GET", "/admin/catalogue", ADMINS, "web", ok=200),
    Case(
        "GET", "/admin/catalogue/{kind}/{code}", ADMINS, "web", url="/admin/catalogue/category/smece", ok=200
    ),
    Case("POST", "/admin/catalogue/category", ADMINS, "web", body={"code": "Bad Code", "new": "1"}, ok=422),
    Case(
        "POST",
        "/admin/catalogue/category/{code}/delete",
        ADMINS,
        "web",
        url="/admin/catalogue/category/nema_je/delete",
        ok=404,
    ),
    Case("POST", "/admin/catalogue/utility", ADMINS, "web", body={"code": "x", "new": "1"}, ok=422),
    Case(
        "POST",
        "/admin/catalogue/escalation",
        ADMINS,
        "web",
        body={"escalation_emails": "nije adresa"},
        ok=422,
    ),
    Case("GET", "/admin/tokens", ADMINS, "web", ok=200),
    Case("POST", "/admin/tokens", ADMINS, "web", body={"name": " ", "role": "operator"}, ok=422),
    Case("POST", "/admin/tokens/{token_id}/revoke", ADMINS, "web", url="/admin/tokens/999999/revoke", ok=404),
    Case("GET", "/map", OPS, "web", ok=200),
    Case("POST", "/callbacks/ticket/{reference}", OPS, "web", url="/callbacks/ticket/{own}", ok=303),
    Case("POST", "/callbacks/call/{call_id}", OPS, "web", url="/callbacks/call/{call}", ok=303),
    Case("GET", "/tickets/new/caller", OPS, "web", url="/tickets/new/caller?phone=0641234567", ok=200),
    Case("GET", "/tickets/new/category", OPS, "web", url="/tickets/new/category?description=cev", ok=200),
    Case(
        "POST",
        "/tickets/new",
        OPS,
        "web",
        body={
            "key": "matrix",
            "kind": "walk_in",
            "phone": "0641234567",
            "description": "Rupa na putu",
            "category": "javna_rasveta",
            "reply_via": "none",
        },
        ok=303,
    ),
)


# -- seeding ----------------------------------------------------------------------------------
def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (90, 90, 200)).save(buf, "JPEG")
    return buf.getvalue()


def silence_wav(seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return buf.getvalue()


def ticket_with_pii(gw: Any, *, assign: bool = True) -> str:
    """A mailed report signed with the reporter's name, number and address, plus a photo and an SMS
    from the same citizen; validated and assigned to `rasveta` unless `assign` is False."""
    n = next(_ids)
    body = f"Ne radi sijalica ispred broja {n}. Zovite me na 064 123 4567 ili {EMAIL}. {NAME}"
    photo = Attachment(f"{NAME}.jpg", "image/jpeg", jpeg())
    contact = mail(gw, EMAIL, body, subject=f"Sijalica — {NAME}", sender_name=NAME, attachments=(photo,))
    ref = gw.inbox.ingest_sync(contact).reference
    assert ref is not None
    gw.inbox.ingest_sync(sms(gw, PHONE, f"Dopuna za {ref}: i dalje mrak"))
    if assign:
        with session_scope(gw.engine, write=True) as s:
            ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
            gw.tickets.validate(s, ticket, SEED, category="javna_rasveta")
            gw.tickets.transition(s, ticket, Status.ASSIGNED, SEED, Change(utility="rasveta"))
    return str(ref)


def voicemail(gw: Any) -> str:
    contact = InboundContact(
        channel=ChannelKind.VOICE,
        external_id=f"matrix-call-{next(_ids)}@pbx",
        sender=PHONE,
        received_at=gw.clock(),
        attachments=(Attachment("voicemail.wav", "audio/wav", silence_wav()),),
        meta={"after_hours": "1", "duration_s": "0.5"},
    )
    ref = gw.inbox.ingest_sync(contact).reference
    assert ref is not None
    return str(ref)


@dataclass
class Seeded:
    """Data the matrix requests point at, and a maker of fresh tickets for the cases that change them."""

    gw: Any
    values: dict[str, str] = field(default_factory=dict)

    def fill(self, text: str, fresh: dict[str, str]) -> str:
        return text.format(**self.values, **fresh)

    def fresh(self, case: Case) -> dict[str, str]:
        text = case.url + repr(case.body)
        made: dict[str, str] = {}
        if "{own}" in text:
            made["own"] = ticket_with_pii(self.gw)
        if "{draft}" in text:
            made["draft"] = ticket_with_pii(self.gw, assign=False)
        if "{own_voice}" in text:
            made["own_voice"] = voicemail(self.gw)
        return made


def seed(gw: Any) -> Seeded:
    ref = ticket_with_pii(gw)
    # The night's voicemail arrives before the clock's "morning", after the previous working day.
    gw.clock.advance(hours=-14)
    voice = voicemail(gw)
    gw.clock.advance(hours=14)
    with session_scope(gw.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == ref)).one()
        att = s.exec(
            select(AttachmentRow).where(AttachmentRow.ticket_id == ticket.id, AttachmentRow.kind == "photo")
        ).one()
        assert att.id is not None
        s.add(
            CallLog(
                call_id="matrix-missed@pbx",
                caller=PHONE,
                called="48",
                started_at=gw.clock(),
                outcome="missed",
                needs_callback=True,
            )
        )
        values = {
            "ref": ref,
            "voice": voice,
            "att": str(att.id),
            "public": ticket.public_token,
            "status": status_token(gw.signer, ref, ticket.public_token),
            "media": f"{att.id}-{media_token(gw, ticket.public_token, att.id)}.jpg",
            "token": "0" * 32,
            "call": "matrix-missed@pbx",
        }
    return Seeded(gw, values)


# -- principals -------------------------------------------------------------------------------
@dataclass
class Principals:
    tokens: dict[str, str]  # role → bearer token
    cookies: dict[str, str]  # ANON (pre-login) / web roles → session cookie value
    csrf: dict[str, str]


def make_principals(
    gw: Any, app: FastAPI, web_roles: tuple[str, ...] = (ADMIN, OPERATOR, UTILITY, MANAGER)
) -> Principals:
    users = {role: USERNAMES[role] for role in web_roles}
    with session_scope(gw.engine, write=True) as s:
        for role, username in users.items():
            utility = "rasveta" if role == UTILITY else None
            add_user(s, username=username, password=PASSWORD, role=role, utility=utility)
        tokens = {
            ADMIN: create_token(s, name="m-admin", role="admin"),
            OPERATOR: create_token(s, name="m-oper", role="operator"),
            UTILITY: create_token(s, name="m-util", role="utility", utility="rasveta"),
            APP: create_token(s, name="m-app", role="app"),
            MANAGER: create_token(s, name="m-manager", role="manager"),
        }
    codec = app.state.web_codec
    cookies: dict[str, str] = {}
    with TestClient(app, follow_redirects=False) as c:
        c.get("/login")
        cookies[ANON] = c.cookies["s48_session"]
        for role, username in users.items():
            c.cookies.clear()
            c.get("/login")
            csrf = codec.decode(c.cookies["s48_session"]).csrf
            r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
            assert r.status_code == 303, (role, r.status_code)
            cookies[role] = c.cookies["s48_session"]
    return Principals(tokens, cookies, {who: codec.decode(v).csrf for who, v in cookies.items()})


# -- the matrix -------------------------------------------------------------------------------
def declared_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app answers, HEAD aside; mounts as MOUNT."""
    found: set[tuple[str, str]] = set()

    def add(route: Any) -> None:
        if not hasattr(route, "methods") and hasattr(route, "routes"):
            found.add(("MOUNT", route.path))
            return
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))

    for route in app.routes:
        # FastAPI ≥ 0.16x keeps included routers as nodes; older ones flatten them into app.routes.
        contexts: Callable[[], Iterator[Any]] | None = getattr(route, "effective_route_contexts", None)
        for r in contexts() if contexts is not None else (route,):
            add(r)
    return found


def variants(case: Case) -> list[tuple[str, str]]:
    """(principal, how it authenticates) for one route: every role by each way it could try."""
    if case.kind == "open311w":
        return [(ANON, "none"), *((who, "api_key") for who in (ADMIN, OPERATOR, UTILITY, APP, MANAGER))]
    bearer = [(who, "bearer") for who in (ADMIN, OPERATOR, UTILITY, APP, MANAGER)]
    cookie = [(who, "cookie") for who in (ANON, ADMIN, OPERATOR, UTILITY, MANAGER)]
    # Every unsafe request a cookie authenticates must carry the session's CSRF token.
    forged = [(ADMIN, "cookie-without-csrf")] if case.method == "POST" and case.kind != "public" else []
    if case.kind == "web":
        return [*cookie, (OPERATOR, "bearer"), (APP, "bearer"), *forged]
    return [(ANON, "none"), *bearer, *cookie, *forged]


def expected(case: Case, who: str, via: str) -> int | None:
    """None when the principal may use the route, else the refusal it must get."""
    if via == "cookie-without-csrf":
        return 403
    if case.kind == "web" and via == "bearer" and case.method != "GET":
        return 403  # no session cookie, so no CSRF token: refused before anyone asks who it is
    if who in case.allowed and not (case.kind == "web" and via == "bearer"):
        return None
    if who == ANON or (case.kind == "web" and via == "bearer"):
        # The web UI ignores bearer tokens: such a caller has no session, like anyone else.
        return None if ANON in case.allowed else case.anonymous
    return 403


def send(client: TestClient, case: Case, url: str, body: Any, who: str, via: str, p: Principals) -> Any:
    headers: dict[str, str] = {}
    if via == "bearer":
        headers["Authorization"] = f"Bearer {p.tokens[who]}"
    if via.startswith("cookie"):
        headers["Cookie"] = f"s48_session={p.cookies[who]}"
        if case.method != "GET" and via == "cookie":
            headers["X-CSRF-Token"] = p.csrf[who]
    if case.kind == "web":
        headers["HX-Request"] = "true"  # htmx's form: a missing login is 401, not a redirect
    method = "GET" if case.method == "MOUNT" else case.method
    kw: dict[str, Any] = {}
    if case.kind == "api" and body is not None:
        kw["json"] = body
    elif case.kind in ("web", "open311w") and body is not None:
        kw["data"] = {**body, **({"api_key": p.tokens[who]} if via == "api_key" else {})}
    try:
        return client.request(method, url, headers=headers, **kw)
    finally:
        client.cookies.clear()  # each request carries exactly the credentials given above


def run_matrix(client: TestClient, seeded: Seeded, p: Principals) -> list[str]:
    failures: list[str] = []
    for case in MATRIX:
        fresh = seeded.fresh(case)
        url = seeded.fill(case.url or case.route, fresh)
        body = (
            {k: seeded.fill(v, fresh) if isinstance(v, str) else v for k, v in case.body.items()}
            if case.body is not None
            else None
        )
        # Refusals first: a refused request must change nothing the allowed ones then rely on.
        ordered = sorted(variants(case), key=lambda v: expected(case, *v) is None)
        for who, via in ordered:
            r = send(client, case, url, body, who, via, p)
            want = expected(case, who, via)
            label = f"{case.method} {url} as {who} by {via}: {r.status_code}"
            if want is not None and r.status_code != want:
                failures.append(f"{label}, expected {want} ({r.text[:120]})")
            elif want is None and (r.status_code in (401, 403) or r.status_code >= 500):
                failures.append(f"{label}, expected to be let in ({r.text[:120]})")
            elif want is None and case.ok is not None and r.status_code != case.ok:
                failures.append(f"{label}, expected {case.ok} ({r.text[:120]})")
    return failures


def use_cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its cheapest: these tests are about who gets in, not about the hash's cost, and a
    real hash (64 MiB, ~0.5 s on a busy test box) per user and login would dominate their time."""
    import gateway.auth

    monkeypatch.setattr(gateway.auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_argon2(monkeypatch)


@pytest.fixture
def matrix_app(
    tmp_path: Path, sqlite_template: Path, clock: Any, cheap_argon2: None
) -> Iterator[tuple[Any, FastAPI]]:
    """SQLite only: who may call what does not depend on the database, and ~500 requests per run
    are worth paying once, not once per backend."""
    from tests.web.conftest import web_config

    db = tmp_path / "matrix.db"
    shutil.copy(sqlite_template, db)
    gw = build_gateway(web_config(tmp_path, f"sqlite:///{db}"), clock=clock, roles=set())
    yield gw, create_app(gw.config, gateway=gw)
    gw.engine.dispose()


def test_every_route_of_the_app_has_an_entry_in_the_matrix(matrix_app: Any) -> None:
    _gw, app = matrix_app
    declared = declared_routes(app)
    listed = {(c.method, c.route) for c in MATRIX}
    assert len(listed) == len(MATRIX), "a route is listed twice"
    assert declared - listed == set(), "routes nobody decided the roles for"
    assert listed - declared == set(), "matrix entries for routes the app no longer has"


def test_every_route_answers_401_403_or_lets_in_per_role(matrix_app: Any) -> None:
    gw, app = matrix_app
    # Server errors become failures in the list below rather than an exception at the first one.
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
        p = make_principals(gw, app)
        seeded = seed(gw)
        failures = run_matrix(client, seeded, p)
    assert failures == [], "\n".join(failures)


def test_an_anonymous_page_request_is_sent_to_the_login_with_its_way_back(matrix_app: Any) -> None:
    _gw, app = matrix_app
    with TestClient(app, follow_redirects=False) as client:
        for path in ("/inbox", "/dashboard", "/work-orders", "/tickets/S48-2026-000001"):
            r = client.get(path)
            assert (r.status_code, r.headers["location"]) == (303, f"/login?next={path}")


def test_a_revoked_or_forged_token_is_401_everywhere_a_token_counts(matrix_app: Any) -> None:
    gw, app = matrix_app
    with session_scope(gw.engine, write=True) as s:
        token = create_token(s, name="gone", role="admin")
    from storage.models import ApiToken

    with session_scope(gw.engine, write=True) as s:
        row = s.exec(select(ApiToken).where(ApiToken.name == "gone")).one()
        row.revoked = True
        s.add(row)
    with TestClient(app, follow_redirects=False) as client:
        for bad in (token, token[:-2] + "xx", ""):
            for case in (c for c in MATRIX if c.kind == "api"):
                url = case.url or case.route
                if "{" in url:
                    url = url.format(
                        ref="S48-2026-000001",
                        draft="S48-2026-000001",
                        own="S48-2026-000001",
                        voice="S48-2026-000001",
                        own_voice="S48-2026-000001",
                        att="1",
                        call="x",
                    )
                r = client.request(
                    case.method, url, headers={"Authorization": f"Bearer {bad}"}, json=case.body
                )
                assert r.status_code == 401, (bad[:6], case.method, url, r.status_code)
                assert r.headers.get("www-authenticate") == "Bearer"
            r = client.post(
                "/open311/v2/requests.json",
                data={"api_key": bad, "service_code": "javna_rasveta", "lat": "44.8", "long": "20.4"},
            )
            assert r.status_code == 403

"""Web pages: login/logout, language, the inbox (live), the morning review queue and the dashboard."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from gateway.api.deps import GW
from gateway.api.schemas import Validate
from gateway.api.voicemails import (
    Attach,
    Discard,
    attach_voicemail,
    callback_voicemail,
    discard_voicemail,
    night_count,
    night_queue,
    night_start,
    validate_voicemail,
)
from gateway.auth import AuthError, check_password, end_sessions
from gateway.queues import QUEUES, callback_list
from gateway.tickets import TicketError
from gateway.web.i18n import pick_lang
from gateway.web.render import R, WebOperator, WebReader, web_user
from gateway.web.session import COOKIE, SessionCodec, WebSession, csrf_guard, set_cookie
from gateway.web.views import InboxFilter, dashboard, inbox
from storage.db import session_scope

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.web_codec
    return codec


def _home_for(role: str) -> str:
    return {"utility": "/work-orders", "manager": "/reports"}.get(role, "/inbox")


def _safe_next(value: str | None) -> str | None:
    # Only local absolute paths: "//host" or "/\host" would leave the site.
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return None


@router.get("/", response_model=None)
def home(request: Request) -> Response:
    ws: WebSession | None = request.state.web_session
    if ws is None or ws.principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(_home_for(ws.principal.role), status_code=303)


@router.get("/login", response_model=None)
def login_form(request: Request, r: R, gw: GW, next: str | None = None) -> Response:
    ws: WebSession | None = request.state.web_session
    if ws is None:
        ws = _codec(request).new(lang=pick_lang(request.cookies.get("s48_lang")))
        request.state.web_session = ws
    response = r.page(request, "login.html", next=_safe_next(next) or "", user=None)
    set_cookie(response, _codec(request), ws, secure=gw.config.http.secure_cookies)
    return response


@router.post("/login", response_model=None)
async def login(
    request: Request,
    r: R,
    gw: GW,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=500)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    http = gw.config.http

    def check() -> Any:
        with session_scope(gw.engine, write=True) as s:
            try:
                return check_password(
                    s,
                    username.strip(),
                    password,
                    gw.clock(),
                    max_failures=http.login_max_failures,
                    lockout=timedelta(minutes=http.login_lockout_minutes),
                )
            except AuthError as exc:
                return exc

    result = await asyncio.to_thread(check)
    old: WebSession = request.state.web_session
    if isinstance(result, AuthError):
        key = "locked" if "locked" in str(result) else "login_failed"
        return r.page(request, "login.html", 401, next=_safe_next(next) or "", error=key, user=None)
    ws = _codec(request).new(principal=result, lang=old.lang)  # a new id: no session fixation
    response = RedirectResponse(_safe_next(next) or _home_for(result.role), status_code=303)
    set_cookie(response, _codec(request), ws, secure=http.secure_cookies)
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, gw: GW) -> Response:
    old: WebSession = request.state.web_session
    if old is not None and old.user is not None:
        with session_scope(gw.engine, write=True) as s:
            end_sessions(s, old.user, gw.clock())
    response = RedirectResponse("/login", status_code=303)
    set_cookie(
        response, _codec(request), _codec(request).new(lang=old.lang), secure=gw.config.http.secure_cookies
    )
    return response


@router.get("/lang/{code}", response_model=None)
def set_lang(code: str, request: Request, gw: GW) -> Response:
    lang = pick_lang(code)
    ws: WebSession | None = request.state.web_session
    back = _safe_next(request.headers.get("referer", "").split(request.url.netloc, 1)[-1]) or "/"
    response = RedirectResponse(back, status_code=303)
    response.set_cookie("s48_lang", lang, max_age=365 * 86400, samesite="lax", httponly=True)
    if ws is not None:
        from dataclasses import replace

        set_cookie(response, _codec(request), replace(ws, lang=lang), secure=gw.config.http.secure_cookies)
    return response


# -- inbox ---------------------------------------------------------------------------------
def _inbox_ctx(
    gw: Any, channel: str | None, status: str | None, q: str | None, queue: str | None = None
) -> dict[str, Any]:
    f = InboxFilter(
        channel or None,
        status or None,
        (q or "").strip()[:200] or None,
        gw.config.gateway.default_region,
        queue if queue in QUEUES else None,
    )
    with session_scope(gw.engine) as s:
        items = inbox(s, f, now=gw.clock(), tz=gw.calendar.tz)
        return {"items": items, "calls": callback_list(s), "f": f, "queues": QUEUES}


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    channel: str | None = None,
    status: str | None = None,
    q: str | None = None,
    queue: str | None = None,
    overdue: bool = False,
) -> HTMLResponse:
    queue = "overdue" if overdue else queue
    return r.page(request, "inbox.html", **_inbox_ctx(gw, channel, status, q, queue))


@router.get("/inbox/rows", response_class=HTMLResponse)
def inbox_rows(
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    channel: str | None = None,
    status: str | None = None,
    q: str | None = None,
    queue: str | None = None,
    overdue: bool = False,
) -> HTMLResponse:
    queue = "overdue" if overdue else queue
    return r.page(request, "_inbox_rows.html", **_inbox_ctx(gw, channel, status, q, queue))


# -- morning review -------------------------------------------------------------------------
REVIEW_BATCH = 20  # cards per request; the next batch loads as the last card scrolls into view


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    since: datetime | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    start = since if since is not None and since.tzinfo is not None else night_start(gw, gw.clock())
    with session_scope(gw.engine, write=True) as s:  # caller PII views are audit-logged
        items = night_queue(s, gw, who, start, limit=REVIEW_BATCH, after_id=after)
        total = night_count(s, start) if after == 0 else 0
    more = items[-1]["id"] if len(items) == REVIEW_BATCH else None
    ctx: dict[str, Any] = {
        "items": items,
        "since": start,
        "categories": gw.config.offered(),
        "more": more,
        "total": total,
    }
    if after:
        return r.page(request, "_review_cards.html", **ctx)
    return r.page(request, "review.html", **ctx)


def _done(request: Request, r: R, reference: str, message: str, error: str | None = None) -> HTMLResponse:
    return r.page(
        request,
        "_review_done.html",
        422 if error else 200,
        reference=reference,
        message=message,
        error=error,
    )


def _optional(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


@router.post("/review/{reference}/validate", response_class=HTMLResponse)
def review_validate(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    category: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    location_text: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    try:
        body = Validate(
            category=_optional(category),
            description=description if description is not None else None,
            location_text=_optional(location_text),
        )
        validate_voicemail(gw, who, reference, body)
    except (TicketError, ValidationError) as exc:
        return _done(request, r, reference, "validate", error=str(exc))
    return _done(request, r, reference, "validate")


@router.post("/review/{reference}/attach", response_class=HTMLResponse)
def review_attach(
    reference: str, request: Request, who: WebOperator, r: R, gw: GW, into: Annotated[str, Form()] = ""
) -> HTMLResponse:
    try:
        attach_voicemail(gw, who, reference, Attach(into=into))
    except (TicketError, ValidationError) as exc:
        return _done(request, r, reference, "attach", error=str(exc))
    return _done(request, r, reference, "attach")


@router.post("/review/{reference}/discard", response_class=HTMLResponse)
def review_discard(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    reason: Annotated[str, Form()] = "other",
    note: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    try:
        discard_voicemail(gw, who, reference, Discard.model_validate({"reason": reason, "note": note}))
    except (TicketError, ValidationError) as exc:
        return _done(request, r, reference, "discard", error=str(exc))
    return _done(request, r, reference, "discard")


@router.post("/review/{reference}/callback", response_class=HTMLResponse)
def review_callback(reference: str, request: Request, who: WebOperator, r: R, gw: GW) -> HTMLResponse:
    try:
        callback_voicemail(gw, who, reference)
    except TicketError as exc:
        return _done(request, r, reference, "callback_marked", error=str(exc))
    return _done(request, r, reference, "callback_marked")


# -- dashboard -----------------------------------------------------------------------------
@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, who: WebReader, r: R, gw: GW) -> HTMLResponse:
    with session_scope(gw.engine) as s:
        d = dashboard(s, gw)
    return r.page(
        request,
        "dashboard.html",
        d=d,
        utilities={u.code: u.name for u in gw.config.utilities},
        categories={c.code: c.name for c in gw.config.categories},
    )


__all__ = ["COOKIE", "router", "web_user"]

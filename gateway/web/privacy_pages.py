"""A citizen's data request (admin role): look up one number or address, export it (JSON, HTML) or
erase it after the number is typed again; and the PII-access audit log viewer. Numbers travel in
POST bodies only, so they stay out of URLs and access logs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from gateway.api.deps import GW
from gateway.audit_log import audit_page, recent_removals
from gateway.erasure import (
    ConfirmationMismatch,
    NotFound,
    erase_person,
    export,
    export_html,
    export_json,
    find_subject,
)
from gateway.web.render import R, WebAdmin
from gateway.web.session import csrf_guard
from storage.db import session_scope

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

Who = Annotated[str, Form(max_length=200)]


def _page(request: Request, r: R, status: int = 200, **ctx: Any) -> HTMLResponse:
    ctx = {"q": "", "data": None, "error": None, "erased": None, **ctx}
    return r.page(request, "admin_privacy.html", status, **ctx)


@router.get("/admin/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, who: WebAdmin, r: R) -> HTMLResponse:
    return _page(request, r)


def _actor(who: Any) -> str:
    return f"{who.role}:{who.name}"  # as gateway/queries.py writes it, so one filter finds both


def _lookup(gw: Any, who: Any, q: str, what: str) -> tuple[int, dict[str, Any]] | None:
    """The citizen's id and data; viewing them is audit-logged as `what`."""
    try:
        with session_scope(gw.engine, write=True) as s:
            subject = find_subject(s, q, gw.config.gateway.default_region)
            return subject.citizen_id, export(s, subject, _actor(who), what)
    except NotFound:
        return None


@router.post("/admin/privacy", response_class=HTMLResponse)
def privacy_lookup(request: Request, who: WebAdmin, r: R, gw: GW, q: Who) -> HTMLResponse:
    found = _lookup(gw, who, q, "privacy request lookup (/admin/privacy)")
    if found is None:
        return _page(request, r, 404, q=q, error="privacy_not_found")
    return _page(request, r, q=q, citizen_id=found[0], data=found[1])


@router.post("/admin/privacy/export", response_model=None)
def privacy_export(
    request: Request, who: WebAdmin, r: R, gw: GW, q: Who, fmt: Annotated[str, Form()] = "json"
) -> Response:
    fmt = "html" if fmt == "html" else "json"
    found = _lookup(gw, who, q, f"privacy request export {fmt} (/admin/privacy)")
    if found is None:
        return _page(request, r, 404, q=q, error="privacy_not_found")
    citizen_id, data = found
    if fmt == "html":
        body, media = export_html(data), "text/html; charset=utf-8"
    else:
        body, media = export_json(data), "application/json"
    disposition = f'attachment; filename="citizen-{citizen_id}.{fmt}"'
    return Response(
        body, media_type=media, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )


@router.post("/admin/privacy/erase", response_class=HTMLResponse)
def privacy_erase(
    request: Request, who: WebAdmin, r: R, gw: GW, q: Who, confirm: Annotated[str, Form(max_length=200)] = ""
) -> HTMLResponse:
    try:
        counts = erase_person(
            gw.engine, gw.blobs, q, confirm, _actor(who), gw.clock(), gw.config.gateway.default_region
        )
    except ConfirmationMismatch:
        found = _lookup(gw, who, q, "privacy request lookup (/admin/privacy)")
        if found is None:
            return _page(request, r, 404, q=q, error="privacy_not_found")
        return _page(request, r, 422, q=q, citizen_id=found[0], data=found[1], error="privacy_mismatch")
    except NotFound:
        return _page(request, r, 404, error="privacy_not_found")
    return _page(request, r, erased=counts)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_viewer(
    request: Request,
    who: WebAdmin,
    r: R,
    gw: GW,
    actor: Annotated[str, Query(max_length=100)] = "",
    citizen: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    with session_scope(gw.engine) as s:
        view = audit_page(s, gw.config.gateway.default_region, actor=actor, citizen=citizen, page=page)
        removals = recent_removals(s)
    return r.page(request, "admin_audit.html", view=view, actor=actor, citizen=citizen, removals=removals)

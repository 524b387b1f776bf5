"""API tokens for the admin: the list (never a secret), create (the secret shown once) and revoke
after a confirmation step. gateway/auth.py stores them, as for `sistem48 token create`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.deps import GW
from gateway.auth import ROLES, AuthError, create_token, revoke_token, tokens
from gateway.web.render import R, WebAdmin
from gateway.web.session import csrf_guard
from storage.db import session_scope

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)


def _page(request: Request, r: R, gw: Any, status: int = 200, **ctx: Any) -> HTMLResponse:
    with session_scope(gw.engine) as s:
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "utility": t.utility,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "revoked": t.revoked,
            }
            for t in tokens(s)
        ]
    ctx.setdefault("secret", None)
    ctx.setdefault("confirm", None)
    ctx.setdefault("v", {})
    ctx.setdefault("form_error", None)
    return r.page(
        request,
        "admin_tokens.html",
        status,
        tokens=rows,
        roles=ROLES,
        utilities=gw.config.utilities,
        **ctx,
    )


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, who: WebAdmin, r: R, gw: GW) -> HTMLResponse:
    confirm = request.query_params.get("revoke")
    return _page(request, r, gw, confirm=int(confirm) if confirm and confirm.isdigit() else None)


@router.post("/admin/tokens", response_model=None)
def token_new(
    request: Request,
    who: WebAdmin,
    r: R,
    gw: GW,
    name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    utility: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    v = {"name": name, "role": role, "utility": utility}
    if not name.strip():
        return _page(request, r, gw, 422, v=v, form_error="token_needs_name")
    if role not in ROLES:
        return _page(request, r, gw, 422, v=v, form_error="token_needs_role")
    if (role == "utility") != bool(utility) or (utility and gw.config.utility(utility) is None):
        return _page(request, r, gw, 422, v=v, form_error="token_utility")
    try:
        with session_scope(gw.engine, write=True) as s:
            secret = create_token(s, name=name.strip(), role=role, utility=utility or None)
    except AuthError as exc:
        return _page(request, r, gw, 422, v=v, form_error=str(exc))
    # Shown in this response only: the database keeps its hash, so a reload cannot show it again.
    return _page(request, r, gw, secret=secret)


@router.post("/admin/tokens/{token_id}/revoke", response_model=None)
def token_revoke(token_id: int, request: Request, who: WebAdmin, r: R, gw: GW) -> Response:
    try:
        with session_scope(gw.engine, write=True) as s:
            revoke_token(s, token_id)
    except AuthError:
        return _page(request, r, gw, 404, form_error="catalogue_unknown")
    return RedirectResponse("/admin/tokens", status_code=303)

"""Administration of staff accounts (admin role): the list with add, disable/enable, password
reset, unlock and role. Each change goes through gateway/auth.py; disabling ends open sessions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from gateway.api.deps import GW
from gateway.auth import STAFF_ROLES, AuthError, add_user, reset_password, set_disabled, set_role, unlock
from gateway.web.render import R, WebAdmin
from gateway.web.session import csrf_guard
from storage.db import session_scope
from storage.models import StaffUser

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)


def _page(request: Request, r: R, gw: Any, error: str | None = None, done: str | None = None) -> HTMLResponse:
    with session_scope(gw.engine) as s:
        users = [
            {
                "username": u.username,
                "role": u.role,
                "utility": u.utility,
                "disabled": u.disabled_at is not None,
                "locked": u.locked_until is not None and u.locked_until > gw.clock(),
            }
            for u in s.exec(select(StaffUser).order_by(col(StaffUser.username))).all()
        ]
    return r.page(
        request,
        "admin_users.html",
        422 if error else 200,
        users=users,
        roles=STAFF_ROLES,
        utilities=gw.config.utilities,
        error=error,
        done=done,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, who: WebAdmin, r: R, gw: GW) -> HTMLResponse:
    return _page(request, r, gw)


@router.post("/admin/users", response_model=None)
def user_new(
    request: Request,
    who: WebAdmin,
    r: R,
    gw: GW,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=500)],
    role: Annotated[str, Form()] = "",
    utility: Annotated[str, Form()] = "",
) -> Response:
    try:
        with session_scope(gw.engine, write=True) as s:
            add_user(s, username=username.strip(), password=password, role=role, utility=utility or None)
    except AuthError as exc:
        return _page(request, r, gw, error=str(exc))
    except IntegrityError:
        return _page(request, r, gw, error="user_exists")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/{action}", response_model=None)
def user_action(
    username: str,
    action: str,
    request: Request,
    who: WebAdmin,
    r: R,
    gw: GW,
    password: Annotated[str, Form(max_length=500)] = "",
    role: Annotated[str, Form()] = "",
    utility: Annotated[str, Form()] = "",
) -> Response:
    if username == who.name and action in ("disable", "role"):
        return _page(request, r, gw, error="admin_self")
    try:
        with session_scope(gw.engine, write=True) as s:
            if action in ("disable", "enable"):
                set_disabled(s, username, action == "disable", gw.clock())
            elif action == "unlock":
                unlock(s, username)
            elif action == "password":
                reset_password(s, username, password, gw.clock())
            elif action == "role":
                set_role(s, username, role, utility or None)
            else:
                return _page(request, r, gw, error=f"unknown action {action!r}")
    except AuthError as exc:
        return _page(request, r, gw, error=str(exc))
    return RedirectResponse("/admin/users", status_code=303)

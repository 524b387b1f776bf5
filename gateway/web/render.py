"""Template rendering (autoescaped Jinja2, i18n, local time) and the web's login/role dependencies."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gateway.auth import Principal
from gateway.text import lat_to_cyr
from gateway.web.i18n import (
    CHANNEL_ICONS,
    LANG_LABELS,
    channel_name,
    event_kind,
    event_note,
    pick_lang,
    status_name,
    translator,
)
from gateway.web.session import WebSession

if TYPE_CHECKING:
    from gateway.runtime import Gateway


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    pass


class Renderer:
    def __init__(self, directory: Path, gw: Gateway) -> None:
        self.env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=True,  # everything a citizen wrote is untrusted
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        tz = gw.calendar.tz
        self.env.filters["local"] = lambda dt, fmt="%d.%m.%Y %H:%M": (
            dt.astimezone(tz).strftime(fmt) if isinstance(dt, datetime) else ""
        )
        self.env.filters["mmss"] = lambda s: f"{int(s or 0) // 60}:{int(s or 0) % 60:02d}"
        self.env.globals["icons"] = CHANNEL_ICONS
        self.env.globals["lang_labels"] = LANG_LABELS
        self.gw = gw

    def page(self, request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(self.text(request, name, **ctx), status_code=status_code)

    def text(self, request: Request, name: str, **ctx: Any) -> str:
        ws: WebSession | None = getattr(request.state, "web_session", None)
        lang = pick_lang(ws.lang if ws else request.cookies.get("s48_lang"))
        ctx.setdefault("user", ws.principal if ws else None)
        ctx.setdefault("csrf", ws.csrf if ws else "")
        ctx.setdefault("error", None)
        ctx.setdefault("path", request.url.path)

        def cat_name(code: str | None) -> str:
            """A category or utility shown by its name, never its code."""
            found = self.gw.config.category(code) or self.gw.config.utility(code)
            name = found.name if found else (code or "")
            return lat_to_cyr(name) if lang == "sr-cyrl" else name

        return self.env.get_template(name).render(
            t=translator(lang),
            lang=lang,
            status_name=lambda s: status_name(lang, s),
            channel_name=lambda c: channel_name(lang, c),
            cat_name=cat_name,
            event_kind=lambda k: event_kind(lang, k),
            event_note=lambda n: event_note(lang, n, cat_name),
            **ctx,
        )


def renderer(request: Request) -> Renderer:
    r: Renderer = request.app.state.web_renderer
    return r


def web_user(request: Request) -> Principal:
    ws: WebSession | None = getattr(request.state, "web_session", None)
    who = ws.principal if ws else None
    if who is None:
        raise LoginRequired
    return who


def _role(*roles: str) -> Any:
    def check(who: Annotated[Principal, Depends(web_user)]) -> Principal:
        if who.role not in roles:
            raise Forbidden
        return who

    return check


WebStaff = Annotated[Principal, Depends(_role("admin", "operator", "utility"))]
WebOperator = Annotated[Principal, Depends(_role("admin", "operator"))]
WebReader = Annotated[Principal, Depends(_role("admin", "operator", "manager"))]  # reports, dashboard
WebAdmin = Annotated[Principal, Depends(_role("admin"))]
R = Annotated[Renderer, Depends(renderer)]


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        target = "/login?next=" + quote(request.url.path, safe="/")
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, _exc: Forbidden) -> Response:
        return renderer(request).page(request, "error.html", 403, message="403")

"""The staff web UI: server-rendered Jinja2 + htmx under `/`, mounted on the gateway's FastAPI app."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.auth import staff_user
from gateway.web.session import SessionCodec, WebSession, csp, session_middleware
from storage.db import session_scope

if TYPE_CHECKING:
    from gateway.runtime import Gateway

HERE = Path(__file__).parent


def user_still_valid(gw: Gateway, ws: WebSession) -> bool:
    who = ws.principal
    if who is None:
        return True
    with session_scope(gw.engine) as s:
        user = staff_user(s, who.name)
    # Not the lock: a stranger's wrong passwords must not be able to end a working session.
    if user is None or (user.role, user.utility) != (who.role, who.utility) or user.disabled_at is not None:
        return False
    cutoff = user.sessions_valid_from
    # The cookie keeps milliseconds: compare at that precision, or a login right after a logout fails.
    return cutoff is None or ws.issued >= cutoff.replace(microsecond=cutoff.microsecond // 1000 * 1000)


def mount_web(app: FastAPI, gw: Gateway) -> None:
    from gateway.web.admin_pages import router as admin_router
    from gateway.web.catalogue_pages import router as catalogue_router
    from gateway.web.citizen_pages import make_router as citizen_router
    from gateway.web.desk_pages import router as desk_router
    from gateway.web.health_page import router as health_router
    from gateway.web.manager_pages import router as manager_router
    from gateway.web.map_pages import router as map_router
    from gateway.web.new_report import router as new_report_router
    from gateway.web.pages import router as pages_router
    from gateway.web.privacy_pages import router as privacy_router
    from gateway.web.queue_pages import router as queue_router
    from gateway.web.render import Renderer, install_error_pages
    from gateway.web.report_pages import make_router as report_router
    from gateway.web.ticket_pages import router as ticket_router
    from gateway.web.token_pages import router as token_router

    codec = SessionCodec(gw.config.secret(), gw.clock, timedelta(hours=gw.config.http.session_hours))
    app.state.web_codec = codec
    app.state.web_renderer = Renderer(HERE / "templates", gw)
    policy = csp(gw.config.http.map_tiles_url)
    app.middleware("http")(session_middleware(codec, policy, lambda ws: user_still_valid(gw, ws)))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages_router)
    app.include_router(new_report_router)  # before /tickets/{reference}: "new" is not a reference
    app.include_router(ticket_router)
    app.include_router(manager_router)
    app.include_router(health_router)
    app.include_router(desk_router)
    app.include_router(queue_router)
    app.include_router(admin_router)
    app.include_router(privacy_router)
    app.include_router(catalogue_router)
    app.include_router(map_router)
    app.include_router(token_router)
    app.include_router(citizen_router())  # the citizen's status page and public report form:
    app.include_router(report_router())  # no login, their own rate limits
    install_error_pages(app)

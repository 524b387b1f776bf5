"""The HTTP API: REST under /api/v1, health and metrics, and JSON errors for every failure."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.tickets import MissingDetail, TicketNotFound, TransitionRefused

if TYPE_CHECKING:
    from gateway.runtime import Gateway

log = logging.getLogger(__name__)


def mount_api(app: FastAPI, gw: Gateway) -> None:
    from gateway.api import open311, quarantine, system, tickets, voicemails

    app.include_router(tickets.router)
    app.include_router(system.router)
    open311.mount(app)
    app.include_router(voicemails.router)
    app.include_router(quarantine.router)

    @app.exception_handler(TicketNotFound)
    async def _not_found(_r: Request, exc: TicketNotFound) -> JSONResponse:
        return JSONResponse({"detail": f"no ticket {exc}"}, status_code=404)

    @app.exception_handler(TransitionRefused)
    async def _refused(_r: Request, exc: TransitionRefused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(MissingDetail)
    async def _missing(_r: Request, exc: MissingDetail) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(sa.exc.DataError)
    async def _bad_value(_r: Request, exc: sa.exc.DataError) -> JSONResponse:
        # The database refused a value the schema let through: a NUL character (PostgreSQL text
        # cannot hold one) or a number out of its column's range. The client's input, not our bug.
        return JSONResponse(
            {"detail": "a value in the request is not acceptable (NUL byte or out of range)"}, status_code=422
        )

    @app.exception_handler(OverflowError)
    async def _too_big(_r: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver refuses integers above 64 bits before the query runs (PostgreSQL: DataError).
        return JSONResponse({"detail": "a number in the request is out of range"}, status_code=422)

    @app.exception_handler(Exception)
    async def _crash(_r: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in a request")
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)

"""The call-back list's "called back" buttons: a flagged ticket or a missed call leaves the list
(both through gateway/wire_reports.py, the call log's one writer; a ticket's timeline through it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from gateway.api.deps import GW
from gateway.web.render import R, WebOperator
from gateway.web.session import csrf_guard
from storage.db import session_scope
from storage.models import Ticket

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)


@router.post("/callbacks/ticket/{reference}", response_model=None)
def ticket_called_back(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    with session_scope(gw.engine, write=True) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == reference)).first()
        if ticket is None:
            return r.page(request, "error.html", 404, message="404")
        gw.inbox.reports.mark_ticket_called_back(s, ticket, who.actor(), note.strip() or None)
    return RedirectResponse("/inbox#callbacks", status_code=303)


@router.post("/callbacks/call/{call_id}", response_model=None)
def call_returned(
    call_id: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    with session_scope(gw.engine, write=True) as s:
        if gw.inbox.reports.mark_called_back(s, call_id, who.name, note.strip() or None) is None:
            return r.page(request, "error.html", 404, message="404")
    return RedirectResponse("/inbox#callbacks", status_code=303)

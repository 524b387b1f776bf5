"""The operator's safe ticket actions beyond status changes: corrections after validation (each
change in the timeline) and the undo of a recent discard or merge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from gateway.api.deps import GW
from gateway.web.render import R, WebOperator
from gateway.web.session import csrf_guard
from gateway.web.ticket_pages import _act
from storage.models import Ticket

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)


@router.post("/tickets/{reference}/correct", response_model=None)
def correct(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    category: Annotated[str, Form()] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    location_text: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def work(s: Session, t: Ticket) -> None:
        gw.tickets.correct(
            s,
            t,
            who.actor(),
            category=category.strip() or None,
            description=description,
            location_text=location_text,
        )

    return _act(request, r, gw, who, reference, work)


@router.post("/tickets/{reference}/undo", response_model=None)
def undo(reference: str, request: Request, who: WebOperator, r: R, gw: GW) -> Response:
    def work(s: Session, t: Ticket) -> None:
        gw.tickets.undo_close(s, t, who.actor())

    return _act(request, r, gw, who, reference, work)

"""The map of open reports for staff: server-rendered tiles with a marker (a link) per ticket, the
inbox's queues as filters, and the same tickets as a list; nothing is drawn by JavaScript."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from gateway.api.deps import GW
from gateway.openmap import layout, open_points
from gateway.queues import QUEUES
from gateway.web.render import R, WebOperator
from gateway.web.session import csrf_guard
from storage.db import session_scope

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)


@router.get("/map", response_class=HTMLResponse)
def open_map(
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    queue: str = "",
    category: str = "",
    utility: str = "",
) -> HTMLResponse:
    tiles = gw.config.http.map_tiles_url
    f = {
        "queue": queue if queue in QUEUES else "",
        "category": category if gw.config.category(category) else "",
        "utility": utility if gw.config.utility(utility) else "",
    }
    points = []
    if tiles:
        with session_scope(gw.engine) as s:
            points = open_points(
                s,
                now=gw.clock(),
                tz=gw.calendar.tz,
                queue=f["queue"] or None,
                category=f["category"] or None,
                utility=f["utility"] or None,
            )
    return r.page(
        request,
        "open_map.html",
        tiles=tiles,
        tilemap=layout(points, tiles) if tiles else None,
        points=points,
        f=f,
        queues=QUEUES,
        categories=gw.config.categories,
        utilities=gw.config.utilities,
    )

"""The administrator's health page `/admin/health`: each channel's state and its internal metrics
(rounded, in a table), which the dashboard no longer shows; /metrics has the same for Prometheus."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from gateway.api.deps import GW
from gateway.auth import Principal
from gateway.web.render import R, _role

WebAdmin = Annotated[Principal, Depends(_role("admin"))]
router = APIRouter(include_in_schema=False)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


@router.get("/admin/health", response_class=HTMLResponse)
def health_page(request: Request, who: WebAdmin, r: R, gw: GW) -> HTMLResponse:
    channels = [
        {
            "name": st.name,
            "state": st.state.value,
            "detail": st.detail,
            "since": st.since,
            "metrics": sorted((k, _shown(v)) for k, v in st.metrics.items()),
        }
        for st in (gw.supervisor.statuses() if gw.supervisor is not None else [])
    ]
    outbound = gw.outbox.health.snapshot() if gw.outbox is not None else {}
    return r.page(request, "health.html", channels=channels, outbound=outbound, blobs=gw.blobs.health())

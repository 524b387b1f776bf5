"""The citizen's status page `/s/<ref>?t=<public_token>`: status, dates and public notes, no PII.

A wrong or missing token answers exactly like an unknown reference; each client IP gets a limited
number of lookups a minute so references cannot be enumerated. Plain HTML, no JavaScript, strict CSP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from sqlmodel import col, select

from gateway.notify import STATUS_LABEL
from gateway.text import lat_to_cyr, mask_pii
from storage.db import session_scope
from storage.models import Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.runtime import Gateway

STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.4em}dt{font-weight:bold}dd{margin:0 0 .6em 0}"
    "li{margin:.3em 0}.st{font-size:1.2em;font-weight:bold}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never hand it to another site
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@dataclass
class RateLimiter:
    """At most `limit` hits per `window` per key (a client IP), by a sliding window in memory."""

    limit: int
    window: timedelta
    clock: Callable[[], datetime]
    _hits: dict[str, deque[datetime]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(self._hits) > 10_000:
            self._forget_idle(now)
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def retry_after(self, key: str) -> int:
        hits = self._hits.get(key)
        if not hits:
            return 0
        return max(1, int((hits[0] + self.window - self.clock()).total_seconds()) + 1)

    def _forget_idle(self, now: datetime) -> None:
        for key in [k for k, v in self._hits.items() if not v or now - v[-1] >= self.window]:
            del self._hits[key]


def _page(title: str, body: str, script: str = "latin") -> str:
    if script == "cyrillic":
        title = lat_to_cyr(title)
    return (
        f'<!doctype html><html lang="{"sr-Cyrl" if script == "cyrillic" else "sr-Latn"}">'
        '<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


NOT_FOUND_HTML = _page(
    "Sistem 48 — prijava nije pronađena",
    "<h1>Prijava nije pronađena</h1><p>Proverite broj prijave i link iz poruke koju ste dobili.</p>",
)
TOO_MANY_HTML = _page(
    "Sistem 48 — previše upita",
    "<h1>Previše upita</h1><p>Pokušajte ponovo za minut.</p>",
)


def _t(text: str, script: str) -> str:
    """Our own Latin wording in the reader's script; values are escaped separately."""
    return html.escape(lat_to_cyr(text) if script == "cyrillic" else text)


def status_html(gw: Gateway, ticket: Ticket, events: list[TicketEvent]) -> str:
    tz = gw.config.tz()
    sc = ticket.script

    def when(at: datetime | None) -> str:
        return at.astimezone(tz).strftime("%d.%m.%Y. %H:%M") if at else "—"

    category = gw.config.category(ticket.category)
    rows = [
        ("Status", f'<span class="st">{_t(STATUS_LABEL.get(ticket.status, ticket.status), sc)}</span>'),
        ("Vrsta problema", _t(category.name, sc) if category else "—"),
        ("Primljena", when(ticket.created_at)),
    ]
    if ticket.due_at and ticket.status in ("open", "assigned", "in_progress", "waiting"):
        rows.append(("Rok za rešavanje", when(ticket.due_at)))
    if ticket.resolved_at:
        rows.append(("Rešena", when(ticket.resolved_at)))
    if ticket.closed_at:
        rows.append(("Zatvorena", when(ticket.closed_at)))
    facts = "".join(f"<dt>{_t(k, sc)}</dt><dd>{v}</dd>" for k, v in rows)
    items = []
    for e in events:
        label = STATUS_LABEL.get(e.to_status or "", "")
        text = mask_pii(e.note or "")
        parts = [p for p in (_t(label, sc) if label else "", html.escape(text)) if p]
        items.append(f"<li>{when(e.at)} — {': '.join(parts)}</li>")
    history = f"<h2>{_t('Tok prijave', sc)}</h2><ul>{''.join(items)}</ul>" if items else ""
    body = (
        f"<h1>{_t('Prijava', sc)} {html.escape(ticket.reference)}</h1><dl>{facts}</dl>{history}"
        f"<p>{_t('Sistem 48 — gradski kontakt centar', sc)}</p>"
    )
    return _page(f"Sistem 48 — {ticket.reference}", body, sc)


def lookup(gw: Gateway, reference: str, token: str) -> str | None:
    """The page for a reference and its token, or None — the same None for either mistake."""
    with session_scope(gw.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == reference.upper())).first()
        expected = ticket.public_token if ticket is not None else "x" * 12
        # Compared even for an unknown reference so both mistakes take the same time.
        matches = hmac.compare_digest(token.encode(), expected.encode())
        if ticket is None or not matches or ticket.status == "discarded":
            return None
        events = s.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.public == True)  # noqa: E712
            .order_by(col(TicketEvent.at), col(TicketEvent.id))
        ).all()
        return status_html(gw, ticket, list(events))


def make_router(per_minute: int = 30) -> APIRouter:
    router = APIRouter(tags=["status page"], include_in_schema=False)
    limiters: dict[int, RateLimiter] = {}

    def limiter(gw: Gateway) -> RateLimiter:
        # One per gateway (tests build several apps in one process); created on first use.
        key = id(gw)
        if key not in limiters:
            limiters[key] = RateLimiter(per_minute, timedelta(minutes=1), gw.clock)
        return limiters[key]

    @router.get("/s/{reference}")
    async def status_page(request: Request, reference: str, t: str = "") -> Response:
        gw: Any = request.app.state.gateway
        ip = request.client.host if request.client else "?"
        limit = limiter(gw)
        if not limit.allow(ip):
            return Response(
                TOO_MANY_HTML,
                429,
                headers={**HEADERS, "Retry-After": str(limit.retry_after(ip))},
                media_type="text/html; charset=utf-8",
            )
        page = await asyncio.to_thread(lookup, gw, reference[:40], t[:64])
        if page is None:
            return Response(NOT_FOUND_HTML, 404, headers=HEADERS, media_type="text/html; charset=utf-8")
        return Response(page, 200, headers=HEADERS, media_type="text/html; charset=utf-8")

    return router

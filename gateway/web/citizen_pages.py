"""The citizen's status page `/s/<ref>/<token>` and its "not fixed" button: mobile-first, in the
reporter's script, no JavaScript. Reads tickets itself; the button goes through the inbox.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from gateway.public import NOT_FOUND_HTML, TOO_MANY_HTML, RateLimiter
from gateway.statuslink import status_path, token_matches
from gateway.text import lat_to_cyr, mask_pii
from storage.db import session_scope
from storage.models import AttachmentRow, Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.runtime import Gateway

COMMENT_MAX = 500
RUNNING = ("open", "assigned", "in_progress", "waiting")

STYLE = (
    "*{box-sizing:border-box}body{margin:0;font:17px/1.45 system-ui,sans-serif;color:#1d2733;"
    "background:#eef2f6}header{background:#0b4f8a;color:#fff;padding:.9em 1em}"
    "header b{font-size:1.05em}header small{display:block;opacity:.85}"
    "main{max-width:34em;margin:0 auto;padding:1em}"
    ".card{background:#fff;border-radius:12px;padding:1em;margin:0 0 1em;"
    "box-shadow:0 1px 3px #0002}.card>:first-child{margin-top:0}.card>:last-child{margin-bottom:0}"
    "h1{font-size:1.25em;margin:0 0 .4em}h2{font-size:1.05em;margin:0 0 .5em}"
    ".ref{display:block;white-space:nowrap;font-family:ui-monospace,monospace;font-size:.9em;color:#4a5968}"
    ".badge{display:inline-block;padding:.25em .7em;border-radius:999px;font-weight:600;"
    "background:#dde8f3;color:#0b4f8a}.badge.done{background:#dff3e4;color:#17692d}"
    ".badge.late{background:#fde2e1;color:#9b1c1c}.say{font-size:1.1em;margin:.6em 0 0}"
    "dl{margin:0}dt{font-size:.85em;color:#5a6978;margin-top:.7em}dt:first-child{margin-top:0}"
    "dd{margin:.1em 0 0;font-weight:600}"
    "ol{list-style:none;margin:0;padding:0}li{padding:.5em 0 .5em 1em;border-left:3px solid #c9d6e3}"
    "li time{display:block;font-size:.85em;color:#5a6978}img.after{width:100%;border-radius:8px}"
    "textarea{width:100%;min-height:5em;font:inherit;padding:.5em;border:1px solid #9aa8b6;"
    "border-radius:8px}label{display:block;margin:.3em 0}"
    "button{width:100%;margin-top:.7em;padding:.85em;font:inherit;font-weight:700;color:#fff;"
    "background:#b42318;border:0;border-radius:10px}.ok{background:#dff3e4;color:#17692d}"
    ".map{position:relative;width:256px;height:256px;max-width:100%;overflow:hidden;"
    "border-radius:8px;margin-top:.6em}.map img{display:block}"
    ".pin{position:absolute;width:18px;height:18px;margin:-9px 0 0 -9px;border-radius:50%;"
    "background:#d92d20;border:3px solid #fff;box-shadow:0 0 0 1px #0006}"
    "footer{text-align:center;font-size:.85em;color:#5a6978;padding:0 1em 2em}"
)

# What a citizen is told for each status: plain words, no office jargon.
SAY = {
    "received": "Primili smo vašu prijavu. Operater će je pregledati i uputiti nadležnoj službi.",
    "open": "Prijava je prihvaćena i upućuje se nadležnoj službi.",
    "assigned": "Prijava je kod nadležne službe, koja treba da otkloni problem.",
    "in_progress": "Nadležna služba upravo radi na otklanjanju problema.",
    "resolved": "Služba javlja da je problem otklonjen.",
    "closed": "Prijava je završena i zatvorena.",
    "waiting": "Prijava čeka na dodatne podatke.",
    "forwarded": "Problem nije u nadležnosti grada, pa smo prijavu prosledili nadležnima.",
    "duplicate": "Isti problem je već prijavljen; rešava se u okviru te prijave.",
}
BADGE = {
    "received": "Primljena",
    "open": "Prihvaćena",
    "assigned": "Kod službe",
    "in_progress": "U radu",
    "resolved": "Rešena",
    "closed": "Zatvorena",
    "waiting": "Na čekanju",
    "forwarded": "Prosleđena",
    "duplicate": "Spojena",
}
TIMELINE = {
    "received": "Prijava je primljena.",
    "open": "Prijava je prihvaćena.",
    "assigned": "Prijava je prosleđena nadležnoj službi.",
    "in_progress": "Služba je počela sa radom.",
    "resolved": "Služba javlja da je problem otklonjen.",
    "closed": "Prijava je zatvorena.",
    "waiting": "Prijava čeka na dodatne podatke.",
    "forwarded": "Prijava je prosleđena van nadležnosti grada.",
    "duplicate": "Prijava je spojena sa ranijom prijavom istog problema.",
}
REOPENED = "Prijavili ste da problem nije otklonjen; prijava je ponovo otvorena."
# Notes on these steps are written by people for the citizen (resolution, what is missing, where).
NOTE_SHOWN = ("resolved", "waiting", "forwarded")


@dataclass(frozen=True)
class StatusView:
    ticket: Ticket
    events: list[TicketEvent]
    after_photo: str | None  # a path on this site, metadata stripped by the media route


def find(gw: Gateway, reference: str, token: str) -> StatusView | None:
    """The ticket behind a reference and its token, or None — the same None for either mistake."""
    with session_scope(gw.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.reference == reference.upper())).first()
        expected = ticket.public_token if ticket is not None else "x" * 12
        # Compared even for an unknown reference so both mistakes take the same time.
        matches = token_matches(gw.signer, reference, expected, token)
        if ticket is None or not matches or ticket.status == "discarded":
            return None
        events = s.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.public == True)  # noqa: E712
            .order_by(col(TicketEvent.at), col(TicketEvent.id))
        ).all()
        photo = _after_photo(gw, s, ticket)
        s.expunge(ticket)
        return StatusView(ticket, list(events), photo)


def _after_photo(gw: Gateway, s: Session, ticket: Ticket) -> str | None:
    from gateway.api.open311 import PREFIX, media_token

    att_id = s.exec(
        select(AttachmentRow.id)
        .where(
            AttachmentRow.ticket_id == ticket.id,
            AttachmentRow.kind == "photo",
            AttachmentRow.phase == "after",
        )
        .order_by(col(AttachmentRow.id).desc())
    ).first()
    if att_id is None:
        return None
    return f"{PREFIX}/media/{ticket.reference}/{att_id}-{media_token(gw, ticket.public_token, att_id)}.jpg"


def _tile(template: str, lat: float, lon: float, zoom: int = 17) -> tuple[str, float, float]:
    """The OSM-scheme tile holding a point, and the point's offset in it (0..1 each way)."""
    n = 2**zoom
    x = (lon + 180.0) / 360.0 * n
    rad = math.radians(lat)
    y = (1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * n
    url = template.replace("{s}", "a").format(z=zoom, x=int(x), y=int(y))
    return url, x - int(x), y - int(y)


def form_key(gw: Gateway, reference: str, token: str) -> str:
    """Binds the "not fixed" form to its page: a POST needs the token and this key together."""
    return gw.signer.short_mac(f"nije:{reference.upper()}:{token}", 16)


def render(gw: Gateway, view: StatusView, *, reopened: bool = False) -> tuple[str, str]:
    """(HTML, CSP) of the status page; the CSP names this page's own stylesheet by hash."""
    t = view.ticket
    sc = t.script
    tz = gw.config.tz()

    def w(text: str) -> str:
        return html.escape(lat_to_cyr(text) if sc == "cyrillic" else text)

    def when(at: datetime) -> str:
        return at.astimezone(tz).strftime("%d.%m.%Y. %H:%M")

    style = STYLE
    tiles = gw.config.http.map_tiles_url
    late = t.due_at is not None and t.status in RUNNING and t.due_at < gw.clock()
    done = t.status in ("resolved", "closed")
    badge_class = "badge done" if done else "badge late" if late else "badge"
    parts = [
        f'<section class="card"><h1>{w("Vaša prijava")} <span class="ref">{html.escape(t.reference)}'
        f'</span></h1><span class="{badge_class}">{w(BADGE.get(t.status, t.status))}</span>'
        f'<p class="say">{w(SAY.get(t.status, ""))}</p></section>'
    ]
    if reopened and t.status == "open":
        parts.append(
            f'<section class="card ok" role="status">'
            f"{w('Hvala. Prijava je ponovo otvorena i vraćena službi.')}</section>"
        )
    facts: list[tuple[str, str]] = []
    category = gw.config.category(t.category)
    if category is not None:
        facts.append(("Vrsta problema", w(category.name)))
    utility = gw.config.utility(t.utility)
    if utility is not None and t.status in ("assigned", "in_progress", "resolved"):
        facts.append(("Nadležna služba", w(utility.name)))
    facts.append(("Primljena", when(t.created_at)))
    if t.due_at is not None and t.status in RUNNING:
        due = when(t.due_at)
        facts.append(("Rok", f"{due} — {w('rok je prošao')}" if late else due))
    if t.resolved_at is not None and done:
        facts.append(("Rešena", when(t.resolved_at)))
    if t.location_text:
        facts.append(("Lokacija", html.escape(mask_pii(t.location_text))))
    dl = "".join(f"<dt>{w(k)}</dt><dd>{v}</dd>" for k, v in facts)
    map_html = ""
    if tiles and t.lat is not None and t.lon is not None:
        url, fx, fy = _tile(tiles, t.lat, t.lon)
        style += f".pin{{left:{fx * 100:.1f}%;top:{fy * 100:.1f}%}}"
        map_html = (
            f'<div class="map"><img src="{html.escape(url)}" width="256" height="256" '
            f'alt="{w("Mapa lokacije")}"><span class="pin"></span></div>'
        )
    parts.append(f'<section class="card"><dl>{dl}</dl>{map_html}</section>')
    if view.after_photo:
        parts.append(
            f'<section class="card"><h2>{w("Posle intervencije")}</h2>'
            f'<img class="after" src="{html.escape(view.after_photo)}" '
            f'alt="{w("Fotografija posle intervencije")}"></section>'
        )
    if t.status == "resolved":
        path = status_path(gw.signer, t.reference, t.public_token)
        parts.append(
            f'<section class="card"><h2>{w("Problem nije otklonjen?")}</h2>'
            f'<form method="post" action="{html.escape(path)}/nije">'
            # keyed to the short link the form posts to, also when the page came from an older long link
            f'<input type="hidden" name="key" value="{form_key(gw, t.reference, path.rsplit("/", 1)[1])}">'
            f'<input type="hidden" name="nonce" value="{secrets.token_urlsafe(12)}">'
            f'<label for="comment">{w("Šta nije u redu? (nije obavezno)")}</label>'
            f'<textarea id="comment" name="comment" maxlength="{COMMENT_MAX}"></textarea>'
            f'<button type="submit">{w("Nije otklonjeno")}</button></form></section>'
        )
    items = [f"<li><time>{when(t.created_at)}</time>{w(TIMELINE['received'])}</li>"]
    for e in view.events:
        if e.to_status is None:
            continue
        said = (
            REOPENED if e.from_status == "resolved" and e.to_status == "open" else TIMELINE.get(e.to_status)
        )
        if said is None or e.to_status == "received":
            continue
        note = f" {html.escape(mask_pii(e.note))}" if e.note and e.to_status in NOTE_SHOWN else ""
        items.append(f"<li><time>{when(e.at)}</time>{w(said)}{note}</li>")
    parts.append(f'<section class="card"><h2>{w("Tok prijave")}</h2><ol>{"".join(items)}</ol></section>')
    title = f"Sistem 48 — {t.reference}"
    lang = "sr-Cyrl" if sc == "cyrillic" else "sr-Latn"
    page = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request that would answer 404
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        f"<header><b>{w('Sistem 48')}</b><small>{w('Gradski kontakt centar')}</small></header>"
        f"<main>{''.join(parts)}</main>"
        f"<footer>{w('Ovu stranicu vidi samo ko ima link iz poruke koju ste dobili.')}</footer>"
        "</body></html>"
    )
    return page, _csp(style, tiles if map_html else None)


def _csp(style: str, tiles: str | None) -> str:
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    img = "'self' data:"
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "a"))
        img += f" {parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src {img}; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the token is in the URL: never hand it to another site
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
    }


def page_response(gw: Gateway, reference: str, token: str, *, reopened: bool = False) -> Response:
    view = find(gw, reference[:40], token[:64])
    if view is None:
        from gateway.public import HEADERS

        return Response(NOT_FOUND_HTML, 404, headers=HEADERS, media_type="text/html; charset=utf-8")
    page, csp = render(gw, view, reopened=reopened)
    return Response(page, 200, headers=_headers(csp), media_type="text/html; charset=utf-8")


def make_router(per_minute: int = 30, reopen_per_hour: int = 10) -> APIRouter:
    router = APIRouter(tags=["status page"], include_in_schema=False)
    limiters: dict[tuple[int, str], RateLimiter] = {}

    def allowed(request: Request, gw: Any, what: str) -> Response | None:
        # One limiter per gateway (tests build several apps in one process), created on first use.
        key = (id(gw), what)
        if key not in limiters:
            limit, window = (
                (per_minute, timedelta(minutes=1))
                if what == "view"
                else (reopen_per_hour, timedelta(hours=1))
            )
            limiters[key] = RateLimiter(limit, window, gw.clock)
        ip = request.client.host if request.client else "?"
        if limiters[key].allow(ip):
            return None
        from gateway.public import HEADERS

        return Response(
            TOO_MANY_HTML,
            429,
            headers={**HEADERS, "Retry-After": str(limiters[key].retry_after(ip))},
            media_type="text/html; charset=utf-8",
        )

    @router.get("/s/{reference}")
    async def status_page_by_query(request: Request, reference: str, t: str = "") -> Response:
        """The long form `/s/<ref>?t=<token>` that e-mails carried before the short link."""
        gw: Any = request.app.state.gateway
        if (refused := allowed(request, gw, "view")) is not None:
            return refused
        return await asyncio.to_thread(page_response, gw, reference, t)

    @router.get("/s/{reference}/{token}")
    async def status_page(request: Request, reference: str, token: str, ok: str = "") -> Response:
        gw: Any = request.app.state.gateway
        if (refused := allowed(request, gw, "view")) is not None:
            return refused
        return await asyncio.to_thread(page_response, gw, reference, token, reopened=ok == "1")

    @router.post("/s/{reference}/{token}/nije")
    async def not_fixed(
        request: Request,
        reference: str,
        token: str,
        key: str = Form(""),
        nonce: str = Form(""),
        comment: str = Form(""),
    ) -> Response:
        gw: Any = request.app.state.gateway
        if (refused := allowed(request, gw, "reopen")) is not None:
            return refused
        reference, token = reference[:40].upper(), token[:64]
        view = await asyncio.to_thread(find, gw, reference, token)
        # The key ties a POST to a view of this page: a form on another site cannot make it up.
        if view is None or not hmac.compare_digest(key.encode(), form_key(gw, reference, token).encode()):
            from gateway.public import HEADERS

            return Response(NOT_FOUND_HTML, 404, headers=HEADERS, media_type="text/html; charset=utf-8")
        if view.ticket.status == "resolved":
            external_id = f"status-page:{reference}:{nonce[:32] or secrets.token_hex(8)}"
            await asyncio.to_thread(
                gw.inbox.not_fixed_sync, reference, comment.strip()[:COMMENT_MAX], external_id
            )
        return RedirectResponse(f"/s/{reference}/{token}?ok=1", status_code=303)

    return router

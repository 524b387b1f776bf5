"""The ticket page (timeline, photos, map, operator actions, reply with SMS part count) and the
utilities' work orders (own orders only, no citizen PII, progress with an after-photo)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from gateway.api.deps import GW
from gateway.auth import Principal
from gateway.openmap import Point, layout
from gateway.photos import uploaded_photo_type
from gateway.queries import TicketFilter, list_tickets, ticket_detail
from gateway.tickets import TRANSITIONS, Change, MissingDetail, Status, Ticket, TicketError, TicketNotFound
from gateway.web.render import R, WebOperator, WebStaff
from gateway.web.session import csrf_guard
from gateway.web.ticket_extras import CONFIRMED, refuse_work_order, ticket_extras
from storage.db import session_scope

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
MAX_PHOTO = 10 * 1024 * 1024


def _sms_parts(gw: Any, text: str) -> dict[str, Any]:
    from sms.codec import count_parts

    c = count_parts(text, gw.config.sms.encoding_policy)
    return {
        "parts": c.parts,
        "encoding": c.encoding,
        "units": c.chars,
        "policy": gw.config.sms.encoding_policy,
    }


def _timeline(detail: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for e in detail.get("events", []):
        items.append({"kind": "event", "at": e["at"], "data": e})
    for m in detail.get("messages", []):
        items.append({"kind": "in" if m["direction"] == "in" else "out", "at": m["received_at"], "data": m})
    for o in detail.get("outbound", []):
        items.append({"kind": "outbox", "at": o["created_at"], "data": o})
    for t in detail.get("transcripts", []):
        items.append({"kind": "transcript", "at": t["created_at"], "data": t})
    items.sort(key=lambda i: i["at"])
    return items


def render_ticket(
    request: Request,
    r: R,
    gw: Any,
    who: Principal,
    reference: str,
    error: str | None = None,
    kept: list[str] | None = None,
) -> HTMLResponse:
    with session_scope(gw.engine, write=who.sees_pii) as s:  # PII views are audit-logged
        detail = ticket_detail(s, who, reference)
        route = None
        extras: dict[str, Any] = {"undo_until": None, "sms_frame": ("", "")}
        extras.update(merged_into=None, merged=[])
        if detail is not None and who.sees_pii:
            ticket = gw.tickets.get(s, detail["id"])
            route = gw.tickets.outbox.reply_route(s, ticket)
            extras = ticket_extras(s, gw, ticket)
    if detail is None:
        return r.page(request, "error.html", 404, message="404")
    allowed = sorted(TRANSITIONS[Status(detail["status"])])
    tiles = gw.config.http.map_tiles_url
    lat, lon = detail.get("lat"), detail.get("lon")
    # Without JavaScript (no Leaflet) the same place as server-drawn tiles with one pin.
    small_map = None
    if tiles and lat is not None and lon is not None:
        pin = Point(detail["reference"], detail.get("category"), detail["status"], float(lat), float(lon))
        small_map = layout([pin], tiles, max_side=2)
    return r.page(
        request,
        "ticket.html",
        422 if error else 200,
        d=detail,
        timeline=_timeline(detail),
        allowed=allowed,
        reply_channel=route[0] if route else None,
        sms=_sms_parts(gw, ""),
        categories=gw.config.offered(),
        utilities=gw.config.utilities,
        tiles=tiles,
        small_map=small_map,
        error=error,
        kept=[(k, k.split("|", 4)[-1]) for k in kept or []],
        **extras,
    )


@router.get("/tickets/{reference}", response_class=HTMLResponse)
def ticket_page(reference: str, request: Request, who: WebStaff, r: R, gw: GW) -> HTMLResponse:
    return render_ticket(request, r, gw, who, reference)


def _act(
    request: Request, r: R, gw: Any, who: Principal, reference: str, work: Any, kept: list[str] | None = None
) -> Response:
    """Run one change in a write transaction; on success back to the ticket (POST→redirect→GET)."""
    try:
        with session_scope(gw.engine, write=True) as s:
            ticket = gw.tickets.load(s, reference)
            if not who.sees_pii and ticket.utility != who.utility:
                raise TicketNotFound(reference)
            work(s, ticket)
    except TicketError as exc:
        error = str(exc) or type(exc).__name__
        return render_ticket(request, r, gw, who, reference, error=error, kept=kept)
    return RedirectResponse(f"/tickets/{reference}", status_code=303)


def _opt(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


@router.post("/tickets/{reference}/validate", response_model=None)
def validate(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    category: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    location_text: Annotated[str | None, Form()] = None,
) -> Response:
    def work(s: Session, t: Ticket) -> None:
        gw.tickets.validate(
            s,
            t,
            who.actor(),
            category=_opt(category),
            description=description,
            location_text=_opt(location_text),
        )

    return _act(request, r, gw, who, reference, work)


@router.post("/tickets/{reference}/assign", response_model=None)
def assign(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    utility: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
) -> Response:
    def work(s: Session, t: Ticket) -> None:
        gw.tickets.transition(
            s, t, Status.ASSIGNED, who.actor(), Change(note=_opt(note), utility=_opt(utility))
        )

    return _act(request, r, gw, who, reference, work)


@router.post("/tickets/{reference}/transition", response_model=None)
def transition(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    to: Annotated[str, Form()],
    note: Annotated[str | None, Form()] = None,
    forwarded_to: Annotated[str | None, Form()] = None,
    duplicate_of: Annotated[str | None, Form()] = None,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    def work(s: Session, t: Ticket) -> None:
        try:
            target = Status(to)
        except ValueError:
            raise TicketError(f"unknown status {to!r}") from None
        if target in CONFIRMED and confirm != "yes":
            raise TicketError("needs_confirmation")
        change = Change(
            note=_opt(note),
            forwarded_to=_opt(forwarded_to),
            duplicate_of=(_opt(duplicate_of) or "").upper() or None,
        )
        gw.tickets.transition(s, t, target, who.actor(), change)

    return _act(request, r, gw, who, reference, work)


@router.post("/tickets/{reference}/reply", response_model=None)
def reply(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    text: Annotated[str, Form(max_length=5000)],
) -> Response:
    def work(s: Session, t: Ticket) -> None:
        if not text.strip():
            raise TicketError("empty reply")
        gw.tickets.reply(s, t, who.actor(), text.strip())

    return _act(request, r, gw, who, reference, work)


@router.post("/tickets/{reference}/note", response_model=None)
def note(
    reference: str,
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    text: Annotated[str, Form(max_length=5000)],
) -> Response:
    def work(s: Session, t: Ticket) -> None:
        if text.strip():
            gw.tickets.note(s, t, who.actor(), text.strip())

    return _act(request, r, gw, who, reference, work)


@router.post("/tickets/{reference}/progress", response_model=None)
async def progress(
    reference: str,
    request: Request,
    who: WebStaff,
    r: R,
    gw: GW,
    to: Annotated[str, Form()],
    note: Annotated[str | None, Form()] = None,
    photo: Annotated[UploadFile | None, File()] = None,
    photo_before: Annotated[UploadFile | None, File()] = None,
    kept: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A utility's step on its work order: in progress, resolved with a note and photos, or "not
    ours" with a reason. Photos are stored first, so a refused step keeps them for the retry."""
    photos: list[tuple[str, str, str, int]] = []  # phase, sha256, content type, size + name below
    names: list[str] = []
    for phase, upload in (("after", photo), ("before", photo_before)):
        if upload is None or not upload.filename:
            continue
        data = await upload.read(MAX_PHOTO + 1)
        if (content_type := uploaded_photo_type(data, MAX_PHOTO, PHOTO_TYPES)) is None:
            return render_ticket(request, r, gw, who, reference, error="new_photo_type")
        photos.append((phase, gw.blobs.put(data), content_type, len(data)))
        names.append(upload.filename[:200])
    for item in kept or []:  # "phase|sha256|type|size|name" from a refused attempt
        phase, sha, content_type, size, name = (item.split("|", 4) + [""] * 5)[:5]
        fresh = phase not in {p[0] for p in photos}
        if fresh and phase in ("after", "before") and content_type in PHOTO_TYPES and gw.blobs.exists(sha):
            photos.append((phase, sha, content_type, int(size or 0)))
            names.append(name[:200] or f"{phase}.jpg")
    if to not in (Status.IN_PROGRESS, Status.RESOLVED, "not_ours"):
        return render_ticket(request, r, gw, who, reference, error=f"not a work-order step: {to}")

    def work(s: Session, t: Ticket) -> None:
        if to == "not_ours":
            if not (note or "").strip():
                raise MissingDetail("not_ours_needs_reason")
            refuse_work_order(gw, s, t, who.actor(), note or "")
            return
        gw.tickets.transition(s, t, Status(to), who.actor(), Change(note=_opt(note)))
        for (phase, sha, content_type, size), filename in zip(photos, names, strict=True):
            gw.tickets.add_work_photo(
                s, t, phase=phase, filename=filename, content_type=content_type, size=size, sha256=sha
            )

    from starlette.concurrency import run_in_threadpool

    kept_now = [f"{p}|{sha}|{ct}|{n}|{name}" for (p, sha, ct, n), name in zip(photos, names, strict=True)]
    return await run_in_threadpool(_act, request, r, gw, who, reference, work, kept_now)


@router.get("/work-orders", response_class=HTMLResponse)
def work_orders(request: Request, who: WebStaff, r: R, gw: GW, status: str | None = None) -> HTMLResponse:
    statuses = [status] if status else ["assigned", "in_progress", "waiting"]
    with session_scope(gw.engine) as s:
        total, items = list_tickets(s, who, TicketFilter(status=statuses, limit=200))
        if not status:
            # A job the citizen reopened is back with the desk (open) until it is assigned again; the
            # utility keeps it in view, marked, with the citizen's words.
            _, back = list_tickets(s, who, TicketFilter(status=["open"], limit=200))
            reopened = [it for it in back if it.get("reopened_at") and it.get("utility")]
            items, total = reopened + items, total + len(reopened)
    return r.page(request, "workorders.html", items=items, total=total, selected=status or "")

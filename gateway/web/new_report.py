"""The operator's new-report page for a phone call or a walk-in: caller first (identity and
earlier tickets at once), text with a category suggested as it is typed, address, photos and the
reply channel. It goes through Inbox.ingest like every other contact (channel phone / walk_in)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from channels.base import Attachment, ChannelKind, InboundContact
from gateway.address import street_names
from gateway.api.deps import GW
from gateway.api.schemas import TicketCreate
from gateway.api.tickets import _complete_created
from gateway.callers import caller_lookup
from gateway.photos import uploaded_photo_type
from gateway.web.render import R, WebOperator
from gateway.web.session import csrf_guard
from storage.db import session_scope

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

KINDS = (ChannelKind.PHONE.value, ChannelKind.WALK_IN.value)
REPLY_VIA = ("sms", "email", "none")
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
MAX_PHOTO = 10 * 1024 * 1024
FIELDS = ("phone", "email", "name", "description", "category", "location_text", "reply_via")


def _form_ctx(gw: Any, **values: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "categories": gw.config.offered(),
        "streets": street_names(gw.config),
        "suggested": None,
        "v": {**dict.fromkeys(FIELDS, ""), "kind": "phone", "key": uuid.uuid4().hex, **values},
    }
    return ctx


@router.get("/tickets/new", response_class=HTMLResponse)
def new_report(request: Request, who: WebOperator, r: R, gw: GW, kind: str = "phone") -> HTMLResponse:
    return r.page(request, "new_report.html", **_form_ctx(gw, kind=kind if kind in KINDS else "phone"))


@router.get("/tickets/new/caller", response_class=HTMLResponse)
def caller_panel(request: Request, who: WebOperator, r: R, gw: GW, phone: str = "") -> HTMLResponse:
    with session_scope(gw.engine, write=True) as s:  # a PII view: audit-logged
        found = caller_lookup(s, who, phone[:320], gw.config.gateway.default_region)
    return r.page(request, "_caller.html", caller=found)


@router.get("/tickets/new/category", response_class=HTMLResponse)
def category_field(
    request: Request, who: WebOperator, r: R, gw: GW, description: str = "", category: str = ""
) -> HTMLResponse:
    suggested = gw.tickets.router.suggest(description[:5000]) if description.strip() else None
    return r.page(
        request,
        "_category_select.html",
        categories=gw.config.offered(),
        suggested=suggested,
        chosen=category,
    )


@router.post("/tickets/new", response_model=None)
async def create_report(
    request: Request,
    who: WebOperator,
    r: R,
    gw: GW,
    key: Annotated[str, Form(max_length=64)],
    kind: Annotated[str, Form()] = "phone",
    phone: Annotated[str, Form(max_length=40)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    category: Annotated[str, Form()] = "",
    location_text: Annotated[str, Form(max_length=500)] = "",
    reply_via: Annotated[str, Form()] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    values = {
        "kind": kind,
        "phone": phone,
        "email": email,
        "name": name,
        "description": description,
        "category": category,
        "location_text": location_text,
        "reply_via": reply_via,
        "key": key,
    }

    def again(error: str) -> HTMLResponse:
        ctx = _form_ctx(gw, **values)
        ctx["suggested"] = gw.tickets.router.suggest(description) if description.strip() else None
        return r.page(request, "new_report.html", 422, error=error, **ctx)

    if kind not in KINDS or reply_via not in REPLY_VIA:
        return again("new_choose_reply")
    if not description.strip():
        return again("validation needs the text of the report")
    if not category or category not in {c.code for c in gw.config.offered()}:
        return again("validation needs a known category")
    if reply_via == "sms" and not phone.strip():
        return again("new_sms_needs_phone")
    if reply_via == "email" and "@" not in email:
        return again("new_email_needs_address")
    attachments: list[Attachment] = []
    for photo in photos or []:
        if not photo.filename:
            continue
        data = await photo.read(MAX_PHOTO + 1)
        if (mime := uploaded_photo_type(data, MAX_PHOTO, PHOTO_TYPES)) is None:
            return again("new_photo_type")
        attachments.append(Attachment(photo.filename[:200], mime, data))
    try:
        body = TicketCreate(
            channel=kind,
            description=description.strip(),
            phone=phone.strip() or None,
            email=email.strip().lower() or None,
            name=name.strip() or None,
            category=category,
            location_text=location_text.strip() or None,
            idempotency_key=key,
        )
    except ValidationError:
        return again("new_invalid")
    # The sender is the identity the citizen wants answers on: the acknowledgement goes there.
    sender = (body.email if reply_via == "email" else body.phone) or body.phone or body.email or ""
    contact = InboundContact(
        channel=ChannelKind(kind),
        external_id=f"desk:{key}",
        sender=sender,
        received_at=gw.clock(),
        body=body.description,
        sender_name=body.name,
        attachments=tuple(attachments),
        meta={"entered_by": who.name, "suppress_ack": "1" if reply_via == "none" else "0"},
    )
    result = await gw.inbox.ingest(contact)
    if result.ticket_id is None:
        return again("new_invalid")
    if result.created:
        if reply_via != "email" and body.email and body.phone:
            body = body.model_copy(update={"email": None})  # the phone was the sender: nothing to add
        await asyncio.to_thread(_complete_created, gw, result.ticket_id, body, who)
    return RedirectResponse(f"/tickets/{result.reference}", status_code=303)

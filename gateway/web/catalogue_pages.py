"""The catalogue for the admin: utilities, categories with their keywords and deadlines, and the
coordinator's escalation addresses. Saves go through gateway/catalogue.py and apply without a restart."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.deps import GW
from gateway.catalogue import CatalogueError, split_list
from gateway.web.render import R, WebAdmin
from gateway.web.session import csrf_guard

router = APIRouter(dependencies=[Depends(csrf_guard)], include_in_schema=False)

Text = Annotated[str, Form(max_length=4000)]


def _list_page(request: Request, r: R, gw: Any, status: int | None = None, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("form", None)
    ctx.setdefault("v", {})
    ctx.setdefault("field", None)
    ctx.setdefault("form_error", None)
    return r.page(
        request,
        "admin_catalogue.html",
        status or (422 if ctx.get("field") else 200),
        categories=gw.config.categories,
        utilities=gw.config.utilities,
        escalation="\n".join(gw.config.sla.escalation_emails),
        done=request.query_params.get("saved") == "1",
        **ctx,
    )


def _edit_page(request: Request, r: R, gw: Any, kind: str, v: dict[str, Any], **ctx: Any) -> HTMLResponse:
    ctx.setdefault("field", None)
    ctx.setdefault("form_error", None)
    return r.page(
        request,
        "admin_catalogue_edit.html",
        422 if ctx.get("field") else 200,
        kind=kind,
        v=v,
        utilities=gw.config.utilities,
        confirm_delete=ctx.pop("confirm_delete", False),
        **ctx,
    )


def _saved() -> Response:
    return RedirectResponse("/admin/catalogue?saved=1", status_code=303)


@router.get("/admin/catalogue", response_class=HTMLResponse)
def catalogue_page(request: Request, who: WebAdmin, r: R, gw: GW) -> HTMLResponse:
    return _list_page(request, r, gw)


@router.get("/admin/catalogue/{kind}/{code}", response_class=HTMLResponse)
def edit_page(kind: str, code: str, request: Request, who: WebAdmin, r: R, gw: GW) -> Response:
    found = gw.config.category(code) if kind == "category" else gw.config.utility(code)
    if kind not in ("category", "utility") or found is None:
        return _list_page(request, r, gw, status=404, error="catalogue_unknown")
    v = found.model_dump()
    return _edit_page(request, r, gw, kind, v, confirm_delete=request.query_params.get("delete") == "1")


@router.post("/admin/catalogue/category", response_model=None)
def category_save(
    request: Request,
    who: WebAdmin,
    r: R,
    gw: GW,
    code: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(max_length=200)] = "",
    utility: Annotated[str, Form(max_length=100)] = "",
    sla_hours: Annotated[str, Form(max_length=10)] = "",
    keywords: Text = "",
    enabled: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
) -> Response:
    words = split_list(keywords)
    v = {"code": code, "name": name, "utility": utility, "sla_hours": sla_hours, "enabled": bool(enabled)}
    v["keywords"] = words
    try:
        gw.catalogue.save_category(
            who.name,
            code=code,
            name=name,
            utility=utility,
            sla_hours=sla_hours,
            keywords=words,
            enabled=bool(enabled) or bool(new),
            new=bool(new),
        )
    except CatalogueError as exc:
        if new:  # the add form on the list page, shown again with what was typed
            return _list_page(request, r, gw, form="category", v=v, field=exc.field, form_error=exc.key)
        return _edit_page(request, r, gw, "category", v, field=exc.field, form_error=exc.key)
    return _saved()


@router.post("/admin/catalogue/category/{code}/delete", response_model=None)
def category_delete(code: str, request: Request, who: WebAdmin, r: R, gw: GW) -> Response:
    try:
        gw.catalogue.delete_category(who.name, code)
    except CatalogueError as exc:
        found = gw.config.category(code)
        if found is None:
            return _list_page(request, r, gw, status=404, error=exc.key)
        return _edit_page(request, r, gw, "category", found.model_dump(), field="delete", error=exc.key)
    return _saved()


@router.post("/admin/catalogue/utility", response_model=None)
def utility_save(
    request: Request,
    who: WebAdmin,
    r: R,
    gw: GW,
    code: Annotated[str, Form(max_length=100)],
    name: Annotated[str, Form(max_length=200)] = "",
    emails: Text = "",
    escalation_emails: Text = "",
    new: Annotated[str, Form()] = "",
) -> Response:
    to, chain = split_list(emails), split_list(escalation_emails)
    v = {"code": code, "name": name, "emails": to, "escalation_emails": chain}
    try:
        gw.catalogue.save_utility(
            who.name,
            code=code,
            name=name,
            emails=to,
            escalation_emails=chain,
            new=bool(new),
        )
    except CatalogueError as exc:
        if new:
            return _list_page(request, r, gw, form="utility", v=v, field=exc.field, form_error=exc.key)
        return _edit_page(request, r, gw, "utility", v, field=exc.field, form_error=exc.key)
    return _saved()


@router.post("/admin/catalogue/escalation", response_model=None)
def escalation_save(request: Request, who: WebAdmin, r: R, gw: GW, escalation_emails: Text = "") -> Response:
    try:
        gw.catalogue.save_escalation(who.name, split_list(escalation_emails))
    except CatalogueError as exc:
        return _list_page(
            request,
            r,
            gw,
            form="escalation",
            v={"escalation": escalation_emails},
            field=exc.field,
            form_error=exc.key,
        )
    return _saved()

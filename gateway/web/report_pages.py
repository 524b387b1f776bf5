"""The public report form `/prijava` (Serbian, Latin or Cyrillic) and `/report` (English): no login,
no JavaScript, mobile-first; rate-limited per client address, size-limited, honeypot, signed form."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from channels.base import Attachment
from channels.privacy import mask_email, mask_phone
from gateway.address import street_names
from gateway.photos import gps_from_photo, strip_metadata, uploaded_photo_type
from gateway.public import TOO_MANY_HTML, RateLimiter
from gateway.text import lat_to_cyr
from gateway.web.citizen_pages import STYLE as CARD_STYLE
from gateway.webreport import WebReport, submit

if TYPE_CHECKING:
    from gateway.runtime import Gateway

Lang = Literal["lat", "cyr", "en"]
MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_BODY_BYTES = MAX_PHOTOS * MAX_PHOTO_BYTES + 256 * 1024
MAX_DESCRIPTION = 4000
FORM_VALID_S = 4 * 3600

STYLE = CARD_STYLE + (
    "form label{font-weight:600;margin-top:1em}input[type=text],input[type=tel],input[type=email],select"
    "{width:100%;font:inherit;padding:.55em;border:1px solid #9aa8b6;border-radius:8px;background:#fff}"
    "input[type=file]{width:100%;margin-top:.3em}.hint{font-size:.85em;color:#5a6978;margin:.2em 0 0}"
    "fieldset{border:0;padding:0;margin:1em 0 0}legend{font-weight:600}"
    "fieldset label{display:inline-block;font-weight:400;margin-right:1.2em}"
    "button.send{background:#0b4f8a}.err{background:#fde2e1;color:#9b1c1c}"
    ".langs{margin:0 0 1em;font-size:.95em}.langs a{color:#0b4f8a;margin-right:1em}"
    ".langs b{margin-right:1em}.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}"
    ".big{font-size:1.3em;font-weight:700;font-family:ui-monospace,monospace}a.st{word-break:break-all}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

# key: (Serbian Latin, English); Cyrillic is the Latin transliterated.
TEXT: dict[str, tuple[str, str]] = {
    "centre": ("Gradski kontakt centar", "City contact centre"),
    "title": ("Prijavite komunalni problem", "Report a problem in the city"),
    "intro": (
        "Rupa na putu, ugašena svetiljka, pukla cev? Opišite problem; odgovor dobijate u roku od 48 sati.",
        "A pothole, a broken street light, a burst pipe? Describe it; you get an answer within 48 hours.",
    ),
    "description": ("Šta je problem?", "What is the problem?"),
    "category": ("Vrsta problema (nije obavezno)", "Kind of problem (optional)"),
    "dont_know": ("— ne znam —", "— not sure —"),
    "address": ("Adresa ili mesto", "Address or place"),
    "address_hint": (
        "Ulica i broj, ili opis mesta. Nije potrebno ako fotografija ima lokaciju.",
        "Street and number, or describe the place. Not needed if a photo carries its location.",
    ),
    "photos": ("Fotografije (do 3, nije obavezno)", "Photos (up to 3, optional)"),
    "photos_hint": (
        "Lokaciju iz fotografije koristimo, a zatim je brišemo iz fotografije.",
        "We use the location stored in a photo and then remove it from the photo.",
    ),
    "contact": (
        "Kako da vam javimo status? (nije obavezno)",
        "How should we tell you the status? (optional)",
    ),
    "phone": ("Mobilni telefon", "Mobile phone"),
    "email": ("E-mail", "E-mail"),
    "via": ("Odgovor šaljite", "Send answers by"),
    "via_sms": ("SMS-om", "SMS"),
    "via_email": ("e-mailom", "e-mail"),
    "privacy": (
        "Vaš broj i adresu vidi samo kontakt centar; služba koja otklanja problem ih ne vidi.",
        "Only the contact centre sees your number and address; the service fixing the problem does not.",
    ),
    "honeypot": ("Ne popunjavajte ovo polje", "Leave this field empty"),
    "send": ("Pošalji prijavu", "Send the report"),
    "thanks": ("Prijava je primljena", "Your report is registered"),
    "your_ref": ("Broj vaše prijave", "Your reference"),
    "follow": ("Status pratite na ovoj stranici:", "Follow its status on this page:"),
    "ack_sms": ("Potvrdu smo poslali SMS-om na", "We sent a confirmation by SMS to"),
    "ack_email": ("Potvrdu smo poslali e-mailom na", "We sent a confirmation by e-mail to"),
    "keep": (
        "Sačuvajte link: bez njega status ne možete videti.",
        "Keep the link: the status is shown only with it.",
    ),
    "another": ("Nova prijava", "Report another problem"),
    "err_description": (
        "Opišite problem (bar nekoliko reči).",
        "Please describe the problem (a few words at least).",
    ),
    "err_long": (
        "Opis je predugačak (najviše 4000 znakova).",
        "The description is too long (4000 characters at most).",
    ),
    "err_where": (
        "Napišite adresu ili mesto (ili dodajte fotografiju sa lokacijom).",
        "Please give an address or place (or add a photo with its location).",
    ),
    "err_photo": (
        "Fotografija mora biti JPEG, PNG, HEIC ili WebP, najviše 10 MB; najviše 3 fotografije.",
        "Photos must be JPEG, PNG, HEIC or WebP, 10 MB at most; 3 photos at most.",
    ),
    "err_phone": ("Broj telefona nije ispravan.", "The phone number is not valid."),
    "err_email": ("E-mail adresa nije ispravna.", "The e-mail address is not valid."),
    "err_form": (
        "Obrazac je istekao. Pošaljite ga ponovo.",
        "The form has expired. Please send it again.",
    ),
    "photos_again": ("Fotografije izaberite ponovo.", "Please choose the photos again."),
    "too_big": (
        "Prijava je prevelika (fotografije najviše 10 MB).",
        "The report is too large (photos 10 MB at most).",
    ),
}


def say(lang: Lang, key: str) -> str:
    lat, en = TEXT[key]
    if lang == "en":
        return html.escape(en)
    return html.escape(lat_to_cyr(lat) if lang == "cyr" else lat)


def form_token(gw: Gateway, now: float) -> str:
    """`<issued>.<nonce>.<mac>`: proves the form was served by us and recently; the nonce names it."""
    body = f"{int(now)}.{secrets.token_urlsafe(12)}"
    return f"{body}.{gw.signer.short_mac('form:' + body, 22)}"


def form_nonce(gw: Gateway, token: str, now: float) -> str | None:
    issued, _, rest = token.partition(".")
    nonce, _, mac = rest.partition(".")
    if not issued.isdigit() or not nonce or len(nonce) > 32:
        return None
    if not hmac.compare_digest(mac.encode(), gw.signer.short_mac(f"form:{issued}.{nonce}", 22).encode()):
        return None
    return nonce if 0 <= now - int(issued) <= FORM_VALID_S else None


def _page(lang: Lang, title: str, body: str) -> str:
    code = {"lat": "sr-Latn", "cyr": "sr-Cyrl", "en": "en"}[lang]
    return (
        f'<!doctype html><html lang="{code}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Sistem 48 — {title}</title><style>{STYLE}</style></head><body>"
        f"<header><b>Sistem 48</b><small>{say(lang, 'centre')}</small></header>"
        f"<main>{body}</main></body></html>"
    )


def _langs(lang: Lang) -> str:
    links = [
        ("lat", "/prijava", "Latinica"),
        ("cyr", "/prijava?pismo=cir", "Ћирилица"),
        ("en", "/report", "English"),
    ]
    parts = [
        f"<b>{name}</b>" if code == lang else f'<a href="{href}">{name}</a>' for code, href, name in links
    ]
    return f'<nav class="langs">{"".join(parts)}</nav>'


def form_html(gw: Gateway, lang: Lang, values: Mapping[str, str], errors: list[str]) -> str:
    def v(name: str) -> str:
        return html.escape(values.get(name, ""))

    def name_of(text: str) -> str:
        return html.escape(lat_to_cyr(text) if lang == "cyr" else text)

    options = [f'<option value="">{say(lang, "dont_know")}</option>'] + [
        f'<option value="{html.escape(c.code)}"{" selected" if values.get("category") == c.code else ""}>'
        f"{name_of(c.name)}</option>"
        for c in gw.config.offered()
    ]
    via = values.get("via", "sms")
    error_box = (
        '<section class="card err" role="alert">' + "<br>".join(say(lang, e) for e in errors) + "</section>"
        if errors
        else ""
    )
    # The register's names as typed suggestions: native to the browser, so keyboard and no-JS friendly.
    streets = "".join(f'<option value="{name_of(n)}">' for n in street_names(gw.config))
    action = "/report" if lang == "en" else "/prijava"
    body = (
        f'{_langs(lang)}<section class="card"><h1>{say(lang, "title")}</h1>'
        f"<p>{say(lang, 'intro')}</p></section>"
        f"{error_box}"
        f'<form class="card" method="post" action="{action}" enctype="multipart/form-data">'
        f'<input type="hidden" name="lang" value="{lang}">'
        f'<input type="hidden" name="form" value="{form_token(gw, time.time())}">'
        f'<label for="description">{say(lang, "description")}</label>'
        f'<textarea id="description" name="description" required maxlength="{MAX_DESCRIPTION}">'
        f"{v('description')}</textarea>"
        f'<label for="category">{say(lang, "category")}</label>'
        f'<select id="category" name="category">{"".join(options)}</select>'
        f'<label for="address">{say(lang, "address")}</label>'
        f'<input type="text" id="address" name="address" maxlength="300" value="{v("address")}" '
        f'list="streets" autocomplete="street-address"><p class="hint">{say(lang, "address_hint")}</p>'
        f'<datalist id="streets">{streets}</datalist>'
        f'<label for="photos">{say(lang, "photos")}</label>'
        f'<input type="file" id="photos" name="photos" accept="image/*" multiple>'
        f'<p class="hint">{say(lang, "photos_hint")}</p>'
        f'<div class="hp" aria-hidden="true"><label for="website">{say(lang, "honeypot")}</label>'
        f'<input type="text" id="website" name="website" tabindex="-1" autocomplete="off"></div>'
        f"<fieldset><legend>{say(lang, 'contact')}</legend>"
        f'<label for="phone">{say(lang, "phone")}</label>'
        f'<input type="tel" id="phone" name="phone" maxlength="40" value="{v("phone")}" autocomplete="tel">'
        f'<label for="email">{say(lang, "email")}</label>'
        f'<input type="email" id="email" name="email" maxlength="200" value="{v("email")}" '
        'autocomplete="email">'
        f'<p class="hint">{say(lang, "via")}:</p>'
        f'<label><input type="radio" name="via" value="sms"{" checked" if via == "sms" else ""}> '
        f"{say(lang, 'via_sms')}</label>"
        f'<label><input type="radio" name="via" value="email"{" checked" if via == "email" else ""}> '
        f"{say(lang, 'via_email')}</label></fieldset>"
        f'<p class="hint">{say(lang, "privacy")}</p>'
        f'<button class="send" type="submit">{say(lang, "send")}</button></form>'
    )
    return _page(lang, say(lang, "title"), body)


def thanks_html(lang: Lang, reference: str, url: str, told: str, via: str) -> str:
    sent = ""
    if told:
        key = "ack_sms" if via == "sms" else "ack_email"
        sent = f"<p>{say(lang, key)} {html.escape(told)}.</p>"
    action = "/report" if lang == "en" else "/prijava" + ("?pismo=cir" if lang == "cyr" else "")
    body = (
        f'<section class="card ok" role="status"><h1>{say(lang, "thanks")}</h1>'
        f'<p>{say(lang, "your_ref")}:</p><p class="big" id="reference">{html.escape(reference)}</p></section>'
        f'<section class="card"><p>{say(lang, "follow")}</p>'
        f'<p><a class="st" id="status-link" href="{html.escape(url)}">{html.escape(url)}</a></p>'
        f'{sent}<p class="hint">{say(lang, "keep")}</p></section>'
        f'<p><a href="{action}">{say(lang, "another")}</a></p>'
    )
    return _page(lang, say(lang, "thanks"), body)


def _lang_of(request: Request, default: Lang) -> Lang:
    wanted = request.query_params.get("pismo", "")
    if wanted in ("cir", "cyr", "cyrillic"):
        return "cyr"
    return default


def _same_origin(request: Request) -> bool:
    """A browser names the page a form came from; one from another site is refused."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return True  # some privacy settings send none; the signed form field still has to match
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def _photos(form: Any) -> tuple[list[Attachment], bool]:
    """The uploaded photos, and whether any upload was refused (type, size, count)."""
    uploads = [u for u in form.getlist("photos") if isinstance(u, UploadFile) and u.filename]
    if len(uploads) > MAX_PHOTOS:
        return [], True
    photos: list[Attachment] = []
    for upload in uploads:
        data = await upload.read(MAX_PHOTO_BYTES + 1)
        if not data:
            continue
        if (kind := uploaded_photo_type(data, MAX_PHOTO_BYTES)) is None:
            return [], True
        if await asyncio.to_thread(strip_metadata, data) is None:
            return [], True
        photos.append(Attachment(upload.filename or "photo.jpg", kind, data))
    return photos, False


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value.replace("\x00", "").strip()[:limit] if isinstance(value, str) else ""


def make_router(per_hour: int = 5) -> APIRouter:
    router = APIRouter(tags=["public report"], include_in_schema=False)
    limiters: dict[int, RateLimiter] = {}

    def respond(text: str, status: int = 200) -> Response:
        return Response(text, status, headers=HEADERS, media_type="text/html; charset=utf-8")

    @router.get("/prijava")
    async def form_sr(request: Request) -> Response:
        return respond(form_html(request.app.state.gateway, _lang_of(request, "lat"), {}, []))

    @router.get("/report")
    async def form_en(request: Request) -> Response:
        return respond(form_html(request.app.state.gateway, _lang_of(request, "en"), {}, []))

    @router.post("/prijava")
    @router.post("/report")
    async def send(request: Request) -> Response:
        gw: Any = request.app.state.gateway
        default: Lang = "en" if request.url.path == "/report" else "lat"
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return respond(
                _page(default, "413", f'<section class="card err">{say(default, "too_big")}</section>'), 413
            )
        key = id(gw)  # one limiter per gateway (tests build several apps in one process)
        if key not in limiters:
            limiters[key] = RateLimiter(per_hour, timedelta(hours=1), gw.clock)
        ip = request.client.host if request.client else "?"
        if not limiters[key].allow(ip):
            headers = {**HEADERS, "Retry-After": str(limiters[key].retry_after(ip))}
            return Response(TOO_MANY_HTML, 429, headers=headers, media_type="text/html; charset=utf-8")
        try:
            form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=20)
        except Exception:  # the multipart parser's own errors: a malformed body
            return respond(
                _page(default, "400", f'<section class="card err">{say(default, "err_form")}</section>'), 400
            )
        lang_field = _text(form, "lang", 3)
        lang: Lang = lang_field if lang_field in ("lat", "cyr", "en") else default  # type: ignore[assignment]
        values = {n: _text(form, n, 300) for n in ("category", "address", "phone", "email", "via")}
        values["description"] = _text(form, "description", MAX_DESCRIPTION + 1)
        if _text(form, "website", 200):
            # A bot filled the hidden field: it gets a page that looks like success and nothing else.
            return respond(
                _page(lang, say(lang, "thanks"), f'<section class="card ok">{say(lang, "thanks")}</section>')
            )
        nonce = form_nonce(gw, _text(form, "form", 120), time.time())
        errors: list[str] = []
        if nonce is None or not _same_origin(request):
            errors.append("err_form")
        description = values["description"]
        if len(description) < 5:
            errors.append("err_description")
        elif len(description) > MAX_DESCRIPTION:
            errors.append("err_long")
        photos, refused = await _photos(form)
        if refused:
            errors.append("err_photo")
        has_gps = any(gps_from_photo(p.data) for p in photos)
        if not values["address"] and not has_gps:
            errors.append("err_where")
        reply_to, via = _reply_to(gw, values, errors)
        if errors:
            if photos:
                errors.append("photos_again")
            return respond(form_html(gw, lang, values, errors), 400)
        assert nonce is not None
        category = values["category"] if values["category"] in {c.code for c in gw.config.offered()} else None
        report = WebReport(
            form_id=nonce,
            description=description,
            received_at=gw.clock(),
            category=category,
            address=values["address"],
            photos=tuple(photos),
            reply_to=reply_to,
            reply_channel=via,
        )
        done = await asyncio.to_thread(submit, gw, report)
        told = "" if not reply_to else mask_phone(reply_to) if via == "sms" else mask_email(reply_to)
        return respond(thanks_html(lang, done.reference, done.status_url, told, via))

    return router


def _reply_to(
    gw: Gateway, values: dict[str, str], errors: list[str]
) -> tuple[str, Literal["sms", "email", ""]]:
    """The one address answers go to, by the channel the reporter picked (or the one they gave)."""
    from channels.phone import normalise_phone

    phone = normalise_phone(values["phone"], gw.config.gateway.default_region) if values["phone"] else None
    if values["phone"] and phone is None:
        errors.append("err_phone")
    email = values["email"].lower()
    if email and ("@" not in email or " " in email or email.startswith("@") or email.endswith("@")):
        errors.append("err_email")
        email = ""
    via = values.get("via") or "sms"
    if via == "email" and email:
        return email, "email"
    if via == "sms" and phone:
        return phone, "sms"
    if phone and not email:
        return phone, "sms"
    if email and not phone:
        return email, "email"
    return "", ""

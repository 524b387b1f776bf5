"""The staff web session: an HMAC-signed cookie (no server-side table) carrying the user, a session id
and the CSRF synchronizer token; plus the security headers every response gets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import HTTPException, Request, Response, status

from gateway.auth import Principal

COOKIE = "s48_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class WebSession:
    sid: str
    csrf: str
    expires: datetime
    issued: datetime
    user: str | None = None
    role: str | None = None
    utility: str | None = None
    lang: str = "sr"

    @property
    def principal(self) -> Principal | None:
        if self.user is None or self.role is None:
            return None
        return Principal(self.user, self.role, self.utility)


class SessionCodec:
    """Signs and checks session cookies with a key derived from the gateway's secret."""

    def __init__(self, secret: bytes, clock: Callable[[], datetime], lifetime: timedelta) -> None:
        # A derived key: the session MAC can never be confused with the thread-token MACs.
        self._key = hmac.new(secret, b"sistem48 web session v1", hashlib.sha256).digest()
        self._clock = clock
        self.lifetime = lifetime

    def new(self, *, principal: Principal | None = None, lang: str = "sr") -> WebSession:
        """A fresh session id and CSRF token: called at login, so a planted id never survives it."""
        return WebSession(
            sid=secrets.token_urlsafe(16),
            csrf=secrets.token_urlsafe(24),
            expires=self._clock() + self.lifetime,
            issued=self._clock(),
            user=principal.name if principal else None,
            role=principal.role if principal else None,
            utility=principal.utility if principal else None,
            lang=lang,
        )

    def encode(self, ws: WebSession) -> str:
        payload = json.dumps(
            {
                "s": ws.sid,
                "c": ws.csrf,
                "e": int(ws.expires.timestamp()),
                "i": int(ws.issued.timestamp() * 1000),
                "u": ws.user,
                "r": ws.role,
                "t": ws.utility,
                "l": ws.lang,
            },
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._mac(body)}"

    def decode(self, value: str | None) -> WebSession | None:
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            now = self._clock()
            expires = datetime.fromtimestamp(int(data["e"]), tz=now.tzinfo)
            ws = WebSession(
                sid=str(data["s"]),
                csrf=str(data["c"]),
                expires=expires,
                issued=datetime.fromtimestamp(int(data.get("i", 0)) / 1000, tz=now.tzinfo),
                user=data.get("u"),
                role=data.get("r"),
                utility=data.get("t"),
                lang=str(data.get("l") or "sr"),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return ws if ws.expires > now else None

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


def set_cookie(response: Response, codec: SessionCodec, ws: WebSession, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        codec.encode(ws),
        max_age=int(codec.lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def csp(tiles_url: str | None) -> str:
    img = "'self' data:"
    if tiles_url:
        from urllib.parse import urlsplit

        parts = urlsplit(tiles_url.replace("{s}", "*"))  # Leaflet's subdomain placeholder
        img += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; media-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def session_middleware(
    codec: SessionCodec, policy: str, still_valid: Callable[[WebSession], bool]
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Reads the cookie into request.state, refuses cookie-authenticated unsafe API calls without
    the CSRF header, and puts the security headers on every response.

    `still_valid` re-checks the user on every request, so a removed or re-roled account, or one
    that logged out, loses its open sessions at once rather than when the cookie expires."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        ws = codec.decode(request.cookies.get(COOKIE))
        if ws is not None and ws.principal is not None and not await asyncio.to_thread(still_valid, ws):
            ws = None
        request.state.web_session = ws
        bearer = request.headers.get("authorization")
        if ws is not None and ws.principal is not None and not bearer:
            request.state.principal = ws.principal
            if (
                request.method not in SAFE_METHODS
                and request.url.path.startswith("/api/")
                and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), ws.csrf)
            ):
                response: Response = Response(
                    '{"detail":"CSRF token missing or wrong"}',
                    status_code=status.HTTP_403_FORBIDDEN,
                    media_type="application/json",
                )
            else:
                response = await call_next(request)
        else:
            response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return middleware


async def csrf_guard(request: Request) -> None:
    """Every unsafe web request must carry the session's token, in the header (htmx) or the form."""
    if request.method in SAFE_METHODS:
        return
    ws: WebSession | None = getattr(request.state, "web_session", None)
    if ws is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "no session: reload the page")
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, ws.csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF token missing or wrong")

"""The citizen's status page `/s/<ref>?t=<public_token>` (older e-mail links) and what every public
page shares: the per-address rate limiter, the not-found and too-many pages, the security headers.

A wrong or missing token answers exactly like an unknown reference; each client IP gets a limited
number of lookups a minute so references cannot be enumerated. Plain HTML, no JavaScript, strict CSP.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway.text import lat_to_cyr

if TYPE_CHECKING:
    pass

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

"""Unforgeable thread tokens: HMAC-signed Message-IDs and plus-addresses that name a ticket."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_REF = r"[A-Z0-9]{1,6}-\d{4}-\d{6}"
_MSGID = re.compile(rf"^<?({_REF})\.([0-9a-z]+)\.([0-9a-f]{{16}})@[^>]+>?$", re.IGNORECASE)
_TOKEN = re.compile(rf"^({_REF})\.([0-9a-f]{{12}})$", re.IGNORECASE)
REFERENCE = re.compile(rf"\b({_REF})\b", re.IGNORECASE)


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._key = secret

    def _mac(self, text: str, length: int, *, fold_case: bool = True) -> str:
        # References survive in upper or lower case (MTAs may lower-case a plus-address), so thread
        # tokens are computed case-insensitively; sign() keeps case (base64 and the like).
        data = text.upper() if fold_case else text
        return hmac.new(self._key, data.encode(), hashlib.sha256).hexdigest()[:length]

    def message_id(self, reference: str, domain: str) -> str:
        nonce = secrets.token_hex(4)
        return f"<{reference}.{nonce}.{self._mac(reference + '.' + nonce, 16)}@{domain}>"

    def reference_from_message_id(self, message_id: str) -> str | None:
        m = _MSGID.match(message_id.strip())
        if not m:
            return None
        ref, nonce, mac = m.groups()
        if hmac.compare_digest(mac.lower(), self._mac(f"{ref}.{nonce}", 16)):
            return ref.upper()
        return None

    def plus_token(self, reference: str) -> str:
        return f"{reference.lower()}.{self._mac(reference, 12)}"

    def reference_from_plus_token(self, token: str) -> str | None:
        m = _TOKEN.match(token.strip())
        if not m:
            return None
        ref, mac = m.groups()
        return ref.upper() if hmac.compare_digest(mac.lower(), self._mac(ref, 12)) else None

    def sign(self, text: str) -> str:
        return self._mac(text, 32, fold_case=False)

    def short_mac(self, text: str, length: int) -> str:
        """A URL-safe MAC of `length` characters (6 bits each), for links that must stay short."""
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:length]

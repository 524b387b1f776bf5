"""The citizen's short status link `<public_base_url>/s/<ref>/<token>`, short enough for one SMS part.

The token is an HMAC of the reference and the ticket's random public token (48 bits, base64url):
unguessable without the gateway's secret, and it changes if the public token is ever rotated.
"""

from __future__ import annotations

import hmac

from gateway.signing import Signer

TOKEN_LENGTH = 8


def status_token(signer: Signer, reference: str, public_token: str) -> str:
    return signer.short_mac(f"status:{reference.upper()}:{public_token}", TOKEN_LENGTH)


def status_path(signer: Signer, reference: str, public_token: str) -> str:
    return f"/s/{reference}/{status_token(signer, reference, public_token)}"


def status_url(base_url: str, signer: Signer, reference: str, public_token: str) -> str:
    return base_url.rstrip("/") + status_path(signer, reference, public_token)


def token_matches(signer: Signer, reference: str, public_token: str, given: str) -> bool:
    """The short token or, for links already sent by e-mail, the long public token itself."""
    short = status_token(signer, reference, public_token)
    return hmac.compare_digest(given.encode(), short.encode()) or hmac.compare_digest(
        given.encode(), public_token.encode()
    )

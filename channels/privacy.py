"""The one way to show a phone number or e-mail address in logs and lists: enough to tell contacts
apart, not enough to identify a citizen (the PII boundary of docs/architecture.md)."""

from __future__ import annotations


def mask_phone(number: str) -> str:
    """`+381…67`: country prefix and the last two digits."""
    number = number.strip()
    return number[:4] + "…" + number[-2:] if len(number) > 6 else "…"


def mask_email(address: str) -> str:
    """`p…@example.org`: the first letter of the mailbox and the whole domain."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    return (local[:1] + "…@" + domain) if local and domain else "…"


def mask_address(address: str | None) -> str:
    """Either of the above, by the look of the address; `<>` for the null sender (RFC 5321 bounces)."""
    if not address:
        return "<>"
    return mask_email(address) if "@" in address else mask_phone(address)

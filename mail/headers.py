"""Reading a mail's header fields: the stdlib parse with its fallback, decoded values, Message-IDs
and the first valid mailbox of an address field."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import Message
from email.utils import getaddresses

from mail.charset import decode_header_text

_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_ADDRESS = re.compile(
    r"^(\"[^\"\x00-\x1f\x7f]+\"|[^@\s<>()\[\],;:\"\x00-\x1f\x7f]+)@[^@\s<>()\[\],;:\"\x00-\x1f\x7f]+$"
)
_MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3; longer cannot be a mailbox (and is a unique database key)


# RFC 5322 §4.5 obs-optional and friends: `Subject : text`, white space before the colon.
_OBS_FIELD_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def accept_obs_field_names(raw: bytes) -> bytes:
    """`raw` with white space before a header field's colon removed (the top-level header only).

    The stdlib parser takes such a line for the end of the header and reads the rest as body.
    """
    end = _HEADER_END.search(raw)
    head_end = end.start() if end else len(raw)
    head = raw[:head_end]
    if not _OBS_FIELD_NAME.search(head):
        return raw
    return _OBS_FIELD_NAME.sub(rb"\1:", head) + raw[head_end:]


def load_message(raw: bytes) -> tuple[Message, list[str]]:
    """The stdlib's parse of `raw` and a note when it had to fall back to the compat32 policy."""
    raw = accept_obs_field_names(raw)
    try:
        return email.message_from_bytes(raw, policy=policy.default), []
    except Exception as exc:  # python/cpython#132794: an RFC 2231 parameter can make the parse raise
        note = f"reparsed with compat32 after {type(exc).__name__}"
        return email.message_from_bytes(raw, policy=policy.compat32), [note]


def raw_header(msg: Message, name: str) -> str | None:
    lowered = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lowered:
            return str(value)
    return None


def header_text(msg: Message, name: str) -> str | None:
    """A header field's value, RFC 2047-decoded and unfolded into one line; None when absent."""
    raw = raw_header(msg, name)
    if raw is None:
        return None
    return " ".join(decode_header_text(raw).split())


def message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = _ANGLE_ID.findall(value)
    if not found:
        found = [token for token in value.split() if "@" in token]
    return tuple(dict.fromkeys(found))


def valid_address(address: str) -> bool:
    return len(address) <= _MAX_ADDRESS and bool(_ADDRESS.match(address)) and not address.startswith("@")


def envelope_address(mail_from: str | None) -> str | None:
    """The SMTP MAIL FROM address, lower-cased, when it is a mailbox (None for `<>`, the null sender)."""
    if not mail_from:
        return None
    address = mail_from.strip("<>")
    return address.lower() if valid_address(address) else None


def first_mailbox(msg: Message, name: str) -> tuple[str | None, str | None]:
    """(lower-cased address, decoded display name) of a header's first mailbox; None when absent."""
    raw = raw_header(msg, name)
    if raw is None:
        return None, None
    unfolded = re.sub(r"\r?\n[ \t]", " ", raw)
    try:
        pairs = getaddresses([unfolded])
    except Exception:
        pairs = []
    for display, address in pairs:
        address = address.strip()
        if valid_address(address):
            decoded = " ".join(decode_header_text(display).split()) if display else ""
            return address.lower(), decoded or None
    text = " ".join(decode_header_text(unfolded).split()).strip().strip('"').strip()
    text = re.sub(r"\s*<\s*>\s*$", "", text).strip()
    return None, text or None

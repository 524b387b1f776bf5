"""Reading one leaf part of a mail: its payload bytes (uuencoded ones too), its charset and
parameters, and its text decoded, whatever the labels claim."""

from __future__ import annotations

import binascii
import re
from email.message import Message

from mail.charset import decode_bytes, decode_header_text, html_meta_charset
from mail.headers import raw_header
from mail.text import html_to_text, tidy, unflow

_UUENCODE = {"x-uuencode", "uuencode", "x-uue", "uue"}


def charset_of(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    if charset:
        return str(charset)
    # The charset parameter itself can arrive RFC 2047-encoded (kix BrokenEncoding).
    content_type = raw_header(part, "Content-Type")
    if content_type and "=?" in content_type:
        match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", decode_header_text(content_type), re.I)
        if match:
            return match.group(1)
    return None


def _transfer_encoding(part: Message) -> str:
    value = raw_header(part, "Content-Transfer-Encoding")
    return value.strip().lower() if value else ""


def payload_bytes(part: Message, defects: list[str]) -> bytes:
    """The decoded bytes of a leaf part; a decoding failure is noted in `defects`, never raised."""
    if _transfer_encoding(part) in _UUENCODE:
        return _uudecode(raw_payload(part))
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"payload {type(exc).__name__}")
        data = None
    if isinstance(data, bytes):
        return data
    return as_bytes(raw_payload(part))


def raw_payload(part: Message) -> str:
    payload = part.get_payload(decode=False)
    return payload if isinstance(payload, str) else ""


def as_bytes(text: str) -> bytes:
    """The bytes of a payload the stdlib holds as str: 8-bit bytes ride in it as surrogate escapes,
    but a part can also hold real non-ASCII text (the fuzzer found one), which becomes UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return text.encode("utf-8", "replace")


def _uudecode(text: str) -> bytes:
    """Decode uuencoded lines; Eudora sends x-uuencode without the `begin` line (zammad mail078)."""
    out = bytearray()
    # a2b_uu takes str of ASCII only; a raw 8-bit byte (a surrogate escape) is a corrupt line anyway.
    text = text.encode("ascii", "replace").decode("ascii")
    for line in text.splitlines():
        stripped = line.rstrip("\r\n")
        if not stripped or stripped.startswith("begin ") or stripped in ("`", " "):
            continue
        if stripped == "end":
            break
        try:
            out += binascii.a2b_uu(stripped)
        except binascii.Error:
            # Some encoders omit trailing padding; decode the length the first character promises.
            length = ((ord(stripped[0]) - 32) & 63) * 4 // 3 + 1
            try:
                out += binascii.a2b_uu(stripped[:length].ljust(length))
            except binascii.Error:
                continue
    return bytes(out)


def decode_text(part: Message, defects: list[str]) -> str:
    """The readable text of a text/plain or text/html part."""
    data = payload_bytes(part, defects)
    charset = charset_of(part)
    if charset is None and part.get_content_type() == "text/html":
        charset = html_meta_charset(data)
    text, _codec = decode_bytes(data, charset)
    text = text.replace("\x00", "")
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    if str(_param(part, "format")).lower() == "flowed":
        text = unflow(text, delsp=str(_param(part, "delsp")).lower() == "yes")
    return tidy(text)


def _param(part: Message, name: str) -> object:
    try:
        return part.get_param(name)
    except Exception:
        return None


def content_id_of(part: Message) -> str | None:
    value = raw_header(part, "Content-ID")
    if not value:
        return None
    return value.strip().strip("<>").strip() or None


def disposition_of(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None

"""What a file attached to a mail is called and what it is: its name (RFC 2231, RFC 2047), made safe
and unique within the mail, and its content type sniffed from the bytes when the label is generic."""

from __future__ import annotations

import email.utils
import mimetypes
import re
import unicodedata
from email.message import Message

from channels.base import Attachment
from mail.charset import decode_bytes, decode_header_text

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_GENERIC_TYPES = {
    "application/octet-stream",
    "application/unknown",
    "application/x-unknown",
    "binary/octet-stream",
}
_TYPE_FIXES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
_MAX_NAME = 180


def _rfc2231_param(part: Message, header: str, param: str) -> str | None:
    try:
        value = part.get_param(param, header=header)
    except Exception:
        return None
    if isinstance(value, tuple):
        charset, _language, text = value
        # Same byte recovery as email.utils.collapse_rfc2231_value, with our charset fallbacks.
        return decode_bytes(bytes(text, "raw-unicode-escape"), charset or None)[0]
    return None


def filename_of(part: Message) -> str | None:
    """The name a part gives its file, decoded; None when it gives none."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        extended = _rfc2231_param(part, header, param)
        if extended:
            return extended
    name: object = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        try:
            name = part.get_param("name")
        except Exception:
            name = None
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
    if not name:
        return None
    text = str(name)
    if "=?" in text or not text.isascii():
        text = decode_header_text(text)
    return text


def _safe_name(name: str | None) -> str | None:
    if not name:
        return None
    cleaned = unicodedata.normalize("NFC", _UNSAFE_NAME.sub("_", name))
    cleaned = re.sub(r"[ \t]+", " ", cleaned).strip().lstrip(".")
    stem = cleaned.rsplit(".", 1)[0]
    meaningful = [ch for ch in stem if ch not in "_\ufffd. -"]
    if not meaningful or stem.count("\ufffd") * 2 >= len(stem):
        return None  # nothing readable left of it (flanker outlook-express): generate one instead
    if len(cleaned) > _MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (
            (stem[: _MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else cleaned[:_MAX_NAME]
        )
    return cleaned


def sniff_content_type(data: bytes, labelled: str, filename: str | None) -> str:
    """The content type to store: the label, unless it is generic and the bytes or name say more."""
    labelled = _TYPE_FIXES.get(labelled, labelled)
    if labelled not in _GENERIC_TYPES and labelled != "text/plain":
        return labelled
    for magic, sniffed in _MAGIC:
        if data.startswith(magic):
            if sniffed in ("application/zip", "application/x-ole-storage") and filename:
                return mimetypes.guess_type(filename)[0] or sniffed
            return sniffed
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if labelled == "text/plain":
        return labelled
    if filename:
        guessed = mimetypes.guess_type(filename)[0]
        if guessed:
            return _TYPE_FIXES.get(guessed, guessed)
    return labelled


def _extension(content_type: str) -> str:
    if content_type == "image/jpeg":
        return ".jpg"
    if content_type == "message/rfc822":
        return ".eml"
    return mimetypes.guess_extension(content_type) or ".bin"


def named_attachment(
    data: bytes,
    content_type: str,
    name: str | None,
    *,
    taken: set[str],
    inline: bool = False,
    content_id: str | None = None,
) -> Attachment:
    """The attachment as stored: sniffed type, a safe name unique (case-insensitively) among `taken`,
    which it joins; a part without a usable name gets `attachment-N.ext`."""
    content_type = sniff_content_type(data, content_type.lower(), name)
    safe = _safe_name(name)
    if safe is None:
        safe = f"attachment-{len(taken) + 1}{_extension(content_type)}"
    unique, counter = safe, 2
    while unique.lower() in taken:
        stem, dot, ext = safe.rpartition(".")
        unique = f"{stem} ({counter}){dot}{ext}" if dot else f"{safe} ({counter})"
        counter += 1
    taken.add(unique.lower())
    return Attachment(unique, content_type, data, inline=inline, content_id=content_id)

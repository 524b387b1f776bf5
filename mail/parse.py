"""Turn the raw bytes of one received e-mail into what the core needs: sender, subject, text, files.

Tolerant by design (recipes/mail.md §2, mailcorpus/MANIFEST.md): never raises; what cannot be
read is reported as a quarantine reason and the raw bytes are kept by the caller.
"""

from __future__ import annotations

import binascii
import email
import hashlib
import html.parser
import logging
import mimetypes
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from email.utils import getaddresses
from typing import ClassVar

from inscriptis import get_text
from tnefparse import TNEF

from channels.base import Attachment, ChannelKind, InboundContact
from mail.charset import decode_bytes, decode_header_text, html_meta_charset
from mail.classify import BOUNCE, classify
from mail.quotes import split_reply

log = logging.getLogger(__name__)

_SIGNATURE_TYPES = {
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
}
_UUENCODE = {"x-uuencode", "uuencode", "x-uue", "uue"}
_TICKET_REF = re.compile(r"\b[SС]48[-\s]?(\d{4})[-\s]?(\d{6})\b")  # Latin S or a hand-typed Cyrillic С
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_ADDRESS = re.compile(r"^(\"[^\"]+\"|[^@\s<>()\[\],;:\"]+)@[^@\s<>()\[\],;:\"]+$")
_HTML_HINT = re.compile(r"<(html|body|div|p|br|table|span|font)\b", re.IGNORECASE)
_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200})[ \t\r]*$", re.MULTILINE)
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
_MAX_EXTERNAL_ID = 250  # an absurd Message-ID must not become an unbounded database key


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What one mail said, decoded; `body` is the new text, `quoted` the collapsed reply history."""

    sender: str | None
    sender_name: str | None
    subject: str
    body: str
    quoted: str = ""
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    auto: str = ""
    suppress_ack: bool = False
    auto_reason: str = ""
    bounce_recipients: tuple[str, ...] = ()
    bounced_message_id: str | None = None
    bounce_detail: str = ""
    defects: tuple[str, ...] = ()
    quarantine_reason: str | None = None
    ticket_refs: tuple[str, ...] = field(default=())


@dataclass
class _Walk:
    """Mutable state of one walk over the MIME tree."""

    texts: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    defects: list[str] = field(default_factory=list)
    depth: int = 0


def _load(raw: bytes) -> tuple[Message, list[str]]:
    try:
        return email.message_from_bytes(raw, policy=policy.default), []
    except Exception as exc:  # python/cpython#132794: an RFC 2231 parameter can make the parse raise
        note = f"reparsed with compat32 after {type(exc).__name__}"
        return email.message_from_bytes(raw, policy=policy.compat32), [note]


def _raw_header(msg: Message, name: str) -> str | None:
    lowered = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lowered:
            return str(value)
    return None


def _header(msg: Message, name: str) -> str | None:
    raw = _raw_header(msg, name)
    if raw is None:
        return None
    return " ".join(decode_header_text(raw).split())


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = _ANGLE_ID.findall(value)
    if not found:
        found = [token for token in value.split() if "@" in token]
    return tuple(dict.fromkeys(found))


def _valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address)) and not address.startswith("@")


def _address(msg: Message, name: str) -> tuple[str | None, str | None]:
    """(lower-cased address, decoded display name) of a header's first mailbox; None when absent."""
    raw = _raw_header(msg, name)
    if raw is None:
        return None, None
    unfolded = re.sub(r"\r?\n[ \t]", " ", raw)
    try:
        pairs = getaddresses([unfolded])
    except Exception:
        pairs = []
    for display, address in pairs:
        address = address.strip()
        if _valid_address(address):
            decoded = " ".join(decode_header_text(display).split()) if display else ""
            return address.lower(), decoded or None
    text = " ".join(decode_header_text(unfolded).split()).strip().strip('"').strip()
    text = re.sub(r"\s*<\s*>\s*$", "", text).strip()
    return None, text or None


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: layout-aware via inscriptis, a tag stripper as fallback."""
    try:
        text = get_text(markup)
    except Exception:
        text = _strip_tags(markup)
    if "<" in text and re.search(r"</?[a-zA-Z][^>]{0,200}>", text):
        text = _strip_tags(text)
    return _tidy(text)


class _TagStripper(html.parser.HTMLParser):
    _SKIP: ClassVar[frozenset[str]] = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3", "table"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _strip_tags(markup: str) -> str:
    stripper = _TagStripper()
    try:
        stripper.feed(markup)
        stripper.close()
    except Exception:
        return re.sub(r"<[^>]*>", " ", markup)
    return "".join(stripper.parts)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    joined = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


def _charset_of(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    if charset:
        return str(charset)
    # The charset parameter itself can arrive RFC 2047-encoded (kix BrokenEncoding).
    content_type = _raw_header(part, "Content-Type")
    if content_type and "=?" in content_type:
        match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", decode_header_text(content_type), re.I)
        if match:
            return match.group(1)
    return None


def _transfer_encoding(part: Message) -> str:
    value = _raw_header(part, "Content-Transfer-Encoding")
    return value.strip().lower() if value else ""


def _payload_bytes(part: Message, walk: _Walk) -> bytes:
    if _transfer_encoding(part) in _UUENCODE:
        return _uudecode(_raw_payload(part))
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        walk.defects.append(f"payload {type(exc).__name__}")
        data = None
    if isinstance(data, bytes):
        return data
    return _raw_payload(part).encode("ascii", "surrogateescape")


def _raw_payload(part: Message) -> str:
    payload = part.get_payload(decode=False)
    return payload if isinstance(payload, str) else ""


def _uudecode(text: str) -> bytes:
    """Decode uuencoded lines; Eudora sends x-uuencode without the `begin` line (zammad mail078)."""
    out = bytearray()
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


def _decode_text(part: Message, walk: _Walk) -> str:
    data = _payload_bytes(part, walk)
    charset = _charset_of(part)
    if charset is None and part.get_content_type() == "text/html":
        charset = html_meta_charset(data)
    text, _codec = decode_bytes(data, charset)
    text = text.replace("\x00", "")
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    if str(_param(part, "format")).lower() == "flowed":
        text = _unflow(text, delsp=str(_param(part, "delsp")).lower() == "yes")
    return _tidy(text)


def _param(part: Message, name: str) -> object:
    try:
        return part.get_param(name)
    except Exception:
        return None


def _unflow(text: str, *, delsp: bool) -> str:
    """Join RFC 3676 format=flowed soft line breaks (a line ending in a space continues)."""
    out: list[str] = []
    pending = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            pending += line[:-1] if delsp else line
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return "\n".join(out)


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


def _filename(part: Message) -> str | None:
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


def _add_attachment(
    walk: _Walk,
    data: bytes,
    content_type: str,
    name: str | None,
    *,
    inline: bool = False,
    content_id: str | None = None,
) -> None:
    content_type = sniff_content_type(data, content_type.lower(), name)
    safe = _safe_name(name)
    if safe is None:
        safe = f"attachment-{len(walk.attachments) + 1}{_extension(content_type)}"
    unique, counter = safe, 2
    while unique.lower() in walk.names:
        stem, dot, ext = safe.rpartition(".")
        unique = f"{stem} ({counter}){dot}{ext}" if dot else f"{safe} ({counter})"
        counter += 1
    walk.names.add(unique.lower())
    walk.attachments.append(Attachment(unique, content_type, data, inline=inline, content_id=content_id))


def _content_id(part: Message) -> str | None:
    value = _raw_header(part, "Content-ID")
    if not value:
        return None
    return value.strip().strip("<>").strip() or None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _walk_part(part: Message, walk: _Walk, *, in_report: bool = False) -> None:
    try:
        ctype = part.get_content_type()
    except Exception:
        ctype = "application/octet-stream"
    try:
        if ctype in ("message/rfc822", "message/global"):
            _walk_forwarded(part, walk, as_text=not in_report)
        elif ctype == "message/delivery-status" or ctype == "message/disposition-notification":
            return  # read by the classifier; no citizen content
        elif part.is_multipart() or ctype.startswith("multipart/"):
            _walk_multipart(part, ctype, walk)
        else:
            _walk_leaf(part, ctype, walk)
    except Exception as exc:
        walk.defects.append(f"part {ctype}: {type(exc).__name__}")


def _walk_multipart(part: Message, ctype: str, walk: _Walk) -> None:
    payload = part.get_payload()
    if not isinstance(payload, list):
        _walk_broken_multipart(part, walk)
        return
    children = [child for child in payload if isinstance(child, Message)]
    if ctype == "multipart/alternative" and children:
        chosen = _best_alternative(children)
        _walk_part(chosen, walk)
        for other in children:
            if other is not chosen:
                _collect_files_only(other, walk)
        return
    for child in children:
        _walk_part(child, walk, in_report=ctype == "multipart/report")


def _best_alternative(children: list[Message]) -> Message:
    def contains(child: Message, wanted: str) -> bool:
        return any(p.get_content_type() == wanted for p in child.walk())

    for wanted in ("text/plain", "text/html"):
        for child in children:
            if contains(child, wanted) and _has_text(child, wanted):
                return child
    return children[0]


def _has_text(child: Message, wanted: str) -> bool:
    for p in child.walk():
        if p.get_content_type() == wanted:
            try:
                data = p.get_payload(decode=True)
            except Exception:
                return True
            return not isinstance(data, bytes) or bool(data.strip())
    return False


def _collect_files_only(part: Message, walk: _Walk) -> None:
    """Keep the files of an alternative we did not show (an HTML branch's inline photos)."""
    for leaf in part.walk():
        if leaf.is_multipart():
            continue
        ctype = leaf.get_content_type()
        if ctype.startswith("text/") or ctype in _SIGNATURE_TYPES:
            continue
        _walk_leaf(leaf, ctype, walk)


def _walk_broken_multipart(part: Message, walk: _Walk) -> None:
    raw = _raw_payload(part)
    salvaged = _salvage(raw)
    if salvaged is not None and walk.depth < 8:
        walk.depth += 1
        _walk_part(salvaged, walk)
        walk.depth -= 1
        return
    data = raw.encode("ascii", "surrogateescape")
    text, _codec = decode_bytes(data, _charset_of(part))
    text = html_to_text(text) if _HTML_HINT.search(text) else _tidy(text)
    if text:
        walk.texts.append(text)


def _salvage(raw: str) -> Message | None:
    """Re-read a multipart whose boundary parameter is missing or wrong from its boundary lines."""
    match = _BOUNDARY_LINE.search(raw)
    if match is None or match.group(1).endswith("--"):
        return None
    boundary = match.group(1)
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    data = (head + raw[match.start() :]).encode("ascii", "surrogateescape")
    try:
        salvaged = email.message_from_bytes(data, policy=policy.compat32)
    except Exception:
        return None
    payload = salvaged.get_payload()
    return salvaged if isinstance(payload, list) and payload else None


def _walk_leaf(part: Message, ctype: str, walk: _Walk) -> None:
    if ctype in _SIGNATURE_TYPES:
        return
    disposition = _disposition(part)
    name = _filename(part)
    if ctype == "application/ms-tnef" or (name or "").lower() == "winmail.dat":
        _walk_tnef(part, walk, name)
        return
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not name:
        text = _decode_text(part, walk)
        if text:
            walk.texts.append(text)
        return
    data = _payload_bytes(part, walk)
    if not data and not name:
        return
    walk_inline = disposition == "inline" or (disposition is None and _content_id(part) is not None)
    _add_attachment(walk, data, ctype, name, inline=walk_inline, content_id=_content_id(part))


def _walk_tnef(part: Message, walk: _Walk, name: str | None) -> None:
    data = _payload_bytes(part, walk)
    try:
        tnef = TNEF(data)
        files = [(a.long_filename() or a.name, a.data) for a in tnef.attachments]
        body = tnef.body or tnef.htmlbody
    except Exception as exc:
        walk.defects.append(f"tnef {type(exc).__name__}")
        _add_attachment(walk, data, "application/ms-tnef", name or "winmail.dat")
        return
    for file_name, file_data in files:
        decoded = (
            file_name.decode("utf-8", "replace") if isinstance(file_name, bytes) else str(file_name or "")
        )
        _add_attachment(walk, bytes(file_data), "application/octet-stream", decoded or None)
    if body:
        text = body if isinstance(body, str) else decode_bytes(bytes(body))[0]
        walk.texts.append(html_to_text(text) if _HTML_HINT.search(text) else _tidy(text))


def _walk_forwarded(part: Message, walk: _Walk, *, as_text: bool) -> None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        data = _payload_bytes(part, walk)
        if data:
            _add_attachment(walk, data, "message/rfc822", None)
        return
    subject = _header(inner, "Subject") or ""
    try:
        inner_bytes = inner.as_bytes(policy=policy.compat32)
    except Exception:
        inner_bytes = b""
    if inner_bytes:
        _add_attachment(walk, inner_bytes, "message/rfc822", f"{subject or 'forwarded'}.eml")
    if not as_text or walk.depth >= 8:
        return
    nested = _Walk(names=walk.names, attachments=walk.attachments, defects=walk.defects, depth=walk.depth + 1)
    _walk_part(inner, nested)
    lines = ["---------- Forwarded message ----------"]
    for label, header_name in (
        ("From", "From"),
        ("Date", "Date"),
        ("Subject", "Subject"),
        ("To", "To"),
    ):
        value = _header(inner, header_name)
        if value:
            lines.append(f"{label}: {value}")
    inner_text = "\n\n".join([*nested.texts, *nested.forwarded])
    walk.forwarded.append("\n".join(lines) + ("\n\n" + inner_text if inner_text else ""))


def _defect_names(msg: Message) -> list[str]:
    names: list[str] = []
    for part in msg.walk():
        names.extend(type(defect).__name__ for defect in getattr(part, "defects", []))
    return list(dict.fromkeys(names))


def ticket_refs(subject: str) -> tuple[str, ...]:
    """Every Sistem48 ticket reference in a subject, normalised to `S48-YYYY-NNNNNN`."""
    return tuple(dict.fromkeys(f"S48-{m.group(1)}-{m.group(2)}" for m in _TICKET_REF.finditer(subject)))


def parse_message(raw: bytes, *, envelope_from: str | None = None) -> ParsedMail:
    """Parse one mail; never raises (a failure becomes `quarantine_reason`)."""
    try:
        return _parse(raw, envelope_from)
    except Exception as exc:
        log.warning("mail parser failed: %s", type(exc).__name__)
        return _unparseable(raw, f"parser error: {type(exc).__name__}")


def _unparseable(raw: bytes, reason: str) -> ParsedMail:
    head = raw[:65536].decode("utf-8", "replace")

    def scrape(name: str) -> str | None:
        match = re.search(rf"^{name}:[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.IGNORECASE | re.MULTILINE)
        return decode_header_text(match.group(1)).strip() if match else None

    ids = _message_ids(scrape("Message-ID"))
    subject = scrape("Subject") or ""
    sender_field = scrape("From") or ""
    found = re.search(r"[\w.+-]+@[\w.-]+\.\w+", sender_field)
    return ParsedMail(
        sender=found.group(0).lower() if found else None,
        sender_name=None,
        subject=subject,
        body="",
        message_id=ids[0] if ids else None,
        suppress_ack=True,
        quarantine_reason=reason,
    )


def _parse(raw: bytes, envelope_from: str | None) -> ParsedMail:
    if not raw.strip():
        return _unparseable(raw, "empty message")
    msg, defects = _load(raw)
    if not list(msg.keys()):
        return _unparseable(raw, "no header section")
    subject = _header(msg, "Subject") or ""
    sender, sender_name = _address(msg, "From")
    reply_to, _reply_name = _address(msg, "Reply-To")
    if sender is None:
        sender = reply_to
    if sender is None and envelope_from and _valid_address(envelope_from.strip("<>")):
        sender = envelope_from.strip("<>").lower()

    walk = _Walk(defects=defects)
    root_type = msg.get_content_type()
    if root_type in ("message/rfc822", "message/global"):
        # A top-level message/rfc822 (GroupWise forward) is all forwarded content.
        _walk_forwarded(msg, walk, as_text=True)
    else:
        _walk_part(msg, walk)

    own_text = "\n\n".join(walk.texts)
    new_text, quoted = split_reply(own_text, subject)
    body = "\n\n".join(x for x in [new_text, *walk.forwarded] if x)

    message_ids = _message_ids(_header(msg, "Message-ID"))
    in_reply_to = _message_ids(_header(msg, "In-Reply-To"))
    references = _message_ids(_header(msg, "References"))
    verdict = classify(
        msg,
        lambda name: _header(msg, name),
        sender=sender,
        subject=subject,
        envelope_from=envelope_from,
    )
    quarantine = None
    if not body and not walk.attachments and not subject:
        quarantine = "no readable content"
    return ParsedMail(
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        body=body,
        quoted=quoted,
        attachments=tuple(walk.attachments),
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to,
        references=references,
        reply_to=reply_to,
        auto=verdict.auto,
        suppress_ack=verdict.suppress_ack,
        auto_reason=verdict.reason,
        bounce_recipients=verdict.bounce_recipients,
        bounced_message_id=verdict.bounced_message_id,
        bounce_detail=verdict.bounce_detail,
        defects=tuple(dict.fromkeys([*walk.defects, *_defect_names(msg)])),
        quarantine_reason=quarantine,
        ticket_refs=ticket_refs(subject),
    )


def script_of(text: str) -> str:
    """ "cyrillic" when most letters of `text` are Cyrillic, else "latin"."""
    cyrillic = latin = 0
    for ch in text:
        if "\u0400" <= ch <= "\u04ff":
            cyrillic += 1
        elif ch.isalpha():
            latin += 1
    return "cyrillic" if cyrillic > latin else "latin"


def _plus_tokens(rcpt_tos: Sequence[str]) -> tuple[str, ...]:
    tokens: list[str] = []
    for rcpt in rcpt_tos:
        local = rcpt.strip("<>").rsplit("@", 1)[0]
        if "+" in local:
            token = local.split("+", 1)[1]
            if token:
                tokens.append(token)
    return tuple(tokens)


def contact_from_bytes(
    raw: bytes,
    *,
    received_at: datetime,
    mail_from: str | None = None,
    rcpt_tos: Sequence[str] = (),
    peer: str | None = None,
) -> InboundContact:
    """The InboundContact for one received mail; never raises."""
    parsed = parse_message(raw, envelope_from=mail_from)
    null_sender = mail_from is not None and mail_from.strip() in ("", "<>")
    meta: dict[str, str] = {
        "envelope_from": mail_from or "",
        "rcpt_to": ",".join(rcpt_tos),
        "peer": peer or "",
        "auto": parsed.auto,
        "script": script_of(parsed.body),
    }
    if parsed.suppress_ack or null_sender:
        meta["suppress_ack"] = "1"
    if parsed.auto_reason:
        meta["auto_reason"] = parsed.auto_reason
    if parsed.quoted:
        meta["quoted"] = parsed.quoted
    if parsed.quarantine_reason:
        meta["quarantine"] = parsed.quarantine_reason
    if parsed.message_id:
        meta["message_id"] = parsed.message_id
    if parsed.reply_to:
        meta["reply_to"] = parsed.reply_to
    if parsed.defects:
        meta["defects"] = ",".join(parsed.defects)[:1000]
    if parsed.auto == BOUNCE:
        meta["bounce_recipients"] = ",".join(parsed.bounce_recipients)
        if parsed.bounced_message_id:
            meta["bounced_message_id"] = parsed.bounced_message_id
        if parsed.bounce_detail:
            meta["bounce_detail"] = parsed.bounce_detail
    if not parsed.body:
        meta["no_text"] = "attachments only" if parsed.attachments else "empty body"
    hints = tuple(
        dict.fromkeys([*parsed.ticket_refs, *parsed.in_reply_to, *parsed.references, *_plus_tokens(rcpt_tos)])
    )
    external_id = parsed.message_id or ""
    if not external_id or len(external_id) > _MAX_EXTERNAL_ID:
        external_id = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    sender = parsed.sender
    if sender is None and mail_from and not null_sender and _valid_address(mail_from.strip("<>")):
        sender = mail_from.strip("<>").lower()
    return InboundContact(
        channel=ChannelKind.EMAIL,
        external_id=external_id,
        sender=sender or "",
        received_at=received_at,
        subject=parsed.subject or None,
        body=parsed.body,
        attachments=parsed.attachments,
        thread_hints=hints,
        meta=meta,
        raw=raw,
        sender_name=parsed.sender_name,
    )

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
from dataclasses import dataclass, field, replace
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
_ADDRESS = re.compile(
    r"^(\"[^\"\x00-\x1f\x7f]+\"|[^@\s<>()\[\],;:\"\x00-\x1f\x7f]+)@[^@\s<>()\[\],;:\"\x00-\x1f\x7f]+$"
)
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
_MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3; longer cannot be a mailbox (and is a unique database key)
# Threading needs the parent and the last few ancestors; thousands of ids would become thousands
# of lookups in the inbox.
_MAX_IN_REPLY_TO = 5
_MAX_REFERENCES = 30
_MAX_TICKET_REFS = 10


@dataclass(frozen=True, slots=True)
class MimeLimits:
    """Bounds on the shape of one mail; past one the mail is quarantined with the reason (raw kept).

    A real citizen's mail is a few levels deep with tens of parts; the parser's time and memory
    grow with these (stdlib email spends ~2 ms a part, recursion fails near 300 levels).
    """

    max_depth: int = 32  # nested multiparts and message/rfc822 levels
    max_parts: int = 1000  # MIME parts in the whole message, forwarded ones included
    max_header_bytes: int = 1 << 20  # all header sections of the message together
    max_header_fields: int = 5000  # all header sections together
    max_parameters: int = 100  # ';'-separated parameters of one Content-Type / Content-Disposition
    # HTML rendered with layout (inscriptis, ~2-10 s a MiB); past it the tags are only stripped.
    max_layout_html: int = 512 * 1024


LIMITS = MimeLimits()


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


# A header section as feedparser reads it: field lines, continuation lines, a leading "From " line
# (possessive, as _CONTENT_FIELD below).
_HEADER_SECTION = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[ \t])[^\r\n]*(?:\r\n|\r|\n|$))*+")
# Both run on "\n" + section, so a leading newline marks every line start (no slow lookbehind).
_FIELD_LINE = re.compile(rb"[\r\n][^ \t\r\n]")
# Possessive: a backtracking repeat keeps ~300 bytes of state per continuation line (10 000 lines, 3 MB).
_CONTENT_FIELD = re.compile(
    rb"[\r\n]content-(type|disposition)[ \t]*:([^\r\n]*(?:(?:\r\n|\r|\n)[ \t][^\r\n]*)*+)", re.IGNORECASE
)
_CONTAINER_HINT = re.compile(rb"multipart|message", re.IGNORECASE)
# Any line opening a Content-Type field, wherever it is (a literal prefix keeps the search at memchr speed).
_TYPE_LINES = (
    re.compile(rb"\ncontent-type[ \t]*:", re.IGNORECASE),
    re.compile(rb"\rcontent-type[ \t]*:", re.IGNORECASE),
)
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass
class _Shape:
    """What the pre-scan counted so far; `reason` is set once a limit is passed."""

    limits: MimeLimits
    parts: int = 0
    header_bytes: int = 0
    fields: int = 0
    reason: str | None = None

    def add_parts(self, count: int) -> None:
        self.parts += count
        if self.reason is None and self.parts > self.limits.max_parts:
            self.reason = _too_many_parts(self.limits)

    def check_depth(self, depth: int) -> None:
        if self.reason is None and depth > self.limits.max_depth:
            self.reason = _too_deep(self.limits)


def _too_many_parts(limits: MimeLimits) -> str:
    return f"too many MIME parts (more than {limits.max_parts})"


def _too_deep(limits: MimeLimits) -> str:
    return f"too deeply nested (more than {limits.max_depth} levels)"


@dataclass(frozen=True, slots=True)
class _Level:
    """One open container of the pre-scan: a multipart (its boundary) or a message/* (None)."""

    boundary: bytes | None
    digest: bool = False  # multipart/digest: a part without Content-Type is a message/rfc822


def mime_shape_problem(raw: bytes, limits: MimeLimits = LIMITS) -> str | None:
    """Why `raw` is too large a MIME structure to parse, or None; linear in the size of `raw`, run
    before the stdlib parser (whose time is far from linear in depth and slow per part) sees it.

    It follows the nesting as feedparser does: a multipart's parts end at a delimiter line of its
    own boundary or any enclosing one; the body of a message/* part is itself a message. Should it
    ever read a boundary differently, a coarser bound still holds: each level needs a Content-Type
    line, and there may be no more of those than two a part.
    """
    shape = _Shape(limits)
    stack: list[_Level] = []
    pos, at_headers = 0, True
    dash_lines = _DashLines(raw)
    leaf_start: int | None = None  # start of a message/delivery-status body: its blocks are parts
    while shape.reason is None:
        if at_headers:
            in_digest = bool(stack) and stack[-1].digest
            ctype, boundary, pos = _scan_headers(raw, pos, shape, in_digest=in_digest)
            if shape.reason is not None:
                break
            if ctype.startswith("multipart/") and boundary:
                stack.append(_Level(boundary, digest=ctype == "multipart/digest"))
            elif ctype == "message/delivery-status":
                leaf_start = pos
            elif ctype.startswith("message/"):
                stack.append(_Level(None))
                shape.add_parts(1)
                shape.check_depth(len(stack))
                continue  # its body starts with the inner message's header section
            shape.check_depth(len(stack))
            if shape.reason is not None:
                break
            at_headers = False
        open_boundaries = {level.boundary: i for i, level in enumerate(stack) if level.boundary is not None}
        if not open_boundaries:
            break  # the rest is one leaf body (or an epilogue)
        start = dash_lines.next(pos)
        if leaf_start is not None:
            shape.add_parts(_blank_lines(raw, leaf_start, len(raw) if start < 0 else start))
            leaf_start = None
        if start < 0:
            break
        line_end = _LINE_END.search(raw, start)
        pos = line_end.start() if line_end else len(raw)
        text = raw[start + 2 : pos].rstrip(b" \t")
        if text in open_boundaries:
            del stack[open_boundaries[text] + 1 :]
            shape.add_parts(1)
            pos = _skip_newline(raw, pos)
            at_headers = True
        elif text.endswith(b"--") and text[:-2] in open_boundaries:
            del stack[open_boundaries[text[:-2]] :]
    if shape.reason is not None:
        return shape.reason
    type_lines = (raw[:13].lower() == b"content-type:") + sum(
        sum(1 for _ in pattern.finditer(raw)) for pattern in _TYPE_LINES
    )
    # A part and the message/rfc822 it may hold carry one each.
    if type_lines > 2 * limits.max_parts + 1:
        return f"too many Content-Type fields (more than {2 * limits.max_parts + 1})"
    return None


class _DashLines:
    """Starts of the lines that begin with "--", in one forward pass over the mail.

    Each needle is searched again only once the scan has passed its last hit: a line start after a
    lone CR never occurs in an LF or CRLF mail, and searching for one afresh for every delimiter
    made the scan quadratic.
    """

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._hits = {b"\n--": -1, b"\r--": -1}
        self._from = {b"\n--": -1, b"\r--": -1}  # where the cached hit was searched from; -1: not yet

    def next(self, pos: int) -> int:
        """Start of the next line at or after `pos` that begins with "--", or -1."""
        raw = self._raw
        if raw.startswith(b"--", pos) and (pos == 0 or raw[pos - 1 : pos] in (b"\n", b"\r")):
            return pos
        found = []
        for needle, hit in self._hits.items():
            # A hit (or a "none") found from an earlier start still holds unless the scan passed it.
            if not 0 <= self._from[needle] <= pos or 0 <= hit < pos:
                hit = raw.find(needle, pos)
                self._hits[needle], self._from[needle] = hit, pos
            if hit >= 0:
                found.append(hit + 1)
        return min(found) if found else -1


def _scan_headers(raw: bytes, pos: int, shape: _Shape, *, in_digest: bool) -> tuple[str, bytes | None, int]:
    """(content type, boundary, start of the body) of the header section at `pos`, counted."""
    limits = shape.limits
    # Matching stops one byte past the budget: an enormous header costs no more than the limit.
    budget_end = pos + limits.max_header_bytes - shape.header_bytes + 1
    section = _HEADER_SECTION.match(raw, pos, min(len(raw), budget_end))
    end = section.end() if section else pos
    shape.header_bytes += end - pos
    if shape.header_bytes > limits.max_header_bytes:
        shape.reason = f"header sections too large (more than {limits.max_header_bytes} bytes)"
        return "", None, end
    block = b"\n" + memoryview(raw)[pos:end]  # one copy, not a slice and then a second
    shape.fields += sum(1 for _ in _FIELD_LINE.finditer(block))
    if shape.fields > limits.max_header_fields:
        shape.reason = f"too many header fields (more than {limits.max_header_fields})"
    content_type: bytes | None = None
    for field_match in _CONTENT_FIELD.finditer(block):
        value = field_match.group(2)
        if value.count(b";") > limits.max_parameters:
            shape.reason = shape.reason or f"too many MIME parameters (more than {limits.max_parameters})"
        if field_match.group(1).lower() == b"type" and content_type is None:
            content_type = value  # the first one counts, as for Message.get()
    if content_type is None:
        return ("message/rfc822" if in_digest else "text/plain"), None, _skip_newline(raw, end)
    if shape.reason is not None or not _CONTAINER_HINT.search(content_type):
        return "text/plain", None, _skip_newline(raw, end)  # no container can hide in it
    ctype, boundary = _container_type(content_type)
    return ctype, boundary, _skip_newline(raw, end)


def _container_type(value: bytes) -> tuple[str, bytes | None]:
    """(type, boundary) of a Content-Type value, read by the stdlib itself so that quoting,
    comments and RFC 2231 continuations mean exactly what they will mean to the real parse."""
    header, _note = _load(b"Content-Type:" + value + b"\r\n\r\n")  # with _load's fallback, as the parse
    try:
        ctype = header.get_content_type()
        found = header.get_boundary() if ctype.startswith("multipart/") else None
    except Exception:  # the same value makes the real parse fall back to compat32 (see _load)
        header = email.message_from_bytes(b"Content-Type:" + value + b"\r\n\r\n", policy=policy.compat32)
        ctype = header.get_content_type()
        found = header.get_boundary() if ctype.startswith("multipart/") else None
    if not found:
        return ctype, None
    try:
        return ctype, found.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return ctype, None  # decoded to text no delimiter line (read as ASCII) can ever equal


def _tree_problem(msg: Message, limits: MimeLimits = LIMITS) -> str | None:
    """The same bounds on a parsed tree, without recursion: a second line of defence before the walk
    (whose cost grows with the cube of the depth in nested alternatives)."""
    stack, parts = [(msg, 0)], 0
    while stack:
        part, depth = stack.pop()
        if depth > limits.max_depth:
            return _too_deep(limits)
        if not part.is_multipart():
            continue  # get_payload() of a leaf may decode it; only the structure is wanted here
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [child for child in payload if isinstance(child, Message)]
            parts += len(children)
            if parts > limits.max_parts:
                return _too_many_parts(limits)
            stack.extend((child, depth + 1) for child in children)
    return None


def _skip_newline(raw: bytes, pos: int) -> int:
    if raw.startswith(b"\r\n", pos):
        return pos + 2
    if raw[pos : pos + 1] in (b"\n", b"\r"):
        return pos + 1
    return pos


def _blank_lines(raw: bytes, start: int, end: int) -> int:
    return raw.count(b"\n\r\n", start, end) + raw.count(b"\n\n", start, end) + 1


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
    return len(address) <= _MAX_ADDRESS and bool(_ADDRESS.match(address)) and not address.startswith("@")


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
    """Readable text of an HTML body: layout-aware via inscriptis (up to a size), else a tag stripper."""
    if len(markup) > LIMITS.max_layout_html:
        text = _strip_tags(markup)
    else:
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
    return _as_bytes(_raw_payload(part))


def _raw_payload(part: Message) -> str:
    payload = part.get_payload(decode=False)
    return payload if isinstance(payload, str) else ""


def _as_bytes(text: str) -> bytes:
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
    data = _as_bytes(raw)
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
    data = _as_bytes(head + raw[match.start() :])
    try:
        salvaged = email.message_from_bytes(data, policy=policy.compat32)
    except Exception:
        return None
    payload = salvaged.get_payload()
    # The bytes were never pre-scanned as MIME (no boundary was declared for them).
    if not isinstance(payload, list) or not payload or _tree_problem(salvaged) is not None:
        return None
    return salvaged


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
    refs = dict.fromkeys(f"S48-{m.group(1)}-{m.group(2)}" for m in _TICKET_REF.finditer(subject))
    return tuple(refs)[:_MAX_TICKET_REFS]


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
    if not raw or raw.isspace():  # not raw.strip(): that copies a 30 MB mail only to test it
        return _unparseable(raw, "empty message")
    too_large = mime_shape_problem(raw)
    if too_large is not None:
        return _unparseable(raw, too_large)
    msg, defects = _load(raw)
    if not list(msg.keys()):
        return _unparseable(raw, "no header section")
    too_large = _tree_problem(msg)
    if too_large is not None:
        return _unparseable(raw, too_large)
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
    in_reply_to = _message_ids(_header(msg, "In-Reply-To"))[:_MAX_IN_REPLY_TO]
    # References lists the oldest first: the parent and its nearest ancestors are at the end.
    references = _message_ids(_header(msg, "References"))[-_MAX_REFERENCES:]
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


def storable(text: str) -> str:
    """`text` as the database can hold it: PostgreSQL refuses NUL, and a lone surrogate (a raw 8-bit
    byte the stdlib carried as a surrogate escape) cannot be encoded; it becomes U+FFFD."""
    text = text.replace("\x00", "")
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _storable_attachment(a: Attachment) -> Attachment:
    cid = storable(a.content_id) if a.content_id else None
    return replace(a, filename=storable(a.filename), content_type=storable(a.content_type), content_id=cid)


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
    # Every text leaves through storable(): header values and names can carry NUL or raw 8-bit bytes.
    return InboundContact(
        channel=ChannelKind.EMAIL,
        external_id=storable(external_id),
        sender=storable(sender or ""),
        received_at=received_at,
        subject=storable(parsed.subject) or None,
        body=storable(parsed.body),
        attachments=tuple(_storable_attachment(a) for a in parsed.attachments),
        thread_hints=tuple(storable(h) for h in hints),
        meta={key: storable(value) for key, value in meta.items()},
        raw=raw,
        sender_name=storable(parsed.sender_name) if parsed.sender_name else None,
    )

"""The MIME-bomb guard: bounds on the shape of one mail (depth, parts, header bytes and fields),
checked in linear time on the raw bytes before the stdlib parser runs, and again on the parsed tree."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import Message

from mail.headers import load_message


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
    header, _note = load_message(b"Content-Type:" + value + b"\r\n\r\n")  # with the parse's own fallback
    try:
        ctype = header.get_content_type()
        found = header.get_boundary() if ctype.startswith("multipart/") else None
    except Exception:  # the same value makes the real parse fall back to compat32 (see load_message)
        header = email.message_from_bytes(b"Content-Type:" + value + b"\r\n\r\n", policy=policy.compat32)
        ctype = header.get_content_type()
        found = header.get_boundary() if ctype.startswith("multipart/") else None
    if not found:
        return ctype, None
    try:
        return ctype, found.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return ctype, None  # decoded to text no delimiter line (read as ASCII) can ever equal


def tree_problem(msg: Message, limits: MimeLimits = LIMITS) -> str | None:
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

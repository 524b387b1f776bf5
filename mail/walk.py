"""The walk over one parsed mail's MIME tree: which parts are the citizen's text, which are files,
which are forwarded mails; a part that cannot be read becomes a defect, never an exception."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message

from tnefparse import TNEF

from channels.base import Attachment
from mail.attachments import filename_of, named_attachment
from mail.charset import decode_bytes
from mail.headers import header_text
from mail.mime_guard import tree_problem
from mail.parts import (
    as_bytes,
    charset_of,
    content_id_of,
    decode_text,
    disposition_of,
    payload_bytes,
    raw_payload,
)
from mail.text import readable

_SIGNATURE_TYPES = {
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
}
_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,200})[ \t\r]*$", re.MULTILINE)


@dataclass
class MimeWalk:
    """What one walk over the MIME tree found so far (nested forwards share its files and defects)."""

    texts: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    defects: list[str] = field(default_factory=list)
    depth: int = 0


def walk_message(msg: Message, defects: list[str]) -> MimeWalk:
    """Texts, forwarded mails and files of a parsed mail; what fails to read is added to `defects`."""
    walk = MimeWalk(defects=defects)
    if msg.get_content_type() in ("message/rfc822", "message/global"):
        # A top-level message/rfc822 (GroupWise forward) is all forwarded content.
        _walk_forwarded(msg, walk, as_text=True)
    else:
        _walk_part(msg, walk)
    return walk


def _add_attachment(
    walk: MimeWalk,
    data: bytes,
    content_type: str,
    name: str | None,
    *,
    inline: bool = False,
    content_id: str | None = None,
) -> None:
    attachment = named_attachment(
        data, content_type, name, taken=walk.names, inline=inline, content_id=content_id
    )
    walk.attachments.append(attachment)


def _walk_part(part: Message, walk: MimeWalk, *, in_report: bool = False) -> None:
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


def _walk_multipart(part: Message, ctype: str, walk: MimeWalk) -> None:
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


def _collect_files_only(part: Message, walk: MimeWalk) -> None:
    """Keep the files of an alternative we did not show (an HTML branch's inline photos)."""
    for leaf in part.walk():
        if leaf.is_multipart():
            continue
        ctype = leaf.get_content_type()
        if ctype.startswith("text/") or ctype in _SIGNATURE_TYPES:
            continue
        _walk_leaf(leaf, ctype, walk)


def _walk_broken_multipart(part: Message, walk: MimeWalk) -> None:
    raw = raw_payload(part)
    salvaged = _salvage(raw)
    if salvaged is not None and walk.depth < 8:
        walk.depth += 1
        _walk_part(salvaged, walk)
        walk.depth -= 1
        return
    data = as_bytes(raw)
    text, _codec = decode_bytes(data, charset_of(part))
    text = readable(text)
    if text:
        walk.texts.append(text)


def _salvage(raw: str) -> Message | None:
    """Re-read a multipart whose boundary parameter is missing or wrong from its boundary lines."""
    match = _BOUNDARY_LINE.search(raw)
    if match is None or match.group(1).endswith("--"):
        return None
    boundary = match.group(1)
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    data = as_bytes(head + raw[match.start() :])
    try:
        salvaged = email.message_from_bytes(data, policy=policy.compat32)
    except Exception:
        return None
    payload = salvaged.get_payload()
    # The bytes were never pre-scanned as MIME (no boundary was declared for them).
    if not isinstance(payload, list) or not payload or tree_problem(salvaged) is not None:
        return None
    return salvaged


def _walk_leaf(part: Message, ctype: str, walk: MimeWalk) -> None:
    if ctype in _SIGNATURE_TYPES:
        return
    disposition = disposition_of(part)
    name = filename_of(part)
    if ctype == "application/ms-tnef" or (name or "").lower() == "winmail.dat":
        _walk_tnef(part, walk, name)
        return
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not name:
        text = decode_text(part, walk.defects)
        if text:
            walk.texts.append(text)
        return
    data = payload_bytes(part, walk.defects)
    if not data and not name:
        return
    walk_inline = disposition == "inline" or (disposition is None and content_id_of(part) is not None)
    _add_attachment(walk, data, ctype, name, inline=walk_inline, content_id=content_id_of(part))


def _walk_tnef(part: Message, walk: MimeWalk, name: str | None) -> None:
    data = payload_bytes(part, walk.defects)
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
        walk.texts.append(readable(text))


def _walk_forwarded(part: Message, walk: MimeWalk, *, as_text: bool) -> None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        data = payload_bytes(part, walk.defects)
        if data:
            _add_attachment(walk, data, "message/rfc822", None)
        return
    subject = header_text(inner, "Subject") or ""
    try:
        inner_bytes = inner.as_bytes(policy=policy.compat32)
    except Exception:
        inner_bytes = b""
    if inner_bytes:
        _add_attachment(walk, inner_bytes, "message/rfc822", f"{subject or 'forwarded'}.eml")
    if not as_text or walk.depth >= 8:
        return
    nested = MimeWalk(
        names=walk.names, attachments=walk.attachments, defects=walk.defects, depth=walk.depth + 1
    )
    _walk_part(inner, nested)
    lines = ["---------- Forwarded message ----------"]
    for label, header_name in (
        ("From", "From"),
        ("Date", "Date"),
        ("Subject", "Subject"),
        ("To", "To"),
    ):
        value = header_text(inner, header_name)
        if value:
            lines.append(f"{label}: {value}")
    inner_text = "\n\n".join([*nested.texts, *nested.forwarded])
    walk.forwarded.append("\n".join(lines) + ("\n\n" + inner_text if inner_text else ""))

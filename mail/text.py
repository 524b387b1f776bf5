"""Readable text from a mail body: HTML to text (inscriptis, a tag stripper past a size), RFC 3676
format=flowed joined, line ends and blank lines tidied."""

from __future__ import annotations

import html.parser
import re
from typing import ClassVar

from inscriptis import get_text

from mail.mime_guard import LIMITS

_HTML_HINT = re.compile(r"<(html|body|div|p|br|table|span|font)\b", re.IGNORECASE)


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
    return tidy(text)


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


def tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    joined = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


def unflow(text: str, *, delsp: bool) -> str:
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


def readable(text: str) -> str:
    """`text` of unknown kind (a body without a usable type, a TNEF body): as HTML if it looks like it."""
    return html_to_text(text) if _HTML_HINT.search(text) else tidy(text)

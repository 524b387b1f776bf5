"""SMS (and reply first-line) keywords in both scripts, with or without diacritics."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.text import fold

_REF_LOOSE = re.compile(r"\b([a-z0-9]{1,6})[\s-]*(\d{4})[\s-]*(\d{1,6})\b")


@dataclass(frozen=True, slots=True)
class Keyword:
    command: str  # status | stop | start | not_fixed
    reference: str | None = None


def find_reference(text: str, prefix: str) -> str | None:
    """A ticket reference however a citizen typed it: S48-2026-000123, s48 2026 123, С48-2026-123."""
    for m in _REF_LOOSE.finditer(fold(text)):
        head, year, number = m.groups()
        if head.upper() == prefix.upper():
            return f"{prefix}-{year}-{int(number):06d}"
    return None


def parse_keyword(text: str, prefix: str) -> Keyword | None:
    folded = fold(text).strip()
    tokens = re.findall(r"[a-z0-9]+", folded)
    if not tokens:
        return None
    first = tokens[0]
    if first in ("status", "stanje"):
        return Keyword("status", find_reference(text, prefix))
    if len(tokens) == 1 and first in ("stop", "odjava", "odjavi", "stopp"):
        return Keyword("stop")
    if len(tokens) == 1 and first in ("start", "prijava"):
        return Keyword("start")
    if first == "nije" or folded.startswith(("nije reseno", "nije popravljeno", "not fixed")):
        return Keyword("not_fixed", find_reference(text, prefix))
    return None

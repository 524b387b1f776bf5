"""Split a reply into the citizen's new text and the quoted history below it (English, Serbian Latin
and Cyrillic, Russian quote headers, Outlook header blocks, `>`). An inline-forwarded message is
never stripped: a forwarded complaint is the content."""

from __future__ import annotations

import re

_WROTE = re.compile(
    r"^(?P<head>.{0,300}?)\b(wrote|napisao|napisala|napisao/la|napisala/o|napisao je|napisala je"
    r"|написао|написала|написао/ла|написала/о|написал|написала|schrieb|a écrit|escribió)\s*:\s*$",
    re.IGNORECASE,
)
_HEADER_START = re.compile(
    r"^\s*(on\b|dana\b|dne\b|am\b|le\b|el\b|\d|\[?\d|(mon|tue|wed|thu|fri|sat|sun|pon|uto|sre|čet|cet|pet|sub|ned"
    r"|пон|уто|сре|чет|пет|суб|нед)\w*\b|[\"']?[^\W\d][^<>@]{0,80}<\S+@)",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{3,}\s*(original message|originalna poruka|izvorna poruka|оригинална порука"
    r"|исходное сообщение)\s*-{3,}\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|od|од|šalje|von|de|от)\s*:\*?\s+\S", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(
    r"^\s*\*?(sent|date|poslato|послато|poslano|datum|датум|gesendet|envoyé|отправлено)\s*:",
    re.IGNORECASE,
)
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(sent from my \w[\w ]{0,30}|poslato sa mog \S[\w -]{0,30}|poslano s mog \S[\w -]{0,30}"
    r"|послато са мог \S[\w -]{0,30}|отправлено с \S[\w ]{0,30}|sent from mail for windows|"
    r"get outlook for \w+)\s*$",
    re.IGNORECASE,
)
_FORWARD_MARKERS = re.compile(
    r"(-{3,}\s*(forwarded message|prosleđena poruka|prosledjena poruka|прослеђена порука"
    r"|proslijeđena poruka|weitergeleitete nachricht|пересылаемое сообщение)\s*-{3,}"
    r"|^begin forwarded message:|^-{3,}\s*forwarded message\s*-{3,})",
    re.IGNORECASE | re.MULTILINE,
)
_FORWARD_SUBJECT = re.compile(
    r"^\s*(\[[^]]*\]\s*)?(fwd?|fw|prosl|prosleđeno|прослеђено|tr|wg)\s*:", re.IGNORECASE
)


def is_forward(text: str, subject: str | None = None) -> bool:
    """True when the mail forwards someone else's message inline."""
    if subject and _FORWARD_SUBJECT.match(subject):
        return True
    return bool(_FORWARD_MARKERS.search(text))


def _wrote_header_starting_at(lines: list[str], end: int) -> int | None:
    """Start of an "… wrote:" header ending on line `end` (clients wrap it over up to 3 lines)."""
    if not lines[end].rstrip().endswith(":"):
        return None  # cheap pre-check: the regex below is costly on long bodies
    for span in (1, 2, 3):
        start = end - span + 1
        if start < 0:
            return None
        chunk = lines[start : end + 1]
        if not all(line.strip() for line in chunk):
            return None
        match = _WROTE.match(" ".join(line.strip() for line in chunk))
        # A date or an address in the header keeps "komšija je napisao:" inside a citizen's text.
        if match and re.search(r"\d|@", match.group("head")) and _HEADER_START.match(chunk[0]):
            return start
    return None


def _quote_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _ORIGINAL_MESSAGE.match(line):
            return index
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_FIELD.match(x) for x in lines[index + 1 : index + 5]):
            return index
        start = _wrote_header_starting_at(lines, index)
        if start is not None:
            return start
    return None


def split_reply(text: str, subject: str | None = None) -> tuple[str, str]:
    """Return (new text, quoted history); the history is "" when nothing was recognised."""
    if not text.strip() or is_forward(text, subject):
        return text.strip(), ""
    lines = text.splitlines()
    cut = _quote_start(lines)
    if cut is None:
        cut = _trailing_quote_block(lines)
    new_lines = lines if cut is None else lines[:cut]
    while new_lines and not new_lines[-1].strip():
        new_lines.pop()
    signature: list[str] = []
    if new_lines and _MOBILE_SIGNATURE.match(new_lines[-1]):
        signature = [new_lines.pop()]
    new = "\n".join(new_lines).strip()
    if not new:
        return (
            text.strip(),
            "",
        )  # nothing of its own: keep everything rather than show an empty entry
    quoted_lines = signature + ([] if cut is None else lines[cut:])
    return new, "\n".join(quoted_lines).strip()


def _trailing_quote_block(lines: list[str]) -> int | None:
    """Index where a final run of `>` lines (blank lines allowed) begins, if the text ends so."""
    start = None
    for i in range(len(lines) - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped.startswith(">"):
            start = i
        elif stripped:
            break
    return start

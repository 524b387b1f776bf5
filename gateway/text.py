"""Serbian text helpers for the core: Cyrillic ↔ Latin transliteration, diacritic folding, PII in free text.

Written by hand: the Serbian alphabets map one-to-one (Vuk's and Gaj's), a table is all it takes.
"""

from __future__ import annotations

import re
import unicodedata

_CYR_TO_LAT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "ђ": "đ",
    "е": "e",
    "ж": "ž",
    "з": "z",
    "и": "i",
    "ј": "j",
    "к": "k",
    "л": "l",
    "љ": "lj",
    "м": "m",
    "н": "n",
    "њ": "nj",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "ћ": "ć",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "c",
    "ч": "č",
    "џ": "dž",
    "ш": "š",
}
_LAT_DIGRAPHS = {"lj": "љ", "nj": "њ", "dž": "џ"}
_LAT_TO_CYR = {v: k for k, v in _CYR_TO_LAT.items() if len(v) == 1}
_FOLD = {"č": "c", "ć": "c", "ž": "z", "š": "s", "đ": "dj"}


def cyr_to_lat(text: str) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        lat = _CYR_TO_LAT.get(low)
        if lat is None:
            out.append(ch)
        elif ch != low:
            out.append(lat[0].upper() + lat[1:])
        else:
            out.append(lat)
    return "".join(out)


def lat_to_cyr(text: str) -> str:
    """Gaj's Latin to Vuk's Cyrillic. Digraphs lj/nj/dž always become one letter, which is right for
    the gateway's own templates (the only text it converts); URLs and references are never passed in."""
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair.lower() in _LAT_DIGRAPHS:
            cyr = _LAT_DIGRAPHS[pair.lower()]
            out.append(cyr.upper() if pair[0].isupper() else cyr)
            i += 2
            continue
        ch = text[i]
        single = _LAT_TO_CYR.get(ch.lower())
        out.append(ch if single is None else (single.upper() if ch.isupper() else single))
        i += 1
    return "".join(out)


_FOLD_TABLE = str.maketrans({**{c: _CYR_TO_LAT[c] for c in _CYR_TO_LAT}, **_FOLD})
_FOLD_TABLE.update(str.maketrans({c: _FOLD.get(v, v) for c, v in _CYR_TO_LAT.items() if len(v) == 1}))
_FOLD_TABLE.update(str.maketrans({"ђ": "dj", "џ": "dz", "ч": "c", "ћ": "c", "ж": "z", "ш": "s"}))


def fold(text: str) -> str:
    """Lower-case Latin without diacritics: one form for Cyrillic, Latin and 'shisana latinica'."""
    out = text.lower().translate(_FOLD_TABLE)
    if out.isascii():
        return out
    decomposed = unicodedata.normalize("NFKD", out)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Serbian and international numbers as people write them: +381 64 123 4567, 064/123-45-67, 011 3334444
_PHONE = re.compile(r"(?<![\w/])(?:\+|00)?\d(?:[\s./-]?\d){7,13}(?![\w/])")


def mask_pii(text: str) -> str:
    """Hide e-mail addresses and phone numbers in free text shown to utilities."""
    text = _EMAIL.sub("[e-mail skriven]", text)
    return _PHONE.sub("[telefon skriven]", text)

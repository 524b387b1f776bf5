"""Serbian numbers as said or misheard ("dvadeset i pet", "dvanaes", "četrnaestom", "sto dva") read
as integers, on folded words; for house numbers in speech and for comparing transcripts with digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rapidfuzz import fuzz, process

# A hand-written table: no maintained library on PyPI reads Serbian number words (text2num,
# word2number and number-parser cover other languages). Folded spellings, colloquial and
# ijekavian ones included.
_UNITS = {
    "nula": 0, "jedan": 1, "jedna": 1, "jedno": 1, "jednog": 1, "jednom": 1, "dva": 2, "dve": 2,
    "dvije": 2, "dvaju": 2, "tri": 3, "triju": 3, "cetiri": 4, "pet": 5, "sest": 6, "sedam": 7,
    "osam": 8, "devet": 9,
}  # fmt: skip
_TEENS = {
    "deset": 10, "jedanaest": 11, "dvanaest": 12, "trinaest": 13, "cetrnaest": 14, "petnaest": 15,
    "sesnaest": 16, "sedamnaest": 17, "osamnaest": 18, "devetnaest": 19,
}  # fmt: skip
_TENS = {
    "dvadeset": 20, "trideset": 30, "cetrdeset": 40, "pedeset": 50, "sezdeset": 60,
    "sedamdeset": 70, "osamdeset": 80, "devedeset": 90,
}  # fmt: skip
_HUNDREDS = {
    "sto": 100, "stotinu": 100, "dvesta": 200, "dvjesta": 200, "dvesto": 200, "trista": 300,
    "tristo": 300, "cetiristo": 400, "petsto": 500, "seststo": 600, "sedamsto": 700, "osamsto": 800,
    "devetsto": 900,
}  # fmt: skip
# Ordinal stems ("na dvanaestom broju", "prvi ulaz") where they differ from the cardinal; not
# "drug-" (also "other": "u drugoj ulici").
_ORDINAL_STEMS = {
    "prv": 1, "trec": 3, "cetvrt": 4, "pet": 5, "sest": 6, "sedm": 7, "osm": 8,
    "devet": 9, "stot": 100,
}  # fmt: skip
_ORDINAL_ENDINGS = ("ima", "oga", "ome", "og", "om", "oj", "ih", "im", "i", "a", "o", "u", "e")


def _lexicon() -> dict[str, int]:
    words: dict[str, int] = {**_UNITS, **_TEENS, **_TENS, **_HUNDREDS}
    for word, value in _TEENS.items():
        if word.endswith("naest"):
            root = word[: -len("naest")]
            # Spoken Serbian drops the t and more: "dvanaes", "dvanes", "dvanajst".
            for tail in ("naes", "nes", "najst", "najs"):
                words.setdefault(root + tail, value)
    ordinals = {**_ORDINAL_STEMS, **{w: v for w, v in {**_TEENS, **_TENS}.items()}}
    for stem, value in ordinals.items():
        for ending in _ORDINAL_ENDINGS:
            words.setdefault(stem + ending, value)
    return words


LEXICON = _lexicon()
# Folded "što" (that/why) is "sto": a hundred only when more of the number follows ("sto dva").
_NEEDS_FOLLOWER = frozenset({"sto"})
_FUZZY_CHOICES = tuple(w for w in LEXICON if len(w) >= 6)
# A misheard number word must be long and close: "desno" must not read as "deset".
FUZZY_MIN_LENGTH = 6
FUZZY_SIMILARITY = 85.0


@lru_cache(maxsize=16384)
def number_word(token: str) -> int | None:
    """The value of one folded word ("dvanaest", "dvanaes", "dvanaestom", "dvadesetpet", "14")."""
    if token.isdigit():
        return int(token) if len(token) <= 4 else None
    value = LEXICON.get(token)
    if value is not None:
        return value
    glued = _glued(token)
    if glued is not None:
        return glued
    if len(token) >= FUZZY_MIN_LENGTH and token.isalpha():
        match = process.extractOne(token, _FUZZY_CHOICES, scorer=fuzz.ratio, score_cutoff=FUZZY_SIMILARITY)
        if match is not None:
            return LEXICON[match[0]]
    return None


def _glued(token: str) -> int | None:
    # "dvadesetpet", "dvadesetipet", "stodvadeset": the recogniser often writes one word.
    for table in (_HUNDREDS, _TENS):
        for head, value in table.items():
            if token.startswith(head) and len(token) > len(head):
                rest = token[len(head) :]
                rest = rest[1:] if rest.startswith("i") and rest[1:] in LEXICON else rest
                tail = LEXICON.get(rest) if rest in LEXICON else _glued(rest)
                if tail is not None and tail < (100 if table is _HUNDREDS else 10):
                    return value + tail
    return None


def _magnitude(value: int) -> int:
    return 100 if value >= 100 else 10 if value >= 20 else 1


def spoken_number(tokens: Sequence[str], start: int) -> tuple[int, int] | None:
    """The number said from tokens[start] on, and how many tokens it took; None when none starts
    there. Hundreds, then tens, then a unit: "sto dvadeset i tri" is 123, "dvadeset 5" is 25."""
    first = number_word(tokens[start]) if start < len(tokens) else None
    if first is None:
        return None
    value, used = first, 1
    if tokens[start].isdigit():
        return value, used
    if tokens[start] in _NEEDS_FOLLOWER:
        follower = tokens[start + 1 : start + 2]
        if not follower or number_word(follower[0]) is None or number_word(follower[0]) == 100:
            return None
    order = _magnitude(first)
    while order > 1 and start + used < len(tokens):
        nxt = start + used
        skip = 1 if tokens[nxt] == "i" and nxt + 1 < len(tokens) else 0
        following = number_word(tokens[nxt + skip])
        if following is None or following >= order or (order == 10 and following >= 10):
            break
        value += following
        used += 1 + skip
        order = _magnitude(following) if following >= 20 else 1
    return value, used


def numbers_as_digits(tokens: Sequence[str]) -> list[str]:
    """The tokens with every spoken number replaced by its digits: "broj dvadeset pet" → broj 25."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        found = spoken_number(tokens, i)
        if found is None:
            out.append(tokens[i])
            i += 1
        else:
            out.append(str(found[0]))
            i += found[1]
    return out

"""Street, house number and category from what a citizen said or wrote, against the street register
and the catalogue; tolerant to declined Serbian forms and to speech-recognition misspellings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from sqlmodel import Session

from gateway.config import CategorySettings, Config
from gateway.numbers import spoken_number
from gateway.streets import GENERIC_WORDS, Street, load_register
from gateway.text import fold, words
from gateway.tickets import TicketService
from storage.models import Ticket

# Case endings of Serbian nouns and adjectives (longest first): Njegoševoj, Bulevaru, kralja.
_ENDINGS = ("ama", "ima", "om", "oj", "em", "im", "ih", "og", "u", "e", "i", "a", "o")
MIN_STEM = 3
STREET_SIMILARITY = 0.8  # mean over a street name's words
WORD_FLOOR = 0.6  # no single word of a multi-word name below this
PREFILTER_SIMILARITY = 0.6  # below every threshold here: only skips names nowhere near the text
SINGLE_WORD_SIMILARITY = 0.86  # one-word names ("Njegoševa") need a closer match
NUMBER_WINDOW = 5  # words between the street and its house number, either side
STREET_ALONE_SIMILARITY = 0.95
KEYWORD_SIMILARITY = 0.8
MIN_FUZZY_KEYWORD = 4

_NUMBER_CUES = frozenset({"broj", "broja", "broju", "br", "kucni", "kod", "na"})


@dataclass(frozen=True, slots=True)
class FoundAddress:
    street: str
    number: int | None
    lat: float | None
    lon: float | None
    score: float

    @property
    def text(self) -> str:
        return f"{self.street} {self.number}" if self.number is not None else self.street


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def _similar(a: str, b: str) -> float:
    # rapidfuzz's Indel ratio is difflib's ratio in C++: the register is matched against every
    # stretch of every text inside the ingest transaction, so it must cost microseconds.
    return float(fuzz.ratio(a, b)) / 100.0


def _spoken_numbers(tokens: Sequence[str]) -> list[int | None]:
    """Per token: the house number it starts (digits or Serbian number words), else None."""
    return [found[0] if (found := spoken_number(tokens, i)) else None for i in range(len(tokens))]


def _street_score(spelling: tuple[str, ...], window: Sequence[str]) -> float:
    """How well `window` spells the street: word by word, or glued/split differently (ASR often
    writes "ušafariko moj" for "u Šafarikovoj"), on stems so every case ending matches."""
    if len(spelling) == 1 and len(spelling[0]) < 5:
        return 0.0  # a short one-word name would match half the dictionary
    needed = SINGLE_WORD_SIMILARITY if len(spelling) == 1 else STREET_SIMILARITY
    best = 0.0
    if len(spelling) == len(window):
        ratios = [_similar(stem(a), stem(b)) for a, b in zip(spelling, window, strict=True)]
        if min(ratios) >= WORD_FLOOR:
            best = sum(ratios) / len(ratios)
    name = stem("".join(spelling))
    glued = "".join(window)
    for candidate in (glued, glued[1:] if glued.startswith("u") else glued):
        best = max(best, _similar(name, stem(candidate)))
    return best if best >= needed else 0.0


def _house_number(tokens: Sequence[str], start: int, end: int, street: Street) -> int | None:
    numbers: list[int | None] = _spoken_numbers(tokens)
    after = range(end, min(len(tokens), end + NUMBER_WINDOW))
    before = range(start - 1, max(-1, start - 1 - NUMBER_WINDOW), -1)
    for i in [*after, *before]:
        value = numbers[i]
        if not value or not street.has_number(value):
            continue
        # "kod broja 14 u Njegoševoj": before the street only with a cue word next to it.
        if i < start and not (i > 0 and tokens[i - 1] in _NUMBER_CUES):
            continue
        return int(value)
    return None


def find_address(text: str, register: Sequence[Street]) -> FoundAddress | None:
    """The register's street best matching a stretch of `text`, with a house number near it."""
    tokens = [t for t in words(text) if t not in GENERIC_WORDS]
    glued_text = "".join(tokens)
    best: tuple[float, Street, int, int] | None = None
    for street in register:
        for spelling in street.spellings:
            # A necessary condition checked in C++ first: some stretch of the text resembles the
            # name at all. The register is matched inside the ingest transaction of every contact.
            if fuzz.partial_ratio(stem("".join(spelling)), glued_text) < PREFILTER_SIMILARITY * 100:
                continue
            for n in {max(1, len(spelling) - 1), len(spelling), len(spelling) + 1}:
                for i in range(len(tokens) - n + 1):
                    score = _street_score(spelling, tokens[i : i + n])
                    if score and (best is None or score > best[0]):
                        best = (score, street, i, i + n)
    if best is None:
        return None
    score, street, start, end = best
    number = _house_number(tokens, start, end, street)
    coords = street.coordinates(number)
    return FoundAddress(
        street=street.name,
        number=number,
        lat=coords[0] if coords else None,
        lon=coords[1] if coords else None,
        score=round(score, 3),
    )


def _keyword_hits(phrase: Sequence[str], tokens: Sequence[str]) -> int:
    """How often the keyword phrase occurs: each word a prefix of a text word, or a near miss."""
    hits = 0
    n = len(phrase)
    for i in range(len(tokens) - n + 1):
        if all(_word_matches(k, t) for k, t in zip(phrase, tokens[i : i + n], strict=True)):
            hits += n
    return hits


def _word_matches(keyword: str, token: str) -> bool:
    if token.startswith(keyword):
        return True
    if len(keyword) < MIN_FUZZY_KEYWORD:
        return False
    return _similar(keyword, token[: len(keyword) + 1]) >= KEYWORD_SIMILARITY or (
        _similar(stem(keyword), stem(token)) >= KEYWORD_SIMILARITY
    )


def suggest_category(text: str, categories: Sequence[CategorySettings]) -> str | None:
    """The category whose keywords (exact or near: ASR misspellings) occur most; None when none do."""
    tokens = words(text)
    best: tuple[int, int, str] | None = None
    for order, category in enumerate(c for c in categories if c.enabled):
        phrases = {tuple(words(k)) for k in category.keywords if words(k)}
        score = sum(_keyword_hits(p, tokens) for p in phrases if p)
        if score and (best is None or score > best[0]):
            best = (score, -order, category.code)
    return best[2] if best else None


_LATIN = re.compile(r"^[A-Za-zčćžšđČĆŽŠĐ0-9 ,./-]+$")


def vocabulary(categories: Sequence[CategorySettings], register: Sequence[Street]) -> list[str]:
    """Words to bias speech recognition with, street names and catalogue words taking turns, so
    both survive when the prompt is cut to Whisper's limit: names first, then keywords."""
    streets = [street.name for street in register]
    catalogue = [category.name for category in categories] + [
        k
        for category in categories
        for k in category.keywords
        if _LATIN.match(k) and len(k) >= MIN_FUZZY_KEYWORD
    ]
    terms: list[str] = []
    for i in range(max(len(streets), len(catalogue))):
        terms.extend(t[i] for t in (streets, catalogue) if i < len(t))
    return terms


def register_of(config: Config) -> tuple[Street, ...]:
    return load_register(config.streets.register_csv) if config.streets.enabled else ()


def street_names(config: Config) -> list[str]:
    """The register's street names in alphabetical order (diacritics sort with their letter), once each:
    the suggestions of the address fields' <datalist>."""
    return sorted({street.name for street in register_of(config)}, key=lambda name: (fold(name), name))


def locate_from_text(
    session: Session, tickets: TicketService, ticket: Ticket, text: str, *, source: str
) -> FoundAddress | None:
    """Set the ticket's location and, when keywords found none, its suggested category from `text`."""
    config = tickets.config
    if not ticket.suggested_category:
        suggestion = suggest_category(text, config.categories)
        if suggestion:
            ticket.suggested_category = suggestion
            session.add(ticket)
    found = find_address(text, register_of(config))
    # A street alone from a near miss is too often a misheard word ("radniča" is not Radnička):
    # without a house number only a (nearly) exact street name sets the location.
    if found is not None and (found.number is not None or found.score >= STREET_ALONE_SIMILARITY):
        tickets.set_location_from_text(session, ticket, found.text, found.lat, found.lon, source=source)
    return found

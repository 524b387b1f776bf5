"""Vocabulary correction after decoding: a misheard word (or pair) close to a street name or catalogue
word is rewritten in the vocabulary's spelling, keeping the speaker's case ending and the timing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import cyrtranslit
from rapidfuzz import fuzz

from voicemail.transcript import EngineWord

# Case endings of Serbian nouns and adjectives, longest first: Njegoševoj, Bulevaru, kralja.
_ENDINGS = ("ama", "ima", "om", "oj", "em", "im", "ih", "og", "u", "e", "i", "a", "o")
MIN_STEM = 3
# Stems shorter than this are left alone: too many ordinary words lie that close to them.
MIN_TERM_STEM = 5
WORD_SIMILARITY = 0.8  # one vocabulary word against one heard word, on stems
SHORT_WORD_SIMILARITY = 0.88  # stems of 5–6 letters need a closer match
PHRASE_WORD_FLOOR = 0.6  # no word of a two-word name below this
_WORD = re.compile(r"\w+", re.UNICODE)
_FOLD = str.maketrans({"č": "c", "ć": "c", "ž": "z", "š": "s", "đ": "dj"})


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Lower-case Latin without diacritics, whichever script the recogniser wrote."""
    latin = str(cyrtranslit.to_latin(word, "sr")).lower().translate(_FOLD)
    return "".join(c for c in unicodedata.normalize("NFKD", latin) if not unicodedata.combining(c))


def _split(word: str) -> tuple[str, str]:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)], ending
    return word, ""


@dataclass(frozen=True, slots=True)
class _TermWord:
    stem: str  # as the vocabulary spells it (diacritics, capitals)
    folded: str  # folded stem, compared with what was heard


def _term_word(word: str) -> _TermWord:
    folded_stem, ending = _split(fold(word))
    stem = word[: len(word) - len(ending)] if ending and fold(word[-len(ending) :]) == ending else word
    return _TermWord(stem=stem, folded=folded_stem)


class VocabularyCorrector:
    """Rewrites heard words towards the vocabulary (street register names, catalogue words)."""

    def __init__(self, terms: Iterable[str]) -> None:
        singles: dict[str, _TermWord] = {}
        pairs: dict[tuple[str, str], tuple[_TermWord, _TermWord]] = {}
        for term in terms:
            parts = [_term_word(w) for w in _WORD.findall(term)]
            if len(parts) == 2 and all(len(p.folded) >= MIN_STEM for p in parts):
                pairs.setdefault((parts[0].folded, parts[1].folded), (parts[0], parts[1]))
            for part in parts:
                if len(part.folded) >= MIN_TERM_STEM:
                    singles.setdefault(part.folded, part)
        self._singles = tuple(singles.values())
        self._pairs = tuple(pairs.values())

    def _best_single(self, heard_stem: str) -> tuple[float, _TermWord] | None:
        best: tuple[float, _TermWord] | None = None
        for term in self._singles:
            if abs(len(term.folded) - len(heard_stem)) > 3:
                continue
            score = fuzz.ratio(term.folded, heard_stem) / 100.0
            needed = SHORT_WORD_SIMILARITY if len(term.folded) <= 6 else WORD_SIMILARITY
            if score >= needed and (best is None or score > best[0]):
                best = (score, term)
        return best

    def correct(self, words: Sequence[EngineWord]) -> list[EngineWord]:
        """The words with near misses of vocabulary words spelled as the vocabulary spells them."""
        out = list(words)
        heard = [_split(fold("".join(_WORD.findall(w.word)))) for w in out]
        done: set[int] = set()
        # Two-word names first ("Zmaj Jovinoj", "Bulevaru oslobođenja"): a pair can be recognised
        # where each word alone is too far off.
        for i in range(len(out) - 1):
            for first, second in self._pairs:
                a, b = (
                    fuzz.ratio(first.folded, heard[i][0]) / 100,
                    fuzz.ratio(second.folded, heard[i + 1][0]) / 100,
                )
                if min(a, b) >= PHRASE_WORD_FLOOR and (a + b) / 2 >= WORD_SIMILARITY:
                    out[i] = _rewritten(out[i], first, heard[i][1])
                    out[i + 1] = _rewritten(out[i + 1], second, heard[i + 1][1])
                    done.update((i, i + 1))
                    break
        for i, (heard_stem, ending) in enumerate(heard):
            if i in done or len(heard_stem) < MIN_TERM_STEM:
                continue
            best = self._best_single(heard_stem)
            if best is not None and not _fleeting_a(best[1].folded, heard_stem):
                out[i] = _rewritten(out[i], best[1], ending)
        return out


def _fleeting_a(term: str, heard: str) -> bool:
    # "poklopac" → "poklopca": Serbian drops the last a of the stem when an ending follows; the
    # heard form is then already right and "poklopaca" would be wrong.
    cut = term.rfind("a")
    return cut > 0 and term[:cut] + term[cut + 1 :] == heard


_EDGES = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE | re.DOTALL)


def _rewritten(word: EngineWord, term: _TermWord, ending: str) -> EngineWord:
    match = _EDGES.match(word.word)
    lead, core, trail = match.groups() if match else ("", word.word, "")
    text = term.stem + ending
    if fold(core) == fold(text):
        return word
    if core[:1].isupper() and not text[:1].isupper():
        text = text[:1].upper() + text[1:]
    return replace(word, word=lead + text + trail)

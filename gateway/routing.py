"""Category suggestion from free text in any script, and category → utility → SLA hours."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import CategorySettings, Config
from gateway.text import words


@dataclass(frozen=True, slots=True)
class Route:
    category: str
    utility: str
    sla_hours: int


class Router:
    def __init__(self, config: Config) -> None:
        self._config = config
        # Keywords are folded once the same way as the text: one rule matches all three spellings.
        self._rules: list[tuple[CategorySettings, list[list[str]]]] = [
            (cat, [words(k) for k in cat.keywords if words(k)]) for cat in config.categories
        ]

    def suggest(self, text: str) -> str | None:
        """The category whose keywords (word-prefix match) occur most often; None when none do."""
        tokens = words(text)
        best: tuple[int, int, str] | None = None
        for order, (cat, phrases) in enumerate(self._rules):
            score = sum(_count(tokens, phrase) * len(phrase) for phrase in phrases)
            if score and (best is None or score > best[0]):
                best = (score, -order, cat.code)
        return best[2] if best else None

    def route(self, category: str) -> Route:
        cat = self._config.category(category)
        if cat is None:
            raise KeyError(category)
        return Route(cat.code, cat.utility, cat.sla_hours)


def _count(tokens: list[str], phrase: list[str]) -> int:
    n = len(phrase)
    return sum(
        1 for i in range(len(tokens) - n + 1) if all(tokens[i + j].startswith(phrase[j]) for j in range(n))
    )

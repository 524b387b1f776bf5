"""Category suggestion from free text in any script, and category → utility → SLA hours."""

from __future__ import annotations

import re
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
        self._rules: list[tuple[CategorySettings, re.Pattern[str]]] = []
        self._built_from: list[CategorySettings] | None = None

    def _current_rules(self) -> list[tuple[CategorySettings, re.Pattern[str]]]:
        # The catalogue is replaced as a whole when an admin saves (gateway/catalogue.py): a new list
        # object means new keywords, so the patterns are rebuilt once per change, not per message.
        categories = self._config.categories
        if categories is self._built_from:
            return self._rules
        # Keywords are folded once the same way as the text: one rule matches all three spellings.
        # Each category becomes one regex over the folded words, every keyword word matching a word
        # start (sijalic → sijalica, sijalice); longer phrases first so they win the overlap.
        rules: list[tuple[CategorySettings, re.Pattern[str]]] = []
        for cat in categories:
            if not cat.enabled:
                continue
            phrases = sorted({" ".join(words(k)) for k in cat.keywords if words(k)}, key=len, reverse=True)
            if phrases:
                alternatives = "|".join(r"[a-z0-9]* ".join(map(re.escape, p.split())) for p in phrases)
                rules.append((cat, re.compile(rf"(?<![a-z0-9])(?:{alternatives})")))
        self._rules, self._built_from = rules, categories
        return rules

    def suggest(self, text: str) -> str | None:
        """The category whose keywords occur most often (a phrase counts per word); None when none do."""
        folded = " ".join(words(text))
        best: tuple[int, int, str] | None = None
        for order, (cat, pattern) in enumerate(self._current_rules()):
            score = sum(m.group().count(" ") + 1 for m in pattern.finditer(folded))
            if score and (best is None or score > best[0]):
                best = (score, -order, cat.code)
        return best[2] if best else None

    def route(self, category: str) -> Route:
        cat = self._config.category(category)
        if cat is None:
            raise KeyError(category)
        return Route(cat.code, cat.utility, cat.sla_hours)

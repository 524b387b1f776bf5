"""Which script a Serbian text is written in: the one test every medium and the core share."""

from __future__ import annotations

from typing import Literal

Script = Literal["cyrillic", "latin"]


def script_of(text: str) -> Script:
    """'cyrillic' when most letters are Cyrillic, else 'latin' (Serbian mixes both in one message:
    a Cyrillic text quoting a Latin street sign is still Cyrillic)."""
    cyrillic = latin = 0
    for ch in text:
        if "\u0400" <= ch <= "\u04ff":
            cyrillic += 1
        elif ch.isalpha():
            latin += 1
    return "cyrillic" if cyrillic > latin else "latin"

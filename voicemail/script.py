"""Serbian transcripts in the configured script: Whisper writes Serbian in Latin or Cyrillic at will."""

from __future__ import annotations

from typing import Literal

import cyrtranslit

from channels.script import script_of

# Languages written in both scripts that cyrtranslit maps one-to-one (Vuk's and Gaj's alphabets).
_BISCRIPT = {"sr": "sr", "me": "me"}


def in_script(text: str, language: str, script: Literal["latin", "cyrillic"]) -> str:
    """`text` in `script` when `language` is written in both scripts; unchanged otherwise."""
    code = _BISCRIPT.get(language)
    if code is None or not text or script_of(text) == script:
        return text
    if script == "latin":
        return str(cyrtranslit.to_latin(text, code))
    return str(cyrtranslit.to_cyrillic(text, code))

"""Fuzz target: the text helpers under the mail parser — charset guessing, RFC 2047 headers,
HTML to text and the reply/quote splitter — on arbitrary bytes and labels."""

from __future__ import annotations

import sys

import atheris

from fuzz.checks import Violation

with atheris.instrument_imports(include=["mail", "email", "html", "inscriptis"]):
    from mail import charset, quotes
    from mail.text import html_to_text

LABELS = ("utf-8", "windows-1250", "iso-8859-2", "koi8-r", "iso-2022-jp", "gb2312", "unknown-8bit", "utf-7")


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    label = LABELS[fdp.ConsumeIntInRange(0, len(LABELS) - 1)] if fdp.ConsumeBool() else fdp.ConsumeString(12)
    payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    if mode == 0:
        text, codec = charset.decode_bytes(payload, label)
        if payload and not text and payload.strip(b"\x00"):
            raise Violation(f"{len(payload)} bytes decoded ({codec}) to nothing")
    elif mode == 1:
        # Header values reach the decoder as str with raw 8-bit bytes carried as surrogate escapes.
        charset.decode_header_text(payload.decode("ascii", "surrogateescape"))
    elif mode == 2:
        html_to_text(payload.decode("utf-8", "replace"))
    else:
        text = payload.decode("utf-8", "replace")
        new, _quoted = quotes.split_reply(text, label)
        if text.strip() and not new:
            raise Violation("a non-empty mail split into no new text")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

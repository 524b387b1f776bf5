"""Fuzz target: the first line of an SMS (or mail) → keyword and ticket-reference parsing."""

from __future__ import annotations

import sys

import atheris

from fuzz.checks import Violation, well_formed_reference

with atheris.instrument_imports(include=["gateway.keywords", "gateway.text"]):
    from gateway.keywords import find_reference, parse_keyword

COMMANDS = {"status", "stop", "start", "not_fixed"}


def test_one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    keyword = parse_keyword(text, "S48")
    if keyword is not None:
        if keyword.command not in COMMANDS:
            raise Violation(f"unknown command {keyword.command!r}")
        well_formed_reference(keyword.reference)
    well_formed_reference(find_reference(text, "S48"))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

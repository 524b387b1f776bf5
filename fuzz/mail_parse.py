"""Fuzz target: raw mail bytes → mail.parse, strictly (an exception the parser's own safety net would
turn into a quarantine reason is a crash here), then every field of the contact must be storable."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import atheris

from fuzz.checks import Violation, storable_contact

with atheris.instrument_imports(include=["mail", "email"]):
    from mail import intake, parse, walk

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RCPT = ("sistem48+S48-2026-000001@sistem48.localhost",)
# What the walk's per-part safety net swallowed in this input, with its traceback.
_swallowed: list[Exception] = []


def _recording(walker: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return walker(*args, **kwargs)
        except Exception as exc:
            _swallowed.append(exc)
            raise

    return wrapper


for _name in ("_walk_multipart", "_walk_leaf", "_walk_forwarded"):
    setattr(walk, _name, _recording(getattr(walk, _name)))


def test_one_input(data: bytes) -> None:
    _swallowed.clear()
    contact = intake.contact_from_bytes(data, received_at=NOW, mail_from="pera@example.rs", rcpt_tos=RCPT)
    if contact.meta.get("quarantine", "").startswith("parser error"):
        # Parse again without parse_message's catch-all, so the traceback reaches the fuzzer.
        parse._parse(data, "pera@example.rs")
        raise Violation(contact.meta["quarantine"])
    own = [d for d in contact.meta.get("defects", "").split(",") if d.startswith("part ")]
    if own:
        cause = _swallowed[0] if _swallowed else None
        raise Violation(f"a MIME part raised inside the walk: {own}") from cause
    if contact.raw != data:
        raise Violation("the raw bytes were not kept")
    storable_contact(contact)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""Progress of long commands (backup, restore, install): a bar on a terminal, plain lines in the
journal, so an administrator watching `journalctl -u` sees that work moves without a flood of lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

# A journal line at most this often (seconds), and at every tenth of the work.
_LINE_EVERY_S = 5.0


class Progress:
    """One step of a long command; `advance()` as units of work finish, `done()` at the end."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        tty: bool | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._monotonic = monotonic
        self.count = 0
        self._last_line_at = monotonic()
        self._last_tenth = 0
        if not self.tty:
            self._line(f"{label}: started ({self._amount(self.total)})")

    def advance(self, n: int = 1) -> None:
        self.count += n
        if self.tty:
            self._bar()
            return
        tenth = 10 * self.count // self.total if self.total else 10
        now = self._monotonic()
        if tenth > self._last_tenth or now - self._last_line_at >= _LINE_EVERY_S:
            self._last_tenth = tenth
            self._last_line_at = now
            self._line(f"{self.label}: {self._amount(self.count)} of {self._amount(self.total)}{self._pct()}")

    def done(self, summary: str = "") -> None:
        tail = f" - {summary}" if summary else ""
        if self.tty:
            self._bar()
            self.stream.write("\n")
        self._line(f"{self.label}: done, {self._amount(self.count)}{tail}")

    def _pct(self) -> str:
        return f" ({100 * self.count // self.total} %)" if self.total else ""

    def _amount(self, n: int) -> str:
        if self.unit == "bytes":
            return f"{n / 1048576:.1f} MiB"
        return f"{n} {self.unit}".rstrip()

    def _bar(self) -> None:
        width = 30
        filled = width * min(self.count, self.total) // self.total if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self._amount(self.count)}{self._pct()}")
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


ProgressFactory = Callable[[str, int, str], Progress]


def terminal_or_journal(label: str, total: int, unit: str) -> Progress:
    """The factory the CLI passes down: a bar when stderr is a terminal, lines when it is the journal."""
    return Progress(label, total, unit=unit)

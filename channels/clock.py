"""The one definition of "now" for every package: tz-aware UTC, injectable where time decides behaviour."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)

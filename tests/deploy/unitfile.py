"""Reads an installed systemd unit and its EnvironmentFile the way systemd does, so tests start
the gateway with the unit's own command, user, directory and environment."""

from __future__ import annotations

import shlex
from pathlib import Path


def unit_keys(path: Path) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; quotes are removed as systemd removes them, comments and blanks skipped."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")) and "=" in line:
            key, _, value = line.partition("=")
            words = shlex.split(value) if value.strip() else [""]
            env[key.strip()] = " ".join(words)
    return env

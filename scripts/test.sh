#!/usr/bin/env bash
# Sets up and runs the whole test suite: lint (ruff), types (mypy --strict), layering
# (import-linter), pytest on SQLite and PostgreSQL with real SMTP, SIP, modem, Vosk and Chromium, then the
# chaos run (scripts/chaos.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
scripts/ensure_postgres.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";          ruff check .
echo "== mypy --strict"; mypy && mypy scripts/chaos.py fuzz
echo "== import-linter"; lint-imports
echo "== pytest";        pytest -q -p no:cacheprovider "$@"
if [ "$#" -eq 0 ]; then
  # Faults under mixed load (SIGKILL, PostgreSQL restart, relay 4xx/5xx, modem and PBX gone, full
  # blob disk); it rewrites docs/reliability.md and fails when anything acknowledged was lost.
  echo "== chaos";       python scripts/chaos.py
fi

#!/usr/bin/env bash
# Sets up and runs the whole test suite: lint (ruff), types (mypy --strict), layering
# (import-linter) and pytest on SQLite and PostgreSQL, with real SMTP, SIP, modem, Vosk and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
scripts/ensure_postgres.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";          ruff check .
echo "== mypy --strict"; mypy
echo "== import-linter"; lint-imports
echo "== pytest";        exec pytest -q -p no:cacheprovider "$@"

#!/usr/bin/env bash
# Sets up and runs the whole test suite: lint (ruff), types (mypy --strict), layering
# (import-linter), pytest on SQLite and PostgreSQL with real SMTP, SIP, modem, Vosk and Chromium, the
# install in a clean Debian 12 chroot (beside pytest), then the chaos run (scripts/chaos.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
scripts/ensure_postgres.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";          ruff check .
echo "== mypy --strict"; mypy && mypy scripts/chaos.py fuzz
echo "== import-linter"; lint-imports
if [ "$#" -gt 0 ]; then
  echo "== pytest";      exec pytest -q -p no:cacheprovider "$@"
fi
# The install in a clean Debian 12 chroot waits on apt and PyPI far more than on the CPU (about
# 8 minutes): it runs beside the rest of the suite, and its result counts at the end.
mkdir -p var
chroot_log=var/test_install_chroot.log
echo "== install.sh in a Debian 12 chroot: in the background, log in $chroot_log"
pytest -q -s -p no:cacheprovider tests/deploy/test_install_chroot.py >"$chroot_log" 2>&1 &
chroot_job=$!
status=0
echo "== pytest";        pytest -q -p no:cacheprovider --ignore=tests/deploy/test_install_chroot.py || status=$?
if [ "$status" -eq 0 ]; then
  # Faults under mixed load (SIGKILL, PostgreSQL restart, relay 4xx/5xx, modem and PBX gone, full
  # blob disk); it rewrites docs/reliability.md and fails when anything acknowledged was lost.
  echo "== chaos";       python scripts/chaos.py || status=$?
fi
# Waited for even after a failure: stopping it midway could leave its chroot's mounts behind.
echo "== install.sh in a Debian 12 chroot"
if wait "$chroot_job"; then
  tail -n 2 "$chroot_log"
else
  echo "FAILED, its log:"; cat "$chroot_log"; status=1
fi
exit "$status"

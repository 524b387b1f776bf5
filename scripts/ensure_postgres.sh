#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests (user postgres, trust auth):
# uses the running one, else starts the distribution's cluster, else installs and starts one.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

reachable() {
  .venv/bin/python - <<'PY' 2>/dev/null
import psycopg, sys
try:
    psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3).close()
except Exception:
    sys.exit(1)
PY
}

reachable && exit 0
echo "ensure_postgres: no PostgreSQL on 127.0.0.1:5432, starting one"
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
ver=$(ls /etc/postgresql | sort -V | tail -1)
conf=/etc/postgresql/$ver/main
# The tests connect as postgres over TCP without a password, as on the CI machines.
if ! $SUDO grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
  echo 'host all all 127.0.0.1/32 trust' | $SUDO tee -a "$conf/pg_hba.conf" >/dev/null
fi
$SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || $SUDO pg_ctlcluster "$ver" main reload || true
for _ in $(seq 1 30); do reachable && exit 0; sleep 1; done
echo "ensure_postgres: PostgreSQL did not come up" >&2
exit 1

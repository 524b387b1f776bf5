#!/usr/bin/env bash
# Installs Sistem48 on a Debian 12 server, or upgrades it in place when run again (docs/install.md).
#   sudo scripts/install.sh                 install / upgrade on this machine
#   scripts/install.sh --root DIR           lay everything out under DIR as if it were / (no apt, no
#                                           user, no systemctl; paths in the config point into DIR)
#   --pip-args "--no-index --find-links /media/wheels"   install from a wheel folder (offline box)
# An upgrade stops the gateway, backs up, installs the new release next to the old one, migrates the
# database, switches /opt/sistem48/venv over and starts again. Rollback: docs/install.md.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT=""
PYTHON="${PYTHON:-python3}"
PIP_ARGS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$(realpath -m "$2")"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --pip-args) PIP_ARGS="$2"; shift 2 ;;     # e.g. "--no-index --find-links /media/wheels" offline
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install: unknown option $1" >&2; exit 2 ;;
  esac
done

OPT="$ROOT/opt/sistem48"
ETC="$ROOT/etc/sistem48"
DATA="$ROOT/var/lib/sistem48"
BACKUPS="$ROOT/var/backups/sistem48"
UNITS="$ROOT/etc/systemd/system"
USER_NAME=sistem48
SYSTEM=$([ -z "$ROOT" ] && echo 1 || echo 0)
# systemd runs this machine (its own test); in a chroot or a container without it, units are
# installed and enabled but nothing is started or stopped, and the script says so.
SYSTEMD=$([ "$SYSTEM" = 1 ] && [ -d /run/systemd/system ] && echo 1 || echo 0)
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml" | head -1)"
RELEASE="$OPT/releases/$VERSION-$(date -u +%Y%m%dT%H%M%SZ)"
step_no=0
step() { step_no=$((step_no + 1)); echo "install: [$step_no/8] $*"; }

if [ "$SYSTEM" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (sudo), or use --root DIR" >&2; exit 1
fi

step "system packages"
if [ "$SYSTEM" = 1 ]; then
  need=()
  for p in python3 python3-venv python3-dev build-essential pkg-config libgammu-dev gammu \
           postgresql-client ca-certificates; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
else
  echo "install:   skipped (--root)"
fi

step "system user $USER_NAME"
if [ "$SYSTEM" = 1 ]; then
  getent passwd "$USER_NAME" >/dev/null ||
    useradd --system --user-group --home-dir /var/lib/sistem48 --no-create-home \
      --shell /usr/sbin/nologin --comment "Sistem48 gateway" "$USER_NAME"
  usermod -a -G dialout "$USER_NAME"   # the GSM modem's tty
else
  echo "install:   skipped (--root)"
fi

step "directories"
install -d -m 0755 "$OPT" "$OPT/releases" "$UNITS"
install -d -m 0750 "$ETC" "$DATA" "$BACKUPS"
if [ "$SYSTEM" = 1 ]; then
  chown root:"$USER_NAME" "$ETC"
  chown "$USER_NAME":"$USER_NAME" "$DATA" "$BACKUPS"
fi

step "configuration in $ETC"
if [ ! -e "$ETC/config.toml" ]; then
  sed -e "s#@DATA@#$DATA#g" "$SRC/deploy/config.production.toml" > "$ETC/config.toml"
  chmod 0640 "$ETC/config.toml"
  [ "$SYSTEM" = 1 ] && chown root:"$USER_NAME" "$ETC/config.toml"
  echo "install:   wrote $ETC/config.toml: edit it, then sistem48 check-config"
else
  echo "install:   kept $ETC/config.toml"
fi
if [ ! -e "$ETC/secrets.env" ]; then
  # Read by systemd as root when it starts the units; no other account can read it.
  (umask 077 && sed -e "s#@SECRET@#$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')#" \
    "$SRC/deploy/secrets.env.example" > "$ETC/secrets.env")
  echo "install:   wrote $ETC/secrets.env (0600): SIM PIN, SMTP and SIP passwords go there"
else
  echo "install:   kept $ETC/secrets.env"
fi

# Runs the sistem48 command of a release the way the units do: service user, secrets in the env,
# the units' UMask=0027 (the database it may create holds citizens' data: not world-readable).
as_service() {
  local bin="$1"; shift
  if [ "$SYSTEM" = 1 ]; then
    (set -a; . "$ETC/secrets.env"; set +a; umask 027; cd "$DATA" &&
      setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups "$bin" "$@" --config "$ETC/config.toml")
  else
    (set -a; . "$ETC/secrets.env"; set +a; cd "$DATA" && "$bin" "$@" --config "$ETC/config.toml")
  fi
}

step "backup before upgrade"
was_running=0
workers=""
if [ -x "$OPT/venv/bin/sistem48" ]; then
  if [ "$SYSTEMD" = 1 ] && systemctl is-active --quiet sistem48.service; then
    was_running=1
    workers="$(systemctl list-units --state=active --plain --no-legend 'sistem48-transcribe@*' | awk '{print $1}')"
    systemctl stop sistem48.service $workers
  elif [ "$SYSTEM" = 1 ] && [ "$SYSTEMD" = 0 ]; then
    echo "install:   systemd is not running here: nothing stopped (stop a gateway started by hand first)"
  fi
  snapshot="$BACKUPS/pre-upgrade-$(date -u +%Y%m%dT%H%M%SZ)"
  as_service "$OPT/venv/bin/sistem48" backup "$snapshot"
  readlink "$OPT/venv" > "$OPT/previous-release"
  echo "install:   backup in $snapshot; previous release noted in $OPT/previous-release"
else
  echo "install:   first install: nothing to back up"
fi

step "virtualenv $RELEASE"
"$PYTHON" -m venv "$RELEASE"
# shellcheck disable=SC2086 # PIP_ARGS is a list of words
# pipefail: a failed pip install stops the script here, with pip's own message.
"$RELEASE/bin/pip" install --quiet --disable-pip-version-check $PIP_ARGS "$SRC" 2>&1 | { grep -v '^WARNING: Location' || true; }
"$RELEASE/bin/sistem48" --help >/dev/null
install -d -m 0755 "$OPT/share"
cp -r "$SRC/deploy" "$SRC/docs" "$OPT/share/"
install -m 0644 "$SRC/gateway/defaults/config.example.toml" "$OPT/share/"

step "database migrations"
as_service "$RELEASE/bin/sistem48" db upgrade
# The switch is one rename of a symlink: the units always start one whole release.
# Relative, so the tree is the same seen from inside DIR (systemd-analyze --root) and from outside.
ln -sfn "releases/$(basename "$RELEASE")" "$OPT/venv.new" && mv -T "$OPT/venv.new" "$OPT/venv"

step "systemd units"
install -m 0644 "$SRC"/deploy/systemd/*.service "$SRC"/deploy/systemd/*.timer "$UNITS/"
if [ "$SYSTEMD" = 1 ]; then
  systemctl daemon-reload
  systemctl enable sistem48.service sistem48-backup.timer sistem48-healthmail.timer
  if [ "$was_running" = 1 ]; then
    systemctl start sistem48.service $workers
    echo "install:   upgraded to $VERSION and restarted"
  else
    echo "install:   done; start with: systemctl start sistem48 (and sistem48-transcribe@1)"
  fi
elif [ "$SYSTEM" = 1 ] && command -v systemctl >/dev/null; then
  # Offline: systemctl only writes the [Install] symlinks, as it does for packages in a chroot.
  systemctl enable sistem48.service sistem48-backup.timer sistem48-healthmail.timer 2>&1 | sed 's/^/install:   /'
  echo "install:   systemd is not running here (chroot or container): units enabled, nothing started"
elif [ "$SYSTEM" = 1 ]; then
  echo "install:   systemd is not installed: units copied to $UNITS, not enabled, nothing started"
else
  echo "install:   done under $ROOT"
fi

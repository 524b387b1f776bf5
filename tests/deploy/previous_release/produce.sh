#!/usr/bin/env bash
# Makes this folder's fixture by running the previous release's own code (docs in README.md here).
#   tests/deploy/previous_release/produce.sh [COMMIT]      run from the repository, with .venv ready
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
COMMIT="${1:-a79e03f}"
PG="${SISTEM48_TEST_PG_SERVER:-postgresql://postgres@127.0.0.1:5432}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git -C "$REPO" archive "$COMMIT" | tar -x -C "$work" --one-top-level=code
# The photo a citizen mails in: a real 32x24 JPEG, made with Pillow.
"$REPO/.venv/bin/python" -c "
from PIL import Image; Image.new('RGB', (32, 24), (200, 40, 40)).save('$work/rupa.jpg', quality=70)"
photo="$(base64 -w 76 "$work/rupa.jpg")"
cat > "$work/mail1.eml" <<MAIL
From: Jelena Petrović <jelena.petrovic@example.net>
To: prijave@example.rs
Subject: Rupa na putu u Ulici kralja Petra 12
Date: Tue, 01 Dec 2026 09:15:00 +0100
Message-ID: <rupa-1@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Poštovani, u Ulici kralja Petra 12 je velika rupa na kolovozu. Šaljem fotografiju.

--b1
Content-Type: image/jpeg; name="rupa.jpg"
Content-Disposition: attachment; filename="rupa.jpg"
Content-Transfer-Encoding: base64

$photo
--b1--
MAIL
cat > "$work/mail2.eml" <<MAIL
From: Jelena Petrović <jelena.petrovic@example.net>
To: prijave@example.rs
Subject: Re: Rupa na putu u Ulici kralja Petra 12
Date: Tue, 01 Dec 2026 10:02:00 +0100
Message-ID: <rupa-2@example.net>
In-Reply-To: <rupa-1@example.net>
References: <rupa-1@example.net>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Dopuna: rupa je odmah pored pešačkog prelaza.
MAIL

make_data() {  # $1 = database URL, $2 = data dir
  cat > "$work/config.toml" <<CONF
[gateway]
data_dir = "$2"
secret_env = "SISTEM48_SECRET"
[database]
url = "$1"
[mail]
accept_addresses = ["prijave@example.rs"]
CONF
  run() { (cd "$work/code" && SISTEM48_SECRET=fixture \
    PYTHONPATH="$work/code" "$REPO/.venv/bin/python" -c 'from gateway.cli import main; main()' "$@" -c "$work/config.toml"); }
  run db upgrade
  run inject mail "$work/mail1.eml"
  run inject mail "$work/mail2.eml"
  run inject sms +381641234567 "Ne radi javna rasveta u Njegoševoj 5 od juče."
}

rm -rf "$HERE/data" && mkdir -p "$HERE/data"
make_data "sqlite:///$HERE/data/sistem48.db" "$HERE/data"
rm -rf "$HERE/data/secret.key" "$HERE/data/blobs/tmp"

db="sistem48_previous_release_$$"
psql -q "$PG/postgres" -c "CREATE DATABASE $db"
make_data "postgresql+psycopg://postgres@127.0.0.1:5432/$db" "$work/pgdata"
pg_dump --no-owner --no-privileges "$PG/$db" > "$HERE/postgresql.sql"
psql -q "$PG/postgres" -c "DROP DATABASE $db"
echo "produced from $(git -C "$REPO" rev-parse "$COMMIT")"

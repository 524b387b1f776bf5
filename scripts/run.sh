#!/usr/bin/env bash
# Sets up and runs the gateway on its embedded defaults (config.example.toml): SQLite in ./var,
# API + web UI on http://127.0.0.1:8048, SMTP on 127.0.0.1:2525, a simulated modem, SIP on 127.0.0.1:5062.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run
exec .venv/bin/sistem48 run --config config.example.toml "$@"

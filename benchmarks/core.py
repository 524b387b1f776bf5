"""The real core as a benchmark's inbox: GatewayInbox over a fresh SQLite database (blobs fsync'd,
rows committed, tickets opened and threaded), so channel benchmarks measure the durable pipeline."""

from __future__ import annotations

from pathlib import Path

from channels.base import Inbox


def core_inbox(data_dir: Path) -> Inbox:
    from gateway.app import build_gateway
    from gateway.config import load_config
    from storage.db import upgrade

    data_dir.mkdir(parents=True, exist_ok=True)
    data = load_config(None).model_dump(mode="json")
    data["gateway"]["data_dir"] = str(data_dir)
    data["database"]["url"] = f"sqlite:///{data_dir}/bench.db"
    data["sms"]["enabled"] = data["sip"]["enabled"] = False
    from gateway.config import parse_config

    config = parse_config(data, "<bench>")
    upgrade(config.database_url())
    inbox: Inbox = build_gateway(config, roles=set()).inbox
    return inbox
